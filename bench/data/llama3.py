"""Second teacher: raw Llama-3 outputs for CQA and SVAMP (``teacher="llama3"``).

The files (``{cqa,svamp}/llama3/*.json``, see the data README, section "Second teacher") are
JSON arrays of ``{input, gen_label, org_label}`` aligned 1:1 with the DSS split order. Only
``gen_label`` (free text) is used; ``org_label`` is the *gold* label and is never read as the
teacher's. Which file serves each split:

* train (and valid, which DSS cuts from train): the ``random`` variant
  (``*_train_random_llama3.json``: two random train neighbours as few-shot examples; the
  target's label is not used);
* test: the only file there is, the ``rag`` variant (``*_test_llama3.json``), whose neighbours
  were retrieved with the target's gold label in the query: label-informed, so its test
  teacher accuracy is optimistic. Students are scored against gold, never against it.

Rationale and answer are extracted with the rules of :func:`parse_llama3` (ours, not a DSS
rule). An answer that cannot be extracted gives ``teacher_label=""``; the example is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bench.data.io import DataReader
from bench.errors import DataError

LLAMA3_FILES: dict[tuple[str, str], dict[str, str]] = {
    ("cqa", "train"): {"random": "cqa/llama3/cqa_train_random_llama3.json"},
    ("cqa", "test"): {"rag": "cqa/llama3/cqa_test_llama3.json"},
    ("svamp", "train"): {
        "random": "svamp/llama3/svamp_train_random_llama3.json",
        "rag": "svamp/llama3/svamp_train_llama3.json",
    },
    ("svamp", "test"): {"rag": "svamp/llama3/svamp_test_llama3.json"},
}
PREFERRED_VARIANTS = ("random", "rag")  # the loader takes the first one a split has
LLAMA3_HINT = "not in datasets.zip: see the data README, section 'Second teacher'"

_MARKER = re.compile(r"answer is|answer:", re.IGNORECASE)
_LEAD = re.compile(r"^\s*rationale\s*:\s*", re.IGNORECASE)
_CONNECTIVE = re.compile(r"(?:[\s,;:]*\b(?:hence|so|therefore|thus))?[\s,;:]*(?:\bthe)?\s*$", re.I)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_LETTER = re.compile(r"\(([a-e])\)", re.IGNORECASE)
_ANSWER_PREFIX = re.compile(r"^[\s:]*(?:answer\s*:)?\s*", re.IGNORECASE)


def loader_file(dataset: str, split: str) -> str:
    """The Llama-3 file the loader reads for ``split`` (``random`` where it exists)."""
    files = LLAMA3_FILES[(dataset, split)]
    return next(files[v] for v in PREFERRED_VARIANTS if v in files)


def read_llama3(reader: DataReader, rel: str, texts: Sequence[str], source: str) -> list[str]:
    """The ``gen_label`` texts of ``rel``, checked to align with the inputs ``texts``."""
    if not reader.exists(rel):
        raise reader.missing(rel, "Llama-3 outputs", hint=LLAMA3_HINT)
    records = reader.json_array(rel, dict)
    if len(records) != len(texts):
        raise DataError(
            f"{rel}: {len(records)} outputs, expected {len(texts)} (inputs of {source})"
        )
    outputs = []
    for i, record in enumerate(records):
        for key in ("input", "gen_label"):
            if not isinstance(record.get(key), str):
                raise DataError(f"{rel}: item {i} should have a string field {key!r}")
        if record["input"] != texts[i]:
            raise DataError(f"{rel}: item {i} input differs from example {i} of {source}")
        outputs.append(record["gen_label"])
    return outputs


def llama3_teacher(
    reader: DataReader,
    dataset: str,
    split: str,
    texts: Sequence[str],
    candidates: Sequence[Sequence[str]],
    source: str,
) -> list[tuple[str, str]]:
    """(rationale, answer) per input of ``split`` from the loader's Llama-3 file."""
    outputs = read_llama3(reader, loader_file(dataset, split), texts, source)
    return [parse_llama3(dataset, text, c) for text, c in zip(outputs, candidates, strict=True)]


def parse_llama3(dataset: str, text: str, candidates: Sequence[str] = ()) -> tuple[str, str]:
    """(rationale, answer) of one Llama-3 output; answer ``""`` when none is found.

    Rationale: the text before the first "answer is"/"answer:", without a leading
    "Rationale:" and a trailing "(hence|so|therefore|thus) the". Answer: see
    :func:`svamp_answer` and :func:`cqa_answer`.
    """
    markers = list(_MARKER.finditer(text))
    head = text[: markers[0].start()] if markers else text
    rationale = _CONNECTIVE.sub("", _LEAD.sub("", head)).strip()
    tail = text[markers[-1].end() :] if markers else None
    if dataset == "svamp":
        return rationale, svamp_answer(text, tail)
    return rationale, cqa_answer(text, tail, candidates)


def svamp_answer(text: str, tail: str | None) -> str:
    """SVAMP: on the line after the last answer marker, the number after its last "=" (else
    its first number); without a marker, the number after the last "=" of the text, or the
    text itself if it is a bare number."""
    if tail is not None:
        line = tail.strip().split("\n", 1)[0] if tail.strip() else ""
        return _number_after_equals(line) or _first_number(line)
    if "=" in text:
        return _number_after_equals(text)
    stripped = text.strip().rstrip(".")
    return _first_number(stripped) if _NUMBER.fullmatch(stripped) else ""


def _number_after_equals(text: str) -> str:
    return _first_number(text.rsplit("=", 1)[1]) if "=" in text else ""


def _first_number(text: str) -> str:
    match = _NUMBER.search(text)
    return match.group(0).replace(",", "") if match else ""


def cqa_answer(text: str, tail: str | None, candidates: Sequence[str]) -> str:
    """CQA, as a choice text: after the last answer marker, a "(x)" letter or a choice the
    tail starts with; else the first "(x)" of the text; else the only choice it mentions."""
    if tail is not None:
        answer = _letter_choice(tail, candidates) or _leading_choice(tail, candidates)
        if answer:
            return answer
    return _letter_choice(text, candidates) or _only_mentioned_choice(text, candidates)


def _letter_choice(text: str, candidates: Sequence[str]) -> str:
    match = _LETTER.search(text)
    if not match:
        return ""
    position = "abcde".index(match.group(1).lower())
    return candidates[position] if position < len(candidates) else ""


def _leading_choice(tail: str, candidates: Sequence[str]) -> str:
    start = _ANSWER_PREFIX.sub("", tail).lower()
    matches = [c for c in candidates if c and _word_at(start, c.lower(), 0)]
    return max(matches, key=len) if matches else ""


def _only_mentioned_choice(text: str, candidates: Sequence[str]) -> str:
    lowered = text.lower()
    mentioned = {c for c in candidates if c and _mentions(lowered, c.lower())}
    return mentioned.pop() if len(mentioned) == 1 else ""


def _mentions(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words."""
    position = text.find(phrase)
    while position >= 0:
        if _word_at(text, phrase, position):
            return True
        position = text.find(phrase, position + 1)
    return False


def _word_at(text: str, phrase: str, position: int) -> bool:
    """Whether ``phrase`` occurs at ``position`` of ``text`` with word boundaries around it."""
    end = position + len(phrase)
    if text[position:end] != phrase:
        return False
    before = text[position - 1] if position else " "
    after = text[end] if end < len(text) else " "
    return not (_is_word_char(before) or _is_word_char(after))


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"
