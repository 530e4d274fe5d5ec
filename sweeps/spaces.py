"""Search spaces: YAML files naming config keys as Optuna parameters.

A space file (``sweeps/spaces/<name>.yaml``, or any path)::

    description: one line
    direction: maximize                    # of the objective, validation accuracy
    strategies: [dss+mi]                   # optional: the trials' strategies unless --strategies
    params:                                # config key (dotted for nested keys) -> distribution
      alpha3: {type: float, low: 0.01, high: 1.0, log: true, grid: [0.01, 0.1, 0.5]}
      mi_variant: {type: categorical, choices: [code, paper, infonce]}

``type`` is ``float``, ``int`` (``low``, ``high``, optional ``log`` or ``step``) or
``categorical`` (``choices``). ``grid`` lists the values ``--sampler grid`` tries (categorical
parameters default to all their choices). Unknown keys, config keys and values fail when the
space is checked, before any training.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bench.config import RunConfig, apply_overrides, valid_keys
from bench.errors import ConfigError
from bench.suites import check_keys, packaged_yaml_names
from sweeps.samplers import DIRECTIONS

SPACE_KEYS = {"description", "direction", "strategies", "params"}
PARAM_KEYS = {"type", "low", "high", "log", "step", "choices", "grid"}
PARAM_TYPES = ("float", "int", "categorical")


@dataclass(frozen=True)
class Param:
    """One config key's distribution."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    grid: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """The trial's value of this parameter."""
        if self.type == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.type == "int":
            return trial.suggest_int(
                self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def grid_values(self) -> list[Any]:
        """The values ``--sampler grid`` tries."""
        return list(self.grid or self.choices)

    def probe_values(self) -> list[Any]:
        """Values to validate as config overrides: bounds, choices and grid."""
        bounds = [] if self.type == "categorical" else [self.low, self.high]
        return [*bounds, *self.choices, *self.grid]

    def to_dict(self) -> dict[str, Any]:
        """The parameter as written in a space file."""
        fields = {
            "type": self.type,
            "low": self.low,
            "high": self.high,
            "log": self.log or None,
            "step": self.step,
            "choices": list(self.choices) or None,
            "grid": list(self.grid) or None,
        }
        return {k: v for k, v in fields.items() if v is not None}


@dataclass(frozen=True)
class SearchSpace:
    """A parsed space file."""

    name: str
    description: str
    direction: str
    strategies: tuple[str, ...] | None
    params: tuple[Param, ...]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The trial's config overrides, one per parameter."""
        return {p.key: p.suggest(trial) for p in self.params}

    def grid(self) -> dict[str, list[Any]]:
        """The grid of ``--sampler grid`` (every parameter needs grid values)."""
        missing = [p.key for p in self.params if not p.grid_values()]
        if missing:
            raise ConfigError(
                f"space {self.name}: --sampler grid needs grid values for {', '.join(missing)}"
                " (add grid: [...])"
            )
        return {p.key: p.grid_values() for p in self.params}

    def grid_size(self) -> int:
        """The number of grid points."""
        size = 1
        for values in self.grid().values():
            size *= len(values)
        return size

    def to_dict(self) -> dict[str, Any]:
        """The space as written in a space file."""
        return {
            "description": self.description,
            "direction": self.direction,
            "strategies": list(self.strategies) if self.strategies else None,
            "params": {p.key: p.to_dict() for p in self.params},
        }


def space_names() -> list[str]:
    """The built-in search spaces."""
    return packaged_yaml_names("sweeps", "spaces")


def _param(where: str, key: str, body: Any) -> Param:
    if not isinstance(body, dict):
        raise ConfigError(f"{where}: expected a mapping with type: ...")
    check_keys(where, body, PARAM_KEYS)
    kind = body.get("type")
    if kind not in PARAM_TYPES:
        raise ConfigError(f"{where}: type: expected one of {', '.join(PARAM_TYPES)}; got {kind!r}")
    if kind == "categorical":
        if not body.get("choices"):
            raise ConfigError(f"{where}: a categorical parameter needs choices: [...]")
    elif "low" not in body or "high" not in body or not body["low"] <= body["high"]:
        raise ConfigError(f"{where}: a {kind} parameter needs low <= high")
    return Param(
        key=key,
        type=kind,
        low=body.get("low"),
        high=body.get("high"),
        log=bool(body.get("log", False)),
        step=body.get("step"),
        choices=tuple(body.get("choices") or ()),
        grid=tuple(body.get("grid") or ()),
    )


def load_space(name: str) -> SearchSpace:
    """A built-in space by name, or a space YAML file by path; parameters checked as config keys."""
    path = Path(name)
    if path.suffix in {".yaml", ".yml"}:
        if not path.is_file():
            raise ConfigError(f"space file {path}: not found")
        text, space_name = path.read_text(), path.stem
    else:
        if name not in space_names():
            raise ConfigError(f"unknown space {name!r}; known: {', '.join(space_names())}")
        text = (resources.files("sweeps") / "spaces" / f"{name}.yaml").read_text()
        space_name = name
    where = f"space {space_name}"
    data = yaml.safe_load(text) or {}
    check_keys(where, data, SPACE_KEYS)
    direction = data.get("direction", "maximize")
    if direction not in DIRECTIONS:
        raise ConfigError(f"{where}: direction: expected one of {', '.join(DIRECTIONS)}")
    if not data.get("params"):
        raise ConfigError(f"{where}: params: expected at least one parameter")
    params = []
    for key, body in data["params"].items():
        if key not in valid_keys():
            raise ConfigError(
                f"{where}: unknown config key {key!r}; valid keys: {', '.join(valid_keys())}"
            )
        param = _param(f"{where} param {key}", key, body)
        for value in param.probe_values():
            apply_overrides(RunConfig(), {key: value}).validate()
        params.append(param)
    strategies = data.get("strategies")
    return SearchSpace(
        name=space_name,
        description=data.get("description", ""),
        direction=direction,
        strategies=tuple(strategies) if strategies else None,
        params=tuple(params),
    )
