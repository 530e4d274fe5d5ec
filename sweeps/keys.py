"""Config keys as ablation axes: which keys can vary, their default grids, parsing ``--values``.

Any key of :func:`bench.config.valid_keys` can vary except the ones with their own flags
(``dataset``, ``strategy``, ``seed``) and the ones that never change a run's numbers. Default
grids come from ``sweeps/ablate.yaml``; keys with a fixed set of choices
(:data:`bench.config.CHOICES`) and boolean keys vary over all of their choices.
"""

from __future__ import annotations

import dataclasses
import typing
from importlib import resources
from typing import Any

import yaml

from bench.config import (
    CHOICES,
    UNHASHED_KEYS,
    RunConfig,
    apply_overrides,
    config_value,
    valid_keys,
)
from bench.errors import ConfigError

OWN_FLAGS = {"dataset": "--datasets", "strategy": "--strategies", "seed": "--seeds"}


def vary_keys() -> list[str]:
    """Every config key that ``bench ablate --vary`` accepts."""
    return [k for k in valid_keys() if k not in OWN_FLAGS and k not in UNHASHED_KEYS]


def check_vary_key(key: str) -> None:
    """Raise ConfigError unless ``key`` can be an ablation axis (the message lists valid keys)."""
    if key in OWN_FLAGS:
        raise ConfigError(f"--vary {key}: use {OWN_FLAGS[key]} to choose several {key}s")
    if key in UNHASHED_KEYS:
        raise ConfigError(f"--vary {key}: {key} does not change a run's numbers")
    if key not in valid_keys():
        raise ConfigError(f"--vary {key}: unknown config key; valid keys: {', '.join(vary_keys())}")


def _field_type(key: str) -> Any:
    cls: Any = RunConfig
    hint: Any = None
    for part in key.split("."):
        hint = typing.get_type_hints(cls)[part]
        cls = hint if dataclasses.is_dataclass(hint) else None
    return hint


def parse_values(text: str) -> list[Any]:
    """``"0,0.1,paper"`` -> ``[0, 0.1, "paper"]`` (each item a YAML scalar)."""
    return [yaml.safe_load(item) for item in text.split(",") if item.strip()]


def default_values(key: str, reference: Any) -> list[Any]:
    """The default grid of ``key``; ``reference`` is its value in the suite and profile."""
    if key in CHOICES:
        return list(CHOICES[key])
    if _field_type(key) is bool:
        return [False, True]
    table = yaml.safe_load((resources.files("sweeps") / "ablate.yaml").read_text())
    if key not in table:
        raise ConfigError(f"--vary {key}: no default values; pass --values v1,v2,...")
    entry = table[key]
    if isinstance(entry, dict):
        return [reference * factor for factor in entry["times"]]
    return list(entry)


def coerce_values(key: str, values: list[Any]) -> list[Any]:
    """``values`` converted to the key's type (ints of int keys rounded), duplicates removed."""
    hint = _field_type(key)
    result: list[Any] = []
    for value in values:
        if hint is int and isinstance(value, float) and not isinstance(value, bool):
            value = round(value)
        coerced = config_value(apply_overrides(RunConfig(), {key: value}), key)
        if coerced not in result:
            result.append(coerced)
    return result
