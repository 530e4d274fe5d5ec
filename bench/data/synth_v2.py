"""Generator version 2 of ``synth`` (``synth.version: 2``): task families where the rationale
carries what the label alone does not, with clean defaults (``teacher_error`` 0).

Two families (``synth.family``), each with knobs; all arithmetic is modulo 10 as in version 1:

- ``chain``: variable chasing (``steps`` relevant steps) among ``distractors`` further chains of
  the same length over other letters, every statement in one shuffled list; the rationale names
  only the chain that leads to the asked variable (evidence selection)::

      input:     "p=6; q=2; x=q*3; k=p+4; what is x?"
      rationale: "x=q*3=2*3=6."
      label:     "6"

- ``features``: ``n_lists`` digit lists ``a``, ``b``, ``c`` (``list_len`` digits each, written
  without separators so that a character tokenizer gives one token per digit); list ``a``'s
  feature is its maximum, ``b``'s its digit sum mod 10, ``c``'s its count of even digits. The
  label combines the features non-linearly, so no single feature predicts it: ``combine: sum``
  (their sum mod 10) or ``parity`` (that sum's parity, an XOR of the features' low bits). The
  combination is fixed for the task, so the input states only the lists (short inputs keep a
  run on one CPU core within minutes). The rationale states each feature, then the combination::

      input:     "a=381; b=527; c=906"
      rationale: "max a=8. sum b=4. even c=2. 8+4+2=4."
      label:     "4"
      (parity: rationale "... 8+4+2=4. 4%2=0.", label "0")

  ``trace: running`` writes the max and the even count as their running values after each
  digit, and the digit sum and the combination as running sums with every addition written
  out, so that each step of the rationale is one digit operation on what it has just written::

      rationale: "max a=3,8,8. sum b=5+2=7+7=4. even c=0,1,2. 8+4=2+2=4."

Teacher noise (``teacher_error``, 0 unless set): exactly ``round(teacher_error * n_train)``
train examples (chosen by the seed) get one step (chain) or one feature (features) off by a
non-zero digit, the rest recomputed from it, and the matching wrong ``teacher_label``; parity
errors use an odd offset so that the label flips. Candidates: ``min(n_candidates, answers)``
distinct answers (the gold, the teacher's, seeded others), sorted; parity has two answers.

Every example comes from its own ``random.Random`` stream keyed by (version, family, seed, split,
index), so the splits are independent and a larger split extends a smaller one, as in version 1.
"""

from __future__ import annotations

import random
import string

from bench.data.example import DatasetSplits, Example
from bench.data.options import LoadOptions, SynthConfig
from bench.data.synth import (
    MODULUS,
    Problem,
    format_rationale,
    generated_splits,
    make_problem,
)
from bench.errors import ConfigError, check_choice

VERSION = "synth-v2"
FAMILIES = ("chain", "features")
COMBINES = ("sum", "parity")
TRACES = ("final", "running")
LIST_NAMES = ("a", "b", "c")
FEATURES = ("max", "sum", "even")  # the feature of list a, b, c
MAX_LIST_LEN = 9  # a count of even digits stays one digit


def feature(name: str, digits: tuple[int, ...]) -> int:
    """One list's feature, a digit.

    >>> feature("max", (3, 8, 1)), feature("sum", (5, 2, 7)), feature("even", (9, 0, 6))
    (8, 4, 2)
    """
    if name == "max":
        return max(digits)
    if name == "sum":
        return sum(digits) % MODULUS
    if name == "even":
        return sum(1 for d in digits if d % 2 == 0)
    raise ValueError(f"unknown feature {name!r}")


def running_feature(name: str, digits: tuple[int, ...]) -> list[int]:
    """The feature of every prefix of ``digits`` (the last one is :func:`feature`).

    >>> running_feature("max", (3, 8, 1)), running_feature("sum", (5, 2, 7))
    ([3, 8, 8], [5, 7, 4])
    >>> running_feature("even", (9, 0, 6))
    [0, 1, 2]
    """
    return [feature(name, digits[: i + 1]) for i in range(len(digits))]


