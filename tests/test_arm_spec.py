"""The ``--pair`` arm syntax: a strategy, optionally qualified by config values."""

from __future__ import annotations

import pytest

from bench.errors import ConfigError
from reports.arm_spec import ArmSpec, parse_arm
from reports.cli import parse_pair


def test_a_plain_strategy_names_every_condition_of_it():
    arm = parse_arm(" dss+kl ")
    assert arm == ArmSpec("dss+kl")
    assert arm.matches("dss+kl", {"noise.level": 0.5}) and not arm.matches("dss", {})


def test_a_qualified_arm_matches_only_runs_with_those_values():
    arm = parse_arm("single-task[noise.type=swap, noise.level=1]")
    assert arm.strategy == "single-task" and arm.keys == {"noise.type", "noise.level"}
    swapped = {"noise.type": "swap", "noise.level": 1.0}
    assert arm.matches("single-task", swapped)  # 1 reads as 1.0
    assert not arm.matches("single-task", {**swapped, "noise.level": 0.5})
    assert not arm.matches("finetune", swapped)
    assert parse_arm("dss+mi[mi_variant=paper]").matches("dss+mi", {"mi_variant": "paper"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dss[]", "expected key=value"),
        ("dss[noise.type]", "expected key=value"),
        ("dss[noise.type=swap,]", "expected key=value"),
        ("dss[nosie.type=swap]", "'nosie.type' is not a run config key"),
        ("dss[noise.type=swap", "expected STRATEGY or STRATEGY"),
    ],
)
def test_a_malformed_arm_is_a_one_line_error(text, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_pair(f"{text}:finetune")
    assert "\n" not in str(caught.value)


def test_parse_pair_keeps_the_qualifiers():
    assert parse_pair("single-task[noise.type=swap]:finetune") == (
        "single-task[noise.type=swap]",
        "finetune",
    )
