"""The four DSS benchmarks (``cqa``, ``svamp``, ``esnli``, ``anli1``) with teacher rationales.

Mirrors ``data_utils.py`` and ``run.py`` of https://github.com/google-research/distilling-step-by-step
(commit ef94426); the layout of the data directory is described in its README.

* Inputs: CQA ``question + "\\nAnswer Choices:\\n(a) ...\\n(e) ..."`` with the answer text as label;
  SVAMP ``input`` (``Body\\nQuestion``) with the equation string as label; NLI
  ``(premise, hypothesis)`` with 0/1/2 mapped to entailment/neutral/contradiction.
* PaLM outputs: output ``k`` of ``llm/{split}_CoT_{i}.json`` belongs to example
  ``i * batch_size + k``; each is parsed with the DSS rule of its dataset
  (:mod:`bench.data.parsers`).
* ``label_type="llm"`` replaces the *train* labels by the teacher's; valid and test keep gold
  (``run.py`` replaces ``label`` of ``datasets['train']`` only, after the valid split).
* CQA and SVAMP have no valid file: valid is ``Dataset.train_test_split(test_size=0.1, seed=0)``
  of train, computed with the ``datasets`` library so that it is the same split, in the same
  order, as DSS's.
* Failed parses: DSS keeps every example and trains on whatever its parser returned (a blank
  label ``" "``/``""``, an empty rationale). So does this loader: no example is dropped, and
  ``teacher_label``/``rationale`` hold the parser's return value unchanged.

Train inputs of e-SNLI and ANLI1 are incomplete in the offline copy. When the upstream
``{name}_train.json`` is present (e.g. after ``bench data fetch``) it is used; otherwise
e-SNLI train is ``reconstructed/esnli_train_first10000.json`` (idx 0-9,999, gold labels) and
ANLI1 train is ``reconstructed/anli1_train_first1000.json`` for ``label_type="gt"`` and
``reconstructed/anli1_train_inputs_partial.json`` (PaLM labels; gold only for idx < 1000,
``gold=None`` elsewhere) for ``label_type="llm"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.data.example import DatasetSplits, Example
from bench.data.io import DataReader, JsonLines
from bench.data.llama3 import llama3_teacher
from bench.data.options import LABEL_TYPES, TEACHERS, LoadOptions
from bench.data.parsers import NLI_LABELS, PALM_PARSERS
from bench.data.registry import DATASETS
from bench.errors import ConfigError, DataError, check_choice

LLAMA3_DATASETS = ("cqa", "svamp")


@dataclass(frozen=True)
class DssSpec:
    """One DSS benchmark: CoT batch size, splits and sizes in the paper's setting."""

    name: str
    batch_size: int  # PaLM outputs per ``{split}_CoT_{i}.json``
    paper_sizes: dict[str, int]  # split -> inputs DSS uses ("full" setting)
    kind: str
    metric: str
    # label_type -> reconstructed train inputs used when the upstream train file is absent
    reconstructed: dict[str, str]

    @property
    def has_valid(self) -> bool:
        """Whether DSS reads a valid file (else valid = 10% of train)."""
        return "valid" in self.paper_sizes

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits with input files, in DSS order."""
        return tuple(self.paper_sizes)

    def upstream(self, split: str) -> str:
        """Relative path of the DSS input file of ``split``."""
        return f"{self.name}/{self.name}_{split}.json"

    def cot_file(self, split: str, batch: int) -> str:
        """Relative path of PaLM output batch ``batch`` of ``split``."""
        return f"{self.name}/llm/{split}_CoT_{batch}.json"


SPECS: dict[str, DssSpec] = {
    "cqa": DssSpec("cqa", 1000, {"train": 9741, "test": 1221}, "closed", "exact", {}),
    "svamp": DssSpec("svamp", 500, {"train": 800, "test": 200}, "open", "equation", {}),
    "esnli": DssSpec(
        "esnli",
        5500,
        {"train": 549_367, "valid": 9842, "test": 9824},
        "closed",
        "exact",
        {
            "gt": "esnli/reconstructed/esnli_train_first10000.json",
            "llm": "esnli/reconstructed/esnli_train_first10000.json",
        },
    ),
    "anli1": DssSpec(
        "anli1",
        5000,
        {"train": 16_946, "valid": 1000, "test": 1000},
        "closed",
        "exact",
        {
            "gt": "anli1/reconstructed/anli1_train_first1000.json",
            "llm": "anli1/reconstructed/anli1_train_inputs_partial.json",
        },
    ),
}

# Reconstructed files read by ``bench data check`` besides the ones a loader uses.
EXTRA_INPUTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("esnli", "train"): ("esnli/reconstructed/esnli_train_sparse_extra.json",),
}


@dataclass(frozen=True)
class InputRow:
    """One input of a split: its position ``idx`` in DSS's order (which aligns the CoT)."""

    idx: int
    parts: tuple[str, ...]
    gold: str | None
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class InputSet:
    """The inputs read from one file; ``total`` = examples in the DSS split it belongs to."""

    path: str
    rows: tuple[InputRow, ...]
    total: int


