"""Config: overrides, coercion, validation errors (one line, names the key), stable hashes."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from bench.cli import main
from bench.config import (
    CHOICES,
    HASHED_ONLY_IF_CHANGED,
    UNHASHED_KEYS,
    RunConfig,
    apply_overrides,
    parse_set_options,
    valid_keys,
)
from bench.errors import ConfigError


def test_dotted_and_nested_overrides_agree():
    a = apply_overrides(RunConfig(), {"noise.type": "swap", "noise.level": 0.5})
    b = apply_overrides(RunConfig(), {"noise": {"type": "swap", "level": 0.5}})
    assert a == b and a.noise.type == "swap" and a.noise.level == 0.5


def test_set_options_parse_yaml_values():
    assert parse_set_options(["alpha3=0.2", "max_train=null", "mi_variant=paper"]) == {
        "alpha3": 0.2,
        "max_train": None,
        "mi_variant": "paper",
    }
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_set_options(["alpha3"])


def test_int_is_accepted_for_float_but_not_str_for_int():
    assert apply_overrides(RunConfig(), {"alpha3": 1}).alpha3 == 1.0
    with pytest.raises(ConfigError, match="max_steps: expected int"):
        apply_overrides(RunConfig(), {"max_steps": "many"})


def test_exponent_without_dot_is_a_float():
    """YAML 1.1 reads ``--set lr=1e-3`` as the string '1e-3'; a float key accepts it."""
    overrides = parse_set_options(["lr=1e-3"])
    assert apply_overrides(RunConfig(), overrides).lr == 1e-3
    with pytest.raises(ConfigError, match="lr: expected float"):
        apply_overrides(RunConfig(), {"lr": "fast"})


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as err:
        apply_overrides(RunConfig(), {"alpha4": 1.0})
    assert "alpha4" in str(err.value) and "alpha3" in str(err.value)
    assert "noise.level" in valid_keys()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"alpha1": -0.5}, "alpha1: expected a value >= 0"),
        ({"alpha3": -1}, "alpha3"),
        ({"strategy": "dss+xx"}, r"unknown strategy 'dss\+xx'"),
        ({"dataset": "mnist"}, "unknown dataset 'mnist'"),
        ({"mi_variant": "magic"}, "mi_variant: expected one of code, paper, infonce"),
        ({"noise.type": "blur"}, "noise.type"),
        ({"noise.level": 1.5}, "noise.level"),
        ({"max_steps": 0}, "max_steps"),
        ({"subsample": 0.0}, "subsample"),
        ({"precision": "fp8"}, "precision"),
    ],
)
def test_bad_values_fail_with_one_line_naming_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message) as err:
        apply_overrides(RunConfig(), overrides).validate()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_a_value_outside_a_keys_choices_is_refused(key):
    bogus = 99 if isinstance(CHOICES[key][0], int) else "bogus"
    with pytest.raises(ConfigError, match=f"^{re.escape(key)}: expected one of "):
        apply_overrides(RunConfig(), {key: bogus}).validate()


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_every_key_with_choices_can_be_ablated_over_all_of_them(key, tmp_path, capsys):
    """The choices are declared once (``closed_eval`` had no ablation grid)."""
    argv = ["ablate", "--vary", key, "--suite", "smoke", "--dry-run", "--runs-dir", str(tmp_path)]
    assert main(argv) == 0, capsys.readouterr().err
    grid = ", ".join(map(str, CHOICES[key]))
    assert f"ablation of {key}: {grid}\n" in capsys.readouterr().out
    assert not any(tmp_path.iterdir())


def test_hash_ignores_seed_and_bookkeeping_but_not_maths():
    base = RunConfig()
    assert apply_overrides(base, {"seed": 3}).config_hash() == base.config_hash()
    assert apply_overrides(base, {"checkpoint_every": 7}).config_hash() == base.config_hash()
    assert apply_overrides(base, {"alpha3": 0.2}).config_hash() != base.config_hash()
    assert apply_overrides(base, {"noise.level": 0.2}).config_hash() != base.config_hash()


def test_keys_added_later_keep_earlier_hashes_at_their_old_behaviour():
    """A config hashes as before the key existed while the key keeps the old behaviour."""
    base = RunConfig()
    legacy = {k: v for k, v in base.to_dict().items() if k not in UNHASHED_KEYS}
    for key in HASHED_ONLY_IF_CHANGED:  # every key added later, nested ones included
        *parents, name = key.split(".")
        holder = legacy
        for parent in parents:
            holder = holder[parent]
        del holder[name]
    digest = hashlib.sha256(json.dumps(legacy, sort_keys=True).encode()).hexdigest()[:12]
    assert base.config_hash() == digest
    assert apply_overrides(base, {"length_grouping": True}).config_hash() != digest
    assert apply_overrides(base, {"closed_eval": "score"}).config_hash() != digest
    assert apply_overrides(base, {"fused_activation": True}).config_hash() != digest
    assert apply_overrides(base, {"eval_length_grouping": True}).config_hash() != digest
    assert apply_overrides(base, {"full_test": True}).config_hash() != digest
    two_level = {"length_grouping_by": "input-then-target"}
    assert apply_overrides(base, two_level).config_hash() != digest
    with pytest.raises(ConfigError, match="closed_eval: expected one of generate, score"):
        apply_overrides(base, {"closed_eval": "guess"}).validate()
    with pytest.raises(ConfigError, match="length_grouping_by: expected one of total, input-"):
        apply_overrides(base, {"length_grouping_by": "width"}).validate()
