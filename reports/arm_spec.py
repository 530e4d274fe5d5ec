"""One side of a ``--pair A:B``: a strategy name, optionally qualified by config values.

``dss`` names every condition of strategy ``dss``; ``single-task[noise.type=swap,
noise.level=1.0]`` only its runs with those values, so that a pair can compare conditions
that differ in more than the strategy (a negative control against the plain baseline, one MI
term of an ablation against DSS). Values are read as YAML scalars (``1`` matches ``1.0``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from bench.config import RunConfig, flatten
from bench.errors import ConfigError

_ARM = re.compile(r"^\s*([^\[\]]+?)\s*(?:\[([^\[\]]*)\])?\s*$")


@dataclass(frozen=True)
class ArmSpec:
    """A strategy and the config values its runs must have (dotted keys, e.g. ``noise.type``)."""

    strategy: str
    conditions: tuple[tuple[str, Any], ...] = ()

    def matches(self, strategy: str, config: Mapping[str, Any]) -> bool:
        """Whether a run of ``strategy`` with flattened ``config`` belongs to this arm."""
        return strategy == self.strategy and all(
            key in config and _same(config[key], value) for key, value in self.conditions
        )

    @property
    def keys(self) -> set[str]:
        return {key for key, _ in self.conditions}


def parse_arm(text: str) -> ArmSpec:
    """``"single-task[noise.type=swap, noise.level=1.0]"`` -> its :class:`ArmSpec`."""
    match = _ARM.match(text)
    if match is None:
        raise ConfigError(f"--pair arm {text!r}: expected STRATEGY or STRATEGY[key=value,...]")
    strategy, qualifier = match.groups()
    if qualifier is None:
        return ArmSpec(strategy)
    known = flatten(RunConfig().to_dict())
    conditions = []
    for item in qualifier.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or not value:
            raise ConfigError(f"--pair arm {text!r}: expected key=value in [...], got {item!r}")
        if key not in known:
            raise ConfigError(f"--pair arm {text!r}: {key!r} is not a run config key")
        conditions.append((key, yaml.safe_load(value)))
    return ArmSpec(strategy, tuple(conditions))


def _same(recorded: Any, wanted: Any) -> bool:
    return recorded == wanted or str(recorded) == str(wanted)
