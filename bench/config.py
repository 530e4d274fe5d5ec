"""The run configuration: one frozen dataclass, dotted-key overrides, a stable hash.

Every default carries a comment. Suites and profiles hold only overrides; an unknown key raises
a :class:`~bench.errors.ConfigError` listing the valid keys. The resolved config is written into
the run directory before training starts, and its hash (seed excluded) names the directory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from bench.data import (
    LABEL_TYPES,
    NOISE_TYPES,
    SYNTH_COMBINES,
    SYNTH_FAMILIES,
    SYNTH_TRACES,
    SYNTH_VERSIONS,
    TEACHERS,
    NoiseConfig,
    SynthConfig,
)
from bench.errors import ConfigError, check_choice

UNHASHED_KEYS = frozenset({"seed", "checkpoint_every", "log_every"})  # never change the numbers
# the allowed values of every key that has a fixed set of them (dotted keys: fields of a nested
# config; the data layer's own sets come from bench.data): RunConfig.validate checks them, and
# ``bench ablate --vary KEY`` varies over all of them
CHOICES: dict[str, tuple[str | int, ...]] = {
    "teacher": TEACHERS,
    "label_type": LABEL_TYPES,
    "synth.version": SYNTH_VERSIONS,
    "synth.family": SYNTH_FAMILIES,
    "synth.combine": SYNTH_COMBINES,
    "synth.trace": SYNTH_TRACES,
    "noise.type": NOISE_TYPES,
    "tokenizer": ("unigram", "char"),
    "mi_variant": ("code", "paper", "infonce"),
    "length_grouping_by": ("total", "input-then-target"),
    "precision": ("fp32", "bf16"),
    "select": ("best", "last"),
    "closed_eval": ("generate", "score"),
}
# keys added after runs were first published: left out of the hash at these values, so that
# earlier run directories and bundles keep their hashes (dotted keys: fields of a nested config)
HASHED_ONLY_IF_CHANGED = {
    "length_grouping": False,
    "length_grouping_by": "total",
    "closed_eval": "generate",
    "fused_activation": False,
    "eval_length_grouping": False,
    "full_test": False,
    "tokenizer": "unigram",
    "early_stopping_patience": None,
    "early_stopping_min_steps": 0,
    "early_stopping_loss_delta": None,
    "synth.version": 1,
    "synth.family": "chain",
    "synth.distractors": 0,
    "synth.n_lists": 3,
    "synth.list_len": 3,
    "synth.combine": "sum",
    "synth.trace": "final",
    "synth.spaced_digits": False,
}


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run's numbers (plus the seed)."""

    # -- what runs
    dataset: str = "synth"  # registered dataset name (bench list)
    strategy: str = "dss"  # registered strategy name (bench list)
    seed: int = 0  # model init, dropout and data order; also the run's directory name
    # -- data
    teacher: str = "palm"  # rationale source: palm (default) or llama3 (cqa, svamp)
    label_type: str = "gt"  # gt: gold train labels; llm: the teacher's labels for train
    subsample: float = 1.0  # fraction of train kept (seeded by subsample_seed)
    subsample_seed: int = 0  # fixed across run seeds so all seeds train on the same subset
    max_train: int | None = None  # cap on train examples after subsampling (CPU profiles)
    max_eval: int | None = None  # cap on valid/test examples (first n; CPU profiles)
    full_test: bool = False  # score the whole test split (max_eval then caps validation only)
    synth: SynthConfig = field(default_factory=SynthConfig)  # the generated task's settings
    noise: NoiseConfig = field(default_factory=NoiseConfig)  # noise injected into train rationales
    # -- model
    model: str = "tiny-t5"  # preset name (bench list), Hugging Face id or local path
    vocab_size: int = 4000  # presets only: size of the Unigram tokenizer trained on the data
    tokenizer: str = "unigram"  # presets only: unigram (trained, vocab_size pieces) or char (one
    # token per character: every digit, letter and operator; vocab_size unused)
    max_input_length: int = 1024  # tokens; longer inputs are truncated (DSS: 1024)
    max_target_length: int = 256  # tokens; longer targets are truncated (DSS: 256)
    max_new_tokens: int = 64  # greedy generation budget at evaluation (DSS: 64)
    # -- loss
    alpha1: float = 0.5  # weight of the label-prediction loss (DSS alpha)
    alpha2: float = 0.5  # weight of the rationale loss (DSS 1 - alpha)
    alpha3: float = 0.1  # weight of the MI / KL term (MI paper beta)
    mi_variant: str = "code"  # code (released code), paper (as described), infonce (a true bound)
    mi_stop_grad: bool = (
        True  # paper/kl/infonce: detach the label branch, as the released code does
    )
    infonce_dim: int = 128  # infonce: projection size
    infonce_temperature: float = 0.1  # infonce: similarity temperature
    # -- optimisation (AdamW, linear decay; DSS used the HF Trainer defaults)
    lr: float = 5e-5  # peak learning rate
    batch_size: int = 64  # examples per optimizer step (per device, before accumulation)
    grad_accum: int = 1  # micro-batches per optimizer step
    length_grouping: bool = False  # batch examples of similar length (less padding; DSS: random)
    length_grouping_by: str = "total"  # total: sort by all tokens; input-then-target: by input
    # tokens, then runs of a few batches by target tokens (less padding of both)
    max_steps: int = 10000  # optimizer steps
    early_stopping_patience: int | None = None  # stop after this many validations in a row
    # without a new best validation accuracy (None: train all max_steps)
    early_stopping_min_steps: int = 0  # no early stop before this step: a task whose accuracy
    # stays at chance until every step of a rationale works has a flat phase before take-off
    early_stopping_loss_delta: float | None = None  # also wait for the training loss: no early
    # stop while the lowest logged ``total`` of the patience window (patience x eval_every steps)
    # is this much (nats) or more below the lowest before it (None: accuracy alone decides)
    warmup_steps: int = 0  # linear warm-up steps (DSS: 0)
    weight_decay: float = 0.0  # AdamW weight decay (DSS: 0)
    max_grad_norm: float = 1.0  # gradient clipping (HF Trainer default, which DSS inherits)
    precision: str = "fp32"  # fp32 or bf16 (autocast)
    fused_activation: bool = False  # tanh-GELU as PyTorch's one fused kernel (same function,
    # float-level differences; T5 v1.1's gated-gelu)
    # -- evaluation and checkpoints
    eval_every: int = 250  # steps between validation evaluations (never on test)
    eval_batch_size: int = 64  # examples per evaluation batch
    checkpoint_every: int = 250  # steps between resumable checkpoints (does not change numbers)
    log_every: int = 10  # steps between training-log records (does not change numbers)
    generate_rationales: bool = False  # also generate a rationale per test example (dss-style)
    select: str = "best"  # checkpoint whose test metrics are primary: best (on valid) or last
    closed_eval: str = "generate"  # closed tasks: generate (greedy decoding, as the papers) or
    # score (one teacher-forced pass over the candidates; the same accuracy, no decoding loop)
    eval_length_grouping: bool = False  # evaluate in batches of similar input length, score
    # candidates in passes of similar length (less padding; float-level differences)

    def validate(self) -> RunConfig:
        """Check every value that can be checked without loading data; returns self."""
        from bench.data import DATASETS
        from bench.strategy import STRATEGIES

        STRATEGIES.get(self.strategy)
        DATASETS.get(self.dataset)
        for key, allowed in CHOICES.items():
            check_choice(key, config_value(self, key), allowed)
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise ConfigError(
                "early_stopping_patience: expected an integer >= 1 or null, "
                f"got {self.early_stopping_patience}"
            )
        if self.early_stopping_min_steps < 0:
            raise ConfigError(
                "early_stopping_min_steps: expected an integer >= 0, "
                f"got {self.early_stopping_min_steps}"
            )
        if self.early_stopping_loss_delta is not None and self.early_stopping_loss_delta <= 0:
            raise ConfigError(
                "early_stopping_loss_delta: expected a number > 0 or null, "
                f"got {self.early_stopping_loss_delta}"
            )
        for name, value in flatten(self.to_dict()).items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{name}: expected a finite number, got {value}")
        for name in (
            "alpha1",
            "alpha2",
            "alpha3",
            "weight_decay",
            "warmup_steps",
            "max_grad_norm",
            "seed",
            "subsample_seed",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: expected a value >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.noise.level <= 1.0:
            raise ConfigError(f"noise.level: expected a fraction in [0, 1], got {self.noise.level}")
        for name in (
            "batch_size",
            "grad_accum",
            "max_steps",
            "eval_every",
            "checkpoint_every",
            "eval_batch_size",
            "log_every",
            "max_input_length",
            "max_target_length",
            "max_new_tokens",
            "vocab_size",
            "infonce_dim",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: expected an integer >= 1, got {getattr(self, name)}")
        for name in ("lr", "infonce_temperature"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: expected a value > 0, got {getattr(self, name)}")
        if not 0.0 < self.subsample <= 1.0:
            raise ConfigError(f"subsample: expected a fraction in (0, 1], got {self.subsample}")
        return self

    def resolved(self) -> RunConfig:
        """A copy with version-dependent defaults filled in (``synth.teacher_error``)."""
        synth = self.synth.resolved()
        return self if synth is self.synth else dataclasses.replace(self, synth=synth)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON/YAML-ready) of the resolved config."""
        return dataclasses.asdict(self.resolved())

    def config_hash(self) -> str:
        """12 hex digits of sha256 over the canonical JSON of every key but the seed.

        Keys in ``HASHED_ONLY_IF_CHANGED`` count only when they differ from their listed value.
        """
        payload = {k: v for k, v in self.to_dict().items() if k not in UNHASHED_KEYS}
        for key, value in HASHED_ONLY_IF_CHANGED.items():
            *parents, name = key.split(".")
            holder = payload
            for parent in parents:
                holder = holder[parent]
            if name in holder and holder[name] == value:
                del holder[name]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def config_value(config: RunConfig, key: str) -> Any:
    """The value of a dotted ``key`` in ``config`` (``"noise.level"`` -> ``config.noise.level``)."""
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def valid_keys(cls: type = RunConfig, prefix: str = "") -> list[str]:
    """Every dotted key that ``apply_overrides`` accepts."""
    keys = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(
            f.default_factory if f.default_factory is not dataclasses.MISSING else None
        ):
            keys.extend(valid_keys(f.default_factory, f"{prefix}{f.name}."))
        else:
            keys.append(prefix + f.name)
    return keys


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Convert ``value`` to the field's type (ints for floats allowed; None where optional)."""
    hint = annotation
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads ``1e-3`` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    type_name = getattr(hint, "__name__", str(hint)) + (" or null" if optional else "")
    raise ConfigError(f"{key}: expected {type_name}, got {value!r}")


def apply_overrides(config: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    """A copy of ``config`` with dotted-key overrides, e.g. ``{"noise.level": 0.5}``.

    Nested mappings (``{"noise": {"level": 0.5}}``) work too. Unknown keys raise ConfigError.
    """
    flat = flatten(overrides)
    return _apply(config, flat, "")


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"noise": {"level": 0.1}}`` -> ``{"noise.level": 0.1}``."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _apply(obj: Any, flat: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    fields = {f.name: f for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        head, _, rest = key.partition(".")
        if head not in fields:
            raise ConfigError(
                f"unknown config key {prefix + key!r}; valid keys: {', '.join(valid_keys())}"
            )
        if dataclasses.is_dataclass(getattr(obj, head)):
            if not rest:
                raise ConfigError(
                    f"{prefix + head}: set its fields, e.g. {prefix + head}.<key>=..."
                )
            nested.setdefault(head, {})[rest] = value
        elif rest:
            raise ConfigError(f"unknown config key {prefix + key!r}; {prefix + head} has no fields")
        else:
            changes[head] = _coerce(prefix + head, value, hints[head])
    for head, sub in nested.items():
        changes[head] = _apply(getattr(obj, head), sub, f"{prefix}{head}.")
    return dataclasses.replace(obj, **changes)


def parse_set_options(items: list[str]) -> dict[str, Any]:
    """``["alpha3=0.2", "noise.type=swap"]`` -> ``{"alpha3": 0.2, "noise.type": "swap"}``.

    Values are parsed as YAML scalars (numbers, booleans, null, strings).
    """
    result: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        result[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return result


def config_from_dict(data: Mapping[str, Any]) -> RunConfig:
    """Rebuild a RunConfig from ``to_dict()`` output (e.g. a run directory's config file)."""
    return apply_overrides(RunConfig(), data)


__all__ = [
    "CHOICES",
    "HASHED_ONLY_IF_CHANGED",
    "RunConfig",
    "apply_overrides",
    "config_from_dict",
    "config_value",
    "parse_set_options",
    "valid_keys",
]
