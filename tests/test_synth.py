"""The generated ``synth`` task: determinism, split independence, arithmetic, teacher noise."""

from __future__ import annotations

import doctest
import re
from dataclasses import replace
from pathlib import Path

import pytest

from bench.data import synth
from bench.data.example import DatasetSplits, Example
from bench.data.options import LoadOptions, SynthConfig
from bench.data.registry import DATASETS, load_dataset
from bench.data.synth import load_synth
from bench.errors import ConfigError

STEP = re.compile(r"([a-z])=([a-z])([-+*])(\d)=(\d)([-+*])(\d)=(\d)\.")
SMALL = SynthConfig(n_train=200, n_valid=30, n_test=40, teacher_error=0.25)


def load(label_type: str = "gt", **settings: object) -> DatasetSplits:
    """The synth splits of ``SMALL`` with ``settings`` overridden."""
    return load_synth(
        LoadOptions(Path("unused"), label_type=label_type, synth=replace(SMALL, **settings))
    )


def compute(value: int, op: str, operand: int) -> int:
    """The test's own modulo-10 arithmetic."""
    return {"+": value + operand, "-": value - operand, "*": value * operand}[op] % 10


def check_rationale(example: Example) -> int:
    """Check the rationale against the input; return how many steps are miscomputed.

    The steps must restate the input's assignments in chain order, each starting from the
    value the previous step stated, and the last value must be the teacher's answer.
    """
    (text,) = example.input_parts
    *statements, question = text.split("; ")
    asked = re.fullmatch(r"what is ([a-z])\?", question).group(1)
    assignments = dict(statement.split("=") for statement in statements)
    start_var = next(var for var, expr in assignments.items() if expr.isdigit())
    steps = STEP.findall(example.rationale)
    assert " ".join("{}={}{}{}={}{}{}={}.".format(*step) for step in steps) == example.rationale
    assert len(steps) == len(assignments) - 1
    previous_var, previous_value, wrong = start_var, int(assignments[start_var]), 0
    for new, old, op, k, before, op2, k2, after in steps:
        assert (old, op, k) == (previous_var, op2, k2)
        assert assignments[new] == f"{old}{op}{k}"
        assert int(before) == previous_value
        wrong += int(after) != compute(int(before), op, int(k))
        previous_var, previous_value = new, int(after)
    assert previous_var == asked
    assert str(previous_value) == example.teacher_label
    return wrong


def true_answer(example: Example) -> str:
    """The answer recomputed from the input alone."""
    (text,) = example.input_parts
    *statements, _ = text.split("; ")
    assignments = dict(statement.split("=") for statement in statements)
    values: dict[str, int] = {}
    while len(values) < len(assignments):
        for var, expr in assignments.items():
            if expr.isdigit():
                values[var] = int(expr)
            elif expr[0] in values:
                values[var] = compute(values[expr[0]], expr[1], int(expr[2:]))
    asked = re.search(r"what is ([a-z])\?", text).group(1)
    return str(values[asked])


def test_format_and_sizes() -> None:
    splits = load()
    assert (splits.name, splits.kind, splits.metric) == ("synth", "closed", "exact")
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (200, 30, 40)
    assert splits.train[0].id == "synth-train-000000"
    assert splits.test[39].id == "synth-test-000039"
    assert splits.sources["generator"].startswith("synth-v1 ")
    assert "teacher_error=0.25" in splits.sources["generator"]
    for example in splits.train + splits.valid + splits.test:
        assert len(example.input_parts) == 1
        assert len(example.input_parts[0].split()) < 40
        assert example.gold == true_answer(example)


def test_deterministic_by_seed() -> None:
    assert load() == load()
    assert load(seed=1).train != load().train