def running_sum(terms: list[int], result: int | None = None) -> str:
    """Each term added to the running total mod 10, every addition written out; ``result``
    (a teacher's error) replaces the last total.

    >>> running_sum([5, 2, 7]), running_sum([5, 2, 7], result=9), running_sum([8])
    ('5+2=7+7=4', '5+2=7+7=9', '8=8')
    """
    totals = [sum(terms[: i + 1]) % MODULUS for i in range(len(terms))]
    if result is not None:
        totals[-1] = result
    if len(terms) == 1:
        return f"{terms[0]}={totals[0]}"
    steps = zip(terms[1:], totals[1:], strict=True)
    return str(terms[0]) + "".join(f"+{term}={total}" for term, total in steps)


def _feature_steps(
    config: SynthConfig, lists: list[tuple[int, ...]], values: list[int]
) -> list[str]:
    """The rationale's sentences for the features ``values`` (one may be the teacher's error,
    written as a wrong last step) and their combination."""
    total = sum(values) % MODULUS
    if config.trace == "final":
        steps = [f"{FEATURES[i]} {LIST_NAMES[i]}={v}." for i, v in enumerate(values)]
        steps.append(f"{'+'.join(map(str, values))}={total}.")
    else:
        steps = []
        for i, (digits, value) in enumerate(zip(lists, values, strict=True)):
            if FEATURES[i] == "sum":
                trace = running_sum(list(digits), result=value)
            else:
                trace = ",".join(map(str, [*running_feature(FEATURES[i], digits)[:-1], value]))
            steps.append(f"{FEATURES[i]} {LIST_NAMES[i]}={trace}.")
        steps.append(f"{running_sum(values)}.")
    if config.combine == "parity":
        steps.append(f"{total}%2={total % 2}.")
    return steps


def features_problem(
    config: SynthConfig, rng: random.Random, error: random.Random | None
) -> tuple[str, str, int, int]:
    """(input, rationale, gold, teacher answer) of one ``features`` problem.

    ``error``, when given, draws the miscomputed feature and its offset.
    """
    lists = [
        tuple(rng.randrange(MODULUS) for _ in range(config.list_len)) for _ in range(config.n_lists)
    ]
    gold_values = [feature(FEATURES[i], digits) for i, digits in enumerate(lists)]
    values = list(gold_values)
    if error is not None:
        wrong = error.randrange(config.n_lists)
        offsets = range(1, MODULUS, 2) if config.combine == "parity" else range(1, MODULUS)
        values[wrong] = (values[wrong] + error.choice(offsets)) % MODULUS
    between = " " if config.spaced_digits else ""
    text = "; ".join(
        f"{name}={between.join(map(str, digits))}"
        for name, digits in zip(LIST_NAMES, lists, strict=False)
    )

    def answer(features: list[int]) -> int:
        total = sum(features) % MODULUS
        return total % 2 if config.combine == "parity" else total

    steps = _feature_steps(config, lists, values)
    return text, " ".join(steps), answer(gold_values), answer(values)


def chain_problem(
    config: SynthConfig, rng: random.Random, error: random.Random | None
) -> tuple[str, str, int, int]:
    """(input, rationale, gold, teacher answer) of one ``chain`` problem with distractors."""
    size = config.steps + 1
    letters = rng.sample(string.ascii_lowercase, size * (config.distractors + 1))
    chains = [
        _named(make_problem(rng, config.steps), tuple(letters[i * size : (i + 1) * size]))
        for i in range(config.distractors + 1)
    ]
    statements = [s for chain in chains for s in chain.statements()]
    rng.shuffle(statements)
    asked = chains[0]  # the relevant chain; its letters were drawn at random like the others'
    text = "; ".join(statements) + f"; what is {asked.names[-1]}?"
    gold_values = asked.values()
    values = gold_values
    if error is not None:
        values = asked.values(error.randrange(config.steps), error.randint(1, MODULUS - 1))
    return text, format_rationale(asked, values), gold_values[-1], values[-1]