def check_options(spec: DssSpec, options: LoadOptions) -> None:
    """ConfigError for a teacher or label type that cannot be served for ``spec``."""
    check_choice("teacher", options.teacher, TEACHERS)
    check_choice("label_type", options.label_type, LABEL_TYPES)
    if options.teacher == "llama3" and spec.name not in LLAMA3_DATASETS:
        raise ConfigError(
            f"teacher 'llama3' has no outputs for {spec.name} (only for "
            f"{', '.join(LLAMA3_DATASETS)}); use teacher 'palm'"
        )


def input_candidates(spec: DssSpec, split: str, label_type: str) -> list[str]:
    """Input files of ``split`` in order of preference: upstream, then reconstructed."""
    files = [spec.upstream(split)]
    if split == "train" and label_type in spec.reconstructed:
        files.append(spec.reconstructed[label_type])
    return files


def read_inputs(reader: DataReader, spec: DssSpec, split: str, label_type: str) -> InputSet:
    """The inputs of ``split`` from the first present candidate file."""
    files = input_candidates(spec, split, label_type)
    for rel in files:
        if reader.exists(rel):
            return read_input_file(reader, spec, split, rel, gold_required=label_type == "gt")
    alternative = files[1] if len(files) > 1 else None
    raise reader.missing(files[0], f"{split} inputs", alternative)


def read_input_file(
    reader: DataReader, spec: DssSpec, split: str, rel: str, *, gold_required: bool = True
) -> InputSet:
    """Parse one input file (verbatim or reconstructed) of ``split``."""
    records = reader.json_lines(rel, f"{split} inputs")
    build = _ROW_BUILDERS[spec.name]
    rows = tuple(build(records, i) for i in range(len(records)))
    total = len(rows) if rel == spec.upstream(split) else spec.paper_sizes[split]
    if rel != spec.upstream(split):
        _check_indices(records, rows, total)
    if gold_required:
        for i, row in enumerate(rows):
            if row.gold is None:
                raise DataError(f"{records.where(i)}: label is null; gold labels are required")
    return InputSet(rel, rows, total)


def _check_indices(records: JsonLines, rows: Sequence[InputRow], total: int) -> None:
    previous = -1
    for i, row in enumerate(rows):
        if not previous < row.idx < total:
            raise DataError(
                f"{records.where(i)}: idx {row.idx} should be increasing and below {total}"
            )
        previous = row.idx


def _cqa_row(records: JsonLines, i: int) -> InputRow:
    choices = records.get(i, "choices", list)
    if len(choices) != 5 or not all(isinstance(c, str) for c in choices):
        raise DataError(f"{records.where(i)}: field 'choices' should be a list of 5 strings")
    options = "\n".join(f"({letter}) {text}" for letter, text in zip("abcde", choices, strict=True))
    text = f"{records.get(i, 'question')}\nAnswer Choices:\n{options}"
    return InputRow(i, (text,), records.get(i, "answer"), tuple(choices))


def _svamp_row(records: JsonLines, i: int) -> InputRow:
    return InputRow(i, (records.get(i, "input"),), records.get(i, "label"), ())


def _nli_row(records: JsonLines, i: int) -> InputRow:
    idx = records.get(i, "idx", int) if "idx" in records.rows[i] else i
    label = records.get(i, "label", (int, type(None)))
    if label is not None and label not in range(len(NLI_LABELS)):
        raise DataError(f"{records.where(i)}: label should be 0, 1 or 2, got {label}")
    premise, hypothesis = records.get(i, "premise"), records.get(i, "hypothesis")
    gold = None if label is None else NLI_LABELS[label]
    return InputRow(idx, (premise, hypothesis), gold, NLI_LABELS)


_ROW_BUILDERS: dict[str, Callable[[JsonLines, int], InputRow]] = {
    "cqa": _cqa_row,
    "svamp": _svamp_row,
    "esnli": _nli_row,
    "anli1": _nli_row,
}


def palm_batches(
    reader: DataReader, spec: DssSpec, split: str, inputs: InputSet, batches: Sequence[int]
) -> dict[int, list[str]]:
    """PaLM output batches of ``split``, each checked to hold as many outputs as inputs."""
    size = spec.batch_size
    out: dict[int, list[str]] = {}
    for batch in batches:
        rel = spec.cot_file(split, batch)
        if not reader.exists(rel):
            raise reader.missing(rel, f"PaLM {split} outputs")
        outputs = reader.json_array(rel, str)
        expected = min(size, inputs.total - batch * size)
        if len(outputs) != expected:
            first = batch * size
            raise DataError(
                f"{rel}: {len(outputs)} outputs, expected {expected} for examples "
                f"{first}-{first + expected - 1} of {inputs.path} ({inputs.total} in the split)"
            )
        out[batch] = outputs
    return out