def test_splits_are_independent_and_extend() -> None:
    base = load()
    more_test = load(n_test=80)
    assert more_test.train == base.train and more_test.valid == base.valid
    assert more_test.test[:40] == base.test
    more_train = load(n_train=300)
    assert more_train.valid == base.valid and more_train.test == base.test
    assert [ex.input_parts for ex in more_train.train[:200]] == [
        ex.input_parts for ex in base.train
    ]
    assert {ex.input_parts for ex in base.train}.isdisjoint(ex.input_parts for ex in base.test)


@pytest.mark.parametrize("steps", [1, 3, 6])
def test_correct_rationales_recompute_to_the_label(steps: int) -> None:
    splits = load(steps=steps)
    for example in splits.train + splits.valid + splits.test:
        assert len(STEP.findall(example.rationale)) == steps
        if example.teacher_label == example.gold:
            assert check_rationale(example) == 0
            assert example.label == example.gold


@pytest.mark.parametrize("teacher_error", [0.0, 0.1, 0.25, 1.0])
def test_teacher_error_fraction_and_wrong_rationales(teacher_error: float) -> None:
    splits = load(teacher_error=teacher_error)
    wrong = [ex for ex in splits.train if ex.teacher_label != ex.gold]
    assert len(wrong) == round(teacher_error * 200)
    for example in wrong:
        assert check_rationale(example) == 1
        assert example.label == example.gold != example.teacher_label
    for example in splits.valid + splits.test:
        assert example.teacher_label == example.gold == example.label


def test_problems_do_not_depend_on_teacher_error() -> None:
    inputs = [ex.input_parts for ex in load(teacher_error=0.0).train]
    assert inputs == [ex.input_parts for ex in load(teacher_error=0.5).train]


@pytest.mark.parametrize("n_candidates", [2, 5, 10])
def test_candidates(n_candidates: int) -> None:
    splits = load(n_candidates=n_candidates)
    positions = set()
    for example in splits.train + splits.valid + splits.test:
        assert len(example.candidates) == n_candidates
        assert list(example.candidates) == sorted(set(example.candidates), key=int)
        assert example.candidates.count(example.gold) == 1
        assert example.teacher_label in example.candidates
        positions.add(example.candidates.index(example.gold))
    assert len(positions) > 1
    assert load(n_candidates=n_candidates) == splits


def test_label_type_llm_uses_teacher_labels_on_train_only() -> None:
    gt, llm = load("gt"), load("llm")
    assert any(ex.label != ex.gold for ex in llm.train)
    for a, b in zip(gt.train, llm.train, strict=True):
        assert b.label == b.teacher_label
        assert replace(b, label=a.label) == a
    assert llm.valid == gt.valid and llm.test == gt.test
    assert all(ex.label == ex.gold for ex in llm.valid + llm.test)


def test_registered_and_loadable_through_the_registry() -> None:
    assert DATASETS.get("synth") is load_synth
    splits = load_dataset("synth", LoadOptions(Path("unused"), synth=SMALL), max_eval=5)
    assert len(splits.train) == 200 and len(splits.test) == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_train", 0),
        ("n_valid", -1),
        ("n_test", 1.5),
        ("steps", 0),
        ("steps", 26),
        ("teacher_error", -0.1),
        ("teacher_error", 1.5),
        ("n_candidates", 1),
        ("n_candidates", 11),
        ("seed", "x"),
    ],
)
def test_bad_settings_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"^synth\.{field}: expected"):
        load(**{field: value})


def test_bad_label_type() -> None:
    with pytest.raises(ConfigError, match=r"^label_type: expected one of gt, llm"):
        load("palm")


def test_docstring_examples() -> None:
    assert doctest.testmod(synth).failed == 0


def test_full_test_scores_the_whole_test_split_and_caps_validation():
    from bench.data import load_dataset as load

    capped = load("synth", LoadOptions(Path("unused"), synth=SMALL), max_eval=5)
    full = load("synth", LoadOptions(Path("unused"), synth=SMALL), max_eval=5, full_test=True)
    assert len(capped.test) == len(capped.valid) == len(full.valid) == 5
    assert len(full.test) == SMALL.n_test > 5
    assert full.test[:5] == capped.test