def _named(problem: Problem, names: tuple[str, ...]) -> Problem:
    return Problem(names, problem.start, problem.ops)


PROBLEMS = {"chain": chain_problem, "features": features_problem}


def check_config(config: SynthConfig) -> None:
    """ConfigError for a version-2 knob out of range (the shared keys are checked by the caller)."""
    check_choice("synth.family", config.family, FAMILIES)
    check_choice("synth.combine", config.combine, COMBINES)
    check_choice("synth.trace", config.trace, TRACES)
    if not isinstance(config.spaced_digits, bool):
        raise ConfigError(
            f"synth.spaced_digits: expected true or false, got {config.spaced_digits!r}"
        )
    if config.spaced_digits and config.family != "features":
        raise ConfigError("synth.spaced_digits: applies to synth.family=features (digit lists)")
    if not _is_int(config.n_lists) or not 1 <= config.n_lists <= len(LIST_NAMES):
        raise ConfigError(
            f"synth.n_lists: expected an integer in [1, {len(LIST_NAMES)}], got {config.n_lists!r}"
        )
    if not _is_int(config.list_len) or not 1 <= config.list_len <= MAX_LIST_LEN:
        raise ConfigError(
            f"synth.list_len: expected an integer in [1, {MAX_LIST_LEN}], got {config.list_len!r}"
        )
    letters = len(string.ascii_lowercase)
    if not _is_int(config.distractors) or config.distractors < 0:
        raise ConfigError(
            f"synth.distractors: expected an integer >= 0, got {config.distractors!r}"
        )
    if (config.distractors + 1) * (config.steps + 1) > letters:
        raise ConfigError(
            f"synth.distractors: {config.distractors} chains of {config.steps} steps need "
            f"{(config.distractors + 1) * (config.steps + 1)} distinct letters; there are {letters}"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def answer_space(config: SynthConfig) -> tuple[str, ...]:
    """Every possible answer of the family, in order."""
    if config.family == "features" and config.combine == "parity":
        return ("0", "1")
    return tuple(str(d) for d in range(MODULUS))


def _example(
    config: SynthConfig, split: str, index: int, wrong: bool, use_teacher: bool
) -> Example:
    key = f"{VERSION}/{config.family}/{config.seed}/{split}/{index}"
    rng = random.Random(key)
    error = random.Random(f"{key}/error") if wrong else None
    text, rationale, gold_value, teacher_value = PROBLEMS[config.family](config, rng, error)
    gold, teacher = str(gold_value), str(teacher_value)
    space = answer_space(config)
    n = min(config.n_candidates, len(space))
    others = [a for a in space if a not in {gold, teacher}]
    chosen = {gold, teacher} | set(rng.sample(others, n - len({gold, teacher})))
    return Example(
        id=f"synth-{split}-{index:06d}",
        input_parts=(text,),
        label=teacher if use_teacher else gold,
        rationale=rationale,
        teacher_label=teacher,
        gold=gold,
        candidates=tuple(a for a in space if a in chosen),
    )


def load_v2(options: LoadOptions) -> DatasetSplits:
    """The version-2 splits of ``options.synth`` (already checked by ``load_synth``)."""
    config = options.synth.resolved()
    check_config(config)
    knobs = (
        f"steps={config.steps} distractors={config.distractors}"
        if config.family == "chain"
        else (
            f"n_lists={config.n_lists} list_len={config.list_len} combine={config.combine} "
            f"trace={config.trace}"
        )
    )
    names = (f"{VERSION}/{config.family}", f"{VERSION} family={config.family}")
    return generated_splits(config, options.label_type, _example, names, knobs)
