"""Rationale noise: corrupt the teacher rationales of a fraction of the TRAINING examples.

The core applies :func:`apply_noise` to the train split only (never to valid or test, whose
rationales are not trained on) and records the :class:`NoiseConfig` in the run config.
``level`` is the fraction of training examples affected: exactly ``round(level * n)`` of them,
chosen by ``seed`` (the same seed picks the same examples whatever the noise type, so types
compare on the same examples). Only ``rationale`` changes; labels and teacher labels do not.

Types (each a pure function of its inputs, seeded explicitly, never the global RNG):

* ``none``: no change.
* ``shuffle``: shuffle the sentence order; a one-sentence rationale shuffles its words. The
  result always differs from the original unless every sentence (word) is the same.
* ``drop``: delete half of the words (the kept ``n // 2`` words, in order, chosen at random);
  the fraction is fixed, independent of ``level``.
* ``swap``: give each affected example another affected example's rationale (a random
  derangement, so none keeps its own); a single affected example takes the rationale of a
  random other example.
* ``truncate``: keep the first ``n // 2`` words.
* ``numbers``: add a random non-zero offset in [-9, 9] to every numeral (the integer part of
  ``\\d+(\\.\\d+)?``), keeping it a non-negative number; a rationale without numerals is
  unchanged.

Word-level types split on whitespace and join with single spaces, so a one-word rationale
becomes empty under ``drop`` and ``truncate``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bench.data.example import Example
from bench.errors import ConfigError, check_choice

NOISE_TYPES = ("none", "shuffle", "drop", "swap", "truncate", "numbers")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NUMERAL = re.compile(r"(\d+)(\.\d+)?")


@dataclass(frozen=True)
class NoiseConfig:
    """Which noise to apply to the training rationales; validated on construction."""

    type: str = "none"  # one of NOISE_TYPES
    level: float = 0.0  # fraction of training examples affected, in [0, 1]
    seed: int = 0  # chooses the affected examples and the noise drawn for each

    def __post_init__(self) -> None:
        check_choice("noise.type", self.type, NOISE_TYPES)
        level = self.level
        if not isinstance(level, int | float) or isinstance(level, bool) or not 0.0 <= level <= 1.0:
            raise ConfigError(f"noise.level: expected a fraction in [0, 1], got {level!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"noise.seed: expected an integer, got {self.seed!r}")


def _permuted(units: list[str], rng: random.Random) -> list[str]:
    """A random order of ``units`` that differs from the original when any two differ."""
    if len(set(units)) < 2:
        return units
    order = list(units)
    while order == units:
        rng.shuffle(order)
    return order


def shuffle_rationale(rationale: str, seed: int) -> str:
    """Shuffle the sentence order, or the words of a one-sentence rationale.

    >>> shuffle_rationale("One. Two.", 0)
    'Two. One.'
    """
    rng = random.Random(seed)
    sentences = _SENTENCE_END.split(rationale.strip())
    if len(sentences) >= 2:
        return " ".join(_permuted(sentences, rng))
    return " ".join(_permuted(rationale.split(), rng))


def drop_words(rationale: str, seed: int) -> str:
    """Delete half of the words at random, keeping ``n // 2`` words in their order.

    >>> drop_words("a b c d", 0)
    'b d'
    """
    words = rationale.split()
    keep = sorted(random.Random(seed).sample(range(len(words)), len(words) // 2))
    return " ".join(words[i] for i in keep)


def truncate_rationale(rationale: str) -> str:
    """Keep the first ``n // 2`` words.

    >>> truncate_rationale("a b c d e")
    'a b'
    """
    words = rationale.split()
    return " ".join(words[: len(words) // 2])


def perturb_numbers(rationale: str, seed: int) -> str:
    """Add a random non-zero offset to the integer part of every numeral (result >= 0).

    >>> perturb_numbers("3+4=7", 0)
    '7+13=14'
    """
    rng = random.Random(seed)

    def perturb(match: re.Match[str]) -> str:
        value = int(match.group(1))
        offsets = [d for d in range(-min(value, 9), 10) if d != 0]
        return str(value + rng.choice(offsets)) + (match.group(2) or "")

    return _NUMERAL.sub(perturb, rationale)


def swap_rationales(rationales: Sequence[str], seed: int) -> tuple[str, ...]:
    """Permute ``rationales`` by a random derangement: no position keeps its own entry.

    >>> swap_rationales(["a", "b", "c"], 0)
    ('b', 'c', 'a')
    """
    n = len(rationales)
    if n < 2:
        return tuple(rationales)
    rng = random.Random(seed)
    order = list(range(n))
    while any(i == j for i, j in enumerate(order)):
        rng.shuffle(order)
    return tuple(rationales[j] for j in order)


def apply_noise(examples: Sequence[Example], config: NoiseConfig) -> tuple[Example, ...]:
    """The training ``examples`` with the rationales of ``round(level * n)`` of them corrupted.

    >>> apply_noise([], NoiseConfig("shuffle", 0.5))
    ()
    """
    examples = tuple(examples)
    n = len(examples)
    rng = random.Random(config.seed)
    affected = sorted(rng.sample(range(n), round(config.level * n)))
    if config.type == "none" or not affected:
        return examples
    rationales = [ex.rationale for ex in examples]
    if config.type == "swap":
        if len(affected) == 1 and n >= 2:
            donor = rng.choice([i for i in range(n) if i != affected[0]])
            new = (rationales[donor],)
        else:
            new = swap_rationales([rationales[i] for i in affected], rng.getrandbits(64))
    elif config.type == "truncate":
        new = tuple(truncate_rationale(rationales[i]) for i in affected)
    else:
        function = {"shuffle": shuffle_rationale, "drop": drop_words, "numbers": perturb_numbers}[
            config.type
        ]
        new = tuple(function(rationales[i], rng.getrandbits(64)) for i in affected)
    out = list(examples)
    for i, rationale in zip(affected, new, strict=True):
        out[i] = replace(examples[i], rationale=rationale)
    return tuple(out)