def all_palm_outputs(reader: DataReader, spec: DssSpec, split: str, inputs: InputSet) -> list[str]:
    """Every PaLM output of ``split`` (all batches), in example order."""
    count = math.ceil(inputs.total / spec.batch_size)
    batches = palm_batches(reader, spec, split, inputs, range(count))
    return [output for batch in range(count) for output in batches[batch]]


def palm_teacher(
    reader: DataReader, spec: DssSpec, split: str, inputs: InputSet
) -> list[tuple[str, str]]:
    """(rationale, teacher label) of every input row, parsed with the DSS rule."""
    size = spec.batch_size
    batches = palm_batches(
        reader, spec, split, inputs, sorted({r.idx // size for r in inputs.rows})
    )
    parse = PALM_PARSERS[spec.name]
    return [parse(batches[row.idx // size][row.idx % size]) for row in inputs.rows]


def teacher_outputs(
    reader: DataReader, spec: DssSpec, split: str, inputs: InputSet, teacher: str
) -> list[tuple[str, str]]:
    """(rationale, teacher label) per input row from ``teacher``."""
    if teacher == "palm":
        return palm_teacher(reader, spec, split, inputs)
    texts = [row.parts[0] for row in inputs.rows]
    candidates = [row.candidates for row in inputs.rows]
    return llama3_teacher(reader, spec.name, split, texts, candidates, inputs.path)


def dss_valid_split(n: int, source: str) -> tuple[list[int], list[int]]:
    """(train, valid) positions of DSS's ``train_test_split(test_size=0.1, seed=0)`` of ``n``
    train examples (read from ``source``), in DSS's order."""
    from datasets import Dataset  # imported here: ~1 s, needed by CQA and SVAMP only

    try:
        parts = Dataset.from_dict({"i": list(range(n))}).train_test_split(test_size=0.1, seed=0)
    except ValueError:
        raise DataError(f"{source}: {n} train example(s), too few to cut a valid split") from None
    return parts["train"][:]["i"], parts["test"][:]["i"]  # [:] reads the column at once


def _examples(
    spec: DssSpec,
    split: str,
    inputs: InputSet,
    outputs: Sequence[tuple[str, str]],
    teacher_labels: bool,
    positions: Sequence[int] | None = None,
) -> tuple[Example, ...]:
    """Examples of the rows at ``positions`` (all by default); label = teacher's or gold."""
    chosen = range(len(inputs.rows)) if positions is None else positions
    examples = []
    for i in chosen:
        row, (rationale, teacher_label) = inputs.rows[i], outputs[i]
        examples.append(
            Example(
                id=f"{spec.name}-{split}-{row.idx}",
                input_parts=row.parts,
                label=teacher_label if teacher_labels else row.gold,
                rationale=rationale,
                teacher_label=teacher_label,
                gold=row.gold,
                candidates=row.candidates,
            )
        )
    return tuple(examples)


def load_dss(name: str, options: LoadOptions) -> DatasetSplits:
    """Load DSS benchmark ``name`` for ``options`` (teacher, label type, data directory)."""
    spec = SPECS[name]
    check_options(spec, options)
    reader = DataReader(options.data_dir, name)
    llm = options.label_type == "llm"
    loaded = {}
    for split in spec.splits:
        inputs = read_inputs(reader, spec, split, options.label_type if split == "train" else "gt")
        loaded[split] = (inputs, teacher_outputs(reader, spec, split, inputs, options.teacher))
    test = _examples(spec, "test", *loaded["test"], teacher_labels=False)
    if spec.has_valid:
        train = _examples(spec, "train", *loaded["train"], teacher_labels=llm)
        valid = _examples(spec, "valid", *loaded["valid"], teacher_labels=False)
    else:
        # valid is cut from train (DSS run.py); its ids keep the train file's positions
        train_inputs = loaded["train"][0]
        train_pos, valid_pos = dss_valid_split(len(train_inputs.rows), train_inputs.path)
        train = _examples(spec, "train", *loaded["train"], teacher_labels=llm, positions=train_pos)
        valid = _examples(
            spec, "train", *loaded["train"], teacher_labels=False, positions=valid_pos
        )
    return DatasetSplits(name, train, valid, test, spec.kind, spec.metric, dict(reader.sources))


@DATASETS.register("cqa")
def load_cqa(options: LoadOptions) -> DatasetSplits:
    """CommonsenseQA (CoS-E v1.11): train 9,741 (90% train, 10% valid), test 1,221."""
    return load_dss("cqa", options)


@DATASETS.register("svamp")
def load_svamp(options: LoadOptions) -> DatasetSplits:
    """SVAMP: train 800 (90% train, 10% valid), test 200; labels are equations."""
    return load_dss("svamp", options)


@DATASETS.register("esnli")
def load_esnli(options: LoadOptions) -> DatasetSplits:
    """e-SNLI: train (upstream file, else the first 10,000 reconstructed), valid, test."""
    return load_dss("esnli", options)


@DATASETS.register("anli1")
def load_anli1(options: LoadOptions) -> DatasetSplits:
    """ANLI round 1: train (upstream file, else reconstructed per label type), valid, test."""
    return load_dss("anli1", options)
