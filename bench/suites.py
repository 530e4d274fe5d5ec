"""Suites: YAML files naming datasets x strategies x seeds, with profiles of config overrides.

A suite file (``bench/suites/<name>.yaml``)::

    description: one line
    datasets: [cqa, svamp]
    strategies: [finetune, dss, dss+mi]
    seeds: [0, 1, 2, 3]
    overrides: {mi_variant: code}          # every profile
    default_profile: cpu
    profiles:
      cpu:
        seeds: [0]                         # optional: the profile's own seeds
        overrides: {model: tiny-t5, max_steps: 300}
        datasets: {esnli: {max_eval: 300}} # optional per-dataset overrides
        grid:                              # optional: every combination of the axes
          task:                            #   an axis of named override sets ...
            - {synth.family: chain, synth.distractors: 2}
            - {synth.family: features}
          synth.n_train: [1000, 4000]      #   ... or of one key's values

Files hold only overrides of :class:`~bench.config.RunConfig`; unknown keys fail when the plan
is built, before any training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bench.config import RunConfig, apply_overrides
from bench.errors import ConfigError

SUITE_KEYS = {
    "description",
    "datasets",
    "strategies",
    "seeds",
    "overrides",
    "default_profile",
    "profiles",
}
PROFILE_KEYS = {"description", "seeds", "overrides", "datasets", "grid"}


@dataclass(frozen=True)
class Suite:
    """A parsed suite file."""

    name: str
    description: str
    datasets: tuple[str, ...]
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    overrides: dict[str, Any]
    default_profile: str
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def profile(self, name: str | None) -> tuple[str, dict[str, Any]]:
        """The profile ``name`` (default profile when None); unknown names list the known ones."""
        name = name or self.default_profile
        if name not in self.profiles:
            raise ConfigError(
                f"suite {self.name!r}: unknown profile {name!r}; known: {', '.join(self.profiles)}"
            )
        return name, self.profiles[name]


def packaged_yaml_names(package: str, folder: str) -> list[str]:
    """Names (without ``.yaml``) of the YAML files shipped in ``package/folder``."""
    files = (resources.files(package) / folder).iterdir()
    return sorted(p.name.removesuffix(".yaml") for p in files if p.name.endswith(".yaml"))


def suite_names() -> list[str]:
    """The built-in suites."""
    return packaged_yaml_names("bench", "suites")


def check_keys(where: str, data: dict, allowed: set[str]) -> None:
    """ConfigError naming ``where`` when ``data`` has keys outside ``allowed``."""
    unknown = set(data) - allowed
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"expected {', '.join(sorted(allowed))}"
        )


def load_suite(name: str) -> Suite:
    """A built-in suite by name, or a suite YAML file by path."""
    path = Path(name)
    if path.suffix in {".yaml", ".yml"}:
        if not path.is_file():
            raise ConfigError(f"suite file {path}: not found")
        text, suite_name = path.read_text(), path.stem
    else:
        if name not in suite_names():
            raise ConfigError(f"unknown suite {name!r}; known: {', '.join(suite_names())}")
        text, suite_name = (resources.files("bench") / "suites" / f"{name}.yaml").read_text(), name
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise ConfigError(f"suite {name}: not valid YAML{at} ({problem})") from None
    _check_shape(f"suite {suite_name}", data)
    check_keys(f"suite {suite_name}", data, SUITE_KEYS)
    profiles = data.get("profiles") or {}
    if not isinstance(profiles, dict):
        raise ConfigError(f"suite {suite_name}: profiles: expected a mapping of name -> profile")
    for profile, body in profiles.items():
        _check_shape(f"suite {suite_name} profile {profile}", body or {})
        check_keys(f"suite {suite_name} profile {profile}", body or {}, PROFILE_KEYS)
    return Suite(
        name=suite_name,
        description=data.get("description", ""),
        datasets=tuple(data.get("datasets", ())),
        strategies=tuple(data.get("strategies", ())),
        seeds=tuple(data.get("seeds", (0,))),
        overrides=dict(data.get("overrides") or {}),
        default_profile=data.get(
            "default_profile", next(iter(data.get("profiles") or {"default": {}}))
        ),
        profiles={k: dict(v or {}) for k, v in (data.get("profiles") or {"default": {}}).items()},
    )


def _check_shape(where: str, data: Any) -> None:
    """ConfigError naming ``where`` when a suite or profile body has values of the wrong type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {type(data).__name__}")
    for key in ("datasets", "strategies") if "profile" not in where else ():
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: {key}: expected a list of names, got {value!r}")
    seeds = data.get("seeds", [0])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in seeds)
    ):
        raise ConfigError(f"{where}: seeds: expected a list of integers >= 0, got {seeds!r}")
    for key in ("overrides", "datasets") if "profile" in where else ("overrides",):
        if not isinstance(data.get(key) or {}, dict):
            raise ConfigError(f"{where}: {key}: expected a mapping, got {data[key]!r}")


def plan_runs(
    suite: Suite,
    profile: str | None = None,
    *,
    datasets: list[str] | None = None,
    strategies: list[str] | None = None,
    seeds: list[int] | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[str, list[RunConfig]]:
    """Expand a suite into validated run configs (profile name, configs).

    Precedence: defaults < suite overrides < profile overrides < per-dataset overrides < the
    profile's grid cell < CLI. Runs are ordered cell by cell; a run that two cells share (a CLI
    override of a grid key) is planned once.
    """
    profile_name, body = suite.profile(profile)
    run_seeds = seeds or list(body.get("seeds", suite.seeds))
    configs = []
    seen = set()
    for cell in grid_cells(body.get("grid"), f"suite {suite.name} profile {profile_name}"):
        for dataset in datasets or suite.datasets:
            per_dataset = (body.get("datasets") or {}).get(dataset, {})
            for strategy in strategies or suite.strategies:
                for seed in run_seeds:
                    config = RunConfig()
                    for layer in (
                        suite.overrides,
                        body.get("overrides") or {},
                        per_dataset,
                        cell,
                        {"dataset": dataset, "strategy": strategy, "seed": seed},
                        overrides or {},
                    ):
                        config = apply_overrides(config, layer)
                    config = config.resolved().validate()
                    if (config.config_hash(), seed) not in seen:
                        seen.add((config.config_hash(), seed))
                        configs.append(config)
    return profile_name, configs


def grid_cells(grid: dict[str, list[Any]] | None, where: str) -> list[dict[str, Any]]:
    """Every combination of a profile's ``grid`` axes as one override mapping, in file order.

    An axis lists override mappings, or values of the config key it is named after.

    >>> grid_cells({"task": [{"synth.family": "features"}], "lr": [0.1, 0.2]}, "here")
    [{'synth.family': 'features', 'lr': 0.1}, {'synth.family': 'features', 'lr': 0.2}]
    """
    cells: list[dict[str, Any]] = [{}]
    for axis, values in (grid or {}).items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: grid axis {axis!r}: expected a non-empty list")
        cells = [
            {**cell, **(value if isinstance(value, dict) else {axis: value})}
            for cell in cells
            for value in values
        ]
    return cells
