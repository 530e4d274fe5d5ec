"""The generated ``synth`` task: variable chasing with one-digit arithmetic modulo 10.

This is generator version 1 (``synth.version: 1``, the default, kept so that published runs
reproduce); version 2, with task families and clean defaults, is ``bench.data.synth_v2``.

A problem is a chain of ``steps`` assignments over distinct random letters, listed in shuffled
order so that the model has to chase the variables; the rationale states every step in order,
with the values substituted, so it carries the intermediate results the label alone does not::

    input:     "q=3; x=k*7; m=x-5; k=q+4; what is m?"
    rationale: "k=q+4=3+4=7. x=k*7=7*7=9. m=x-5=9-5=4."
    label:     "4"

All arithmetic is modulo 10 (``7*7=9``), so every value is one digit. Multipliers are 3, 7 or 9
and addends/subtrahends 1..9, so each step is a bijection of the digits: one miscomputed step
always leads to a wrong final answer. The answer is a digit; ``candidates`` holds
``n_candidates`` distinct digits (the gold, the teacher's answer, seeded distractors), sorted.

Teacher noise: exactly ``round(teacher_error * n_train)`` train examples (chosen by the seed)
get a rationale with one step miscomputed (off by a non-zero digit) and the later steps
recomputed from the wrong value, and the matching wrong ``teacher_label``. Valid and test
rationales and teacher labels are always correct. ``label`` is the gold answer, or under
``label_type=llm`` the teacher's answer on train (valid/test labels stay gold).

Every example comes from its own ``random.Random`` stream keyed by (seed, split, index), so the
same settings give identical examples, changing one split's size never changes another split,
and a larger split extends a smaller one with the same problems. The problems do not depend on
``teacher_error``; which train examples are wrong is drawn from a separate stream.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from bench.data.example import DatasetSplits, Example
from bench.data.options import LABEL_TYPES, LoadOptions, SynthConfig
from bench.data.registry import DATASETS
from bench.errors import ConfigError, check_choice

VERSION = "synth-v1"
MODULUS = 10
MULTIPLIERS = (3, 7, 9)  # units mod 10: multiplying by them is a bijection of the digits
MAX_STEPS = len(string.ascii_lowercase) - 1  # one distinct letter per variable


@dataclass(frozen=True)
class Problem:
    """One chain ``names[0]=start; names[i+1]=names[i] <op_i> <operand_i>``."""

    names: tuple[str, ...]
    start: int
    ops: tuple[tuple[str, int], ...]  # (operator, operand) of each step

    def values(self, error_step: int | None = None, error_offset: int = 0) -> tuple[int, ...]:
        """The value of every variable, with ``error_offset`` added to step ``error_step``.

        >>> Problem(("a", "b"), 3, (("*", 7),)).values()
        (3, 1)
        """
        values = [self.start]
        for step, (op, operand) in enumerate(self.ops):
            value = apply_op(values[-1], op, operand)
            if step == error_step:
                value = (value + error_offset) % MODULUS
            values.append(value)
        return tuple(values)

    def statements(self) -> tuple[str, ...]:
        """The assignments in chain order.

        >>> Problem(("a", "b"), 3, (("+", 4),)).statements()
        ('a=3', 'b=a+4')
        """
        steps = (
            f"{new}={old}{op}{k}"
            for old, new, (op, k) in zip(self.names[:-1], self.names[1:], self.ops, strict=True)
        )
        return (f"{self.names[0]}={self.start}", *steps)


def apply_op(value: int, op: str, operand: int) -> int:
    """``value <op> operand`` modulo 10.

    >>> apply_op(7, "*", 7), apply_op(1, "-", 5)
    (9, 6)
    """
    if op == "+":
        return (value + operand) % MODULUS
    if op == "-":
        return (value - operand) % MODULUS
    if op == "*":
        return (value * operand) % MODULUS
    raise ValueError(f"unknown operator {op!r}")


def make_problem(rng: random.Random, steps: int) -> Problem:
    """A random chain of ``steps`` operations over ``steps + 1`` distinct letters."""
    names = tuple(rng.sample(string.ascii_lowercase, steps + 1))
    start = rng.randrange(MODULUS)
    ops = []
    for _ in range(steps):
        op = rng.choice("+-*")
        ops.append((op, rng.choice(MULTIPLIERS) if op == "*" else rng.randint(1, MODULUS - 1)))
    return Problem(names, start, tuple(ops))


def format_input(problem: Problem, rng: random.Random) -> str:
    """The question: the statements in shuffled order, then ``what is <last>?``."""
    statements = list(problem.statements())
    rng.shuffle(statements)
    return "; ".join(statements) + f"; what is {problem.names[-1]}?"


def format_rationale(problem: Problem, values: tuple[int, ...]) -> str:
    """Every step in chain order with the (possibly wrong) ``values`` substituted.

    >>> format_rationale(Problem(("a", "b"), 3, (("+", 4),)), (3, 7))
    'b=a+4=3+4=7.'
    """
    return " ".join(
        f"{new}={old}{op}{k}={before}{op}{k}={after}."
        for old, new, (op, k), before, after in zip(
            problem.names[:-1], problem.names[1:], problem.ops, values[:-1], values[1:], strict=True
        )
    )


# version-2 keys and the only values version 1 accepts (it has none of their behaviour)
V2_KEYS = {
    "family": "chain",
    "distractors": 0,
    "n_lists": 3,
    "list_len": 3,
    "combine": "sum",
    "trace": "final",
    "spaced_digits": False,
}
VERSIONS = (1, 2)


def _check_config(config: SynthConfig, label_type: str) -> None:
    for name in ("n_train", "n_valid", "n_test"):
        value = getattr(config, name)
        if not _is_int(value) or value < 1:
            raise ConfigError(f"synth.{name}: expected an integer >= 1, got {value!r}")
    if not _is_int(config.steps) or not 1 <= config.steps <= MAX_STEPS:
        raise ConfigError(
            f"synth.steps: expected an integer in [1, {MAX_STEPS}], got {config.steps!r}"
        )
    error = config.teacher_error
    if not isinstance(error, int | float) or isinstance(error, bool) or not 0.0 <= error <= 1.0:
        raise ConfigError(f"synth.teacher_error: expected a fraction in [0, 1], got {error!r}")
    if not _is_int(config.n_candidates) or not 2 <= config.n_candidates <= MODULUS:
        raise ConfigError(
            f"synth.n_candidates: expected an integer in [2, {MODULUS}] (answers are digits), "
            f"got {config.n_candidates!r}"
        )
    if not _is_int(config.seed):
        raise ConfigError(f"synth.seed: expected an integer, got {config.seed!r}")
    check_choice("synth.version", config.version, VERSIONS)
    if config.version == 1:
        for name, value in V2_KEYS.items():
            if getattr(config, name) != value:
                raise ConfigError(f"synth.{name}: needs synth.version=2 (version 1 has no {name})")
    check_choice("label_type", label_type, LABEL_TYPES)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _example(
    config: SynthConfig, split: str, index: int, wrong: bool, use_teacher: bool
) -> Example:
    key = f"{VERSION}/{config.seed}/{split}/{index}"
    rng = random.Random(key)
    problem = make_problem(rng, config.steps)
    text = format_input(problem, rng)
    gold_values = problem.values()
    values = gold_values
    if wrong:
        error_rng = random.Random(f"{key}/error")
        values = problem.values(
            error_rng.randrange(config.steps), error_rng.randint(1, MODULUS - 1)
        )
    gold, teacher = str(gold_values[-1]), str(values[-1])
    others = [str(d) for d in range(MODULUS) if str(d) not in {gold, teacher}]
    chosen = {gold, teacher} | set(rng.sample(others, config.n_candidates - len({gold, teacher})))
    return Example(
        id=f"synth-{split}-{index:06d}",
        input_parts=(text,),
        label=teacher if use_teacher else gold,
        rationale=format_rationale(problem, values),
        teacher_label=teacher,
        gold=gold,
        candidates=tuple(sorted(chosen, key=int)),
    )


@DATASETS.register("synth")
def load_synth(options: LoadOptions) -> DatasetSplits:
    """Generate the ``synth`` splits from ``options.synth`` (see the module docstring; version
    2 in ``bench.data.synth_v2``)."""
    config = options.synth.resolved()
    _check_config(config, options.label_type)
    if config.version == 2:
        from bench.data.synth_v2 import load_v2  # imports this module's chain helpers

        return load_v2(options)
    knobs = f"steps={config.steps}"
    return generated_splits(config, options.label_type, _example, (VERSION, VERSION), knobs)


def generated_splits(
    config: SynthConfig,
    label_type: str,
    make: Callable[[SynthConfig, str, int, bool, bool], Example],
    names: tuple[str, str],
    knobs: str,
) -> DatasetSplits:
    """The splits of a generator version: ``make(config, split, index, wrong, use_teacher)``
    builds each example; the teacher is wrong on a ``teacher_error`` fraction of the train
    examples, drawn from the random stream ``<stream>/<seed>/train/errors``. ``names``:
    (stream, generator name); the sources describe the data by that name and ``knobs``."""
    stream, name = names
    n_wrong = round(config.teacher_error * config.n_train)
    errors = random.Random(f"{stream}/{config.seed}/train/errors")
    wrong = set(errors.sample(range(config.n_train), n_wrong))
    use_teacher = label_type == "llm"
    train = tuple(make(config, "train", i, i in wrong, use_teacher) for i in range(config.n_train))
    valid = tuple(make(config, "valid", i, False, False) for i in range(config.n_valid))
    test = tuple(make(config, "test", i, False, False) for i in range(config.n_test))
    generator = (
        f"{name} n_train={config.n_train} n_valid={config.n_valid} n_test={config.n_test} "
        f"{knobs} teacher_error={config.teacher_error} n_candidates={config.n_candidates} "
        f"seed={config.seed}"
    )
    return DatasetSplits("synth", train, valid, test, "closed", "exact", {"generator": generator})
