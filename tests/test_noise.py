"""Rationale noise: exact affected counts, determinism, and each noise type's contract."""

from __future__ import annotations

import doctest
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from bench.data import noise
from bench.data.example import Example
from bench.data.noise import (
    NOISE_TYPES,
    NoiseConfig,
    apply_noise,
    drop_words,
    perturb_numbers,
    shuffle_rationale,
    swap_rationales,
    truncate_rationale,
)
from bench.data.options import LoadOptions, SynthConfig
from bench.data.synth import load_synth
from bench.errors import ConfigError

NUMERAL = re.compile(r"\d+(?:\.\d+)?")
CORRUPTING = tuple(t for t in NOISE_TYPES if t != "none")


def make_examples(n: int = 40) -> tuple[Example, ...]:
    """``n`` examples with distinct three-sentence rationales containing numerals."""
    return tuple(
        Example(
            id=f"ex-{i}",
            input_parts=(f"question {i}",),
            label=str(i % 3),
            rationale=f"Start with {i} apples. Add {i + 3} to get {2 * i + 3}. So {i % 3} it is.",
            teacher_label=str((i + 1) % 3),
            gold=str(i % 3),
        )
        for i in range(n)
    )


def changed(before: tuple[Example, ...], after: tuple[Example, ...]) -> list[int]:
    """Indices whose rationale changed; also checks nothing but the rationale changed."""
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        assert replace(b, rationale=a.rationale) == a
    return [
        i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a.rationale != b.rationale
    ]


@pytest.mark.parametrize("noise_type", CORRUPTING)
@pytest.mark.parametrize("level", [0.1, 0.3, 0.55])
def test_exactly_round_level_n_affected(noise_type: str, level: float) -> None:
    examples = make_examples()
    noisy = apply_noise(examples, NoiseConfig(noise_type, level, seed=3))
    affected = changed(examples, noisy)
    assert len(affected) == round(level * len(examples))
    for i in set(range(len(examples))) - set(affected):
        assert noisy[i] == examples[i]


@pytest.mark.parametrize("noise_type", CORRUPTING)
def test_deterministic_and_seeded(noise_type: str) -> None:
    examples = make_examples()
    config = NoiseConfig(noise_type, 0.5, seed=7)
    assert apply_noise(examples, config) == apply_noise(examples, config)
    other = apply_noise(examples, replace(config, seed=8))
    assert changed(examples, other) != changed(examples, apply_noise(examples, config))


def test_same_seed_affects_the_same_examples_for_every_type() -> None:
    examples = make_examples()
    chosen = {
        tuple(changed(examples, apply_noise(examples, NoiseConfig(t, 0.3, seed=1))))
        for t in CORRUPTING
    }
    assert len(chosen) == 1


@pytest.mark.parametrize("noise_type", NOISE_TYPES)
def test_level_zero_is_identity_and_level_one_affects_all(noise_type: str) -> None:
    examples = make_examples()
    assert apply_noise(examples, NoiseConfig(noise_type, 0.0)) == examples
    everything = changed(examples, apply_noise(examples, NoiseConfig(noise_type, 1.0)))
    assert len(everything) == (0 if noise_type == "none" else len(examples))


def test_empty_input_and_tuple_output() -> None:
    assert apply_noise([], NoiseConfig("swap", 1.0)) == ()
    assert isinstance(apply_noise(list(make_examples(3)), NoiseConfig()), tuple)


@pytest.mark.parametrize("level", [0.05, 0.5, 1.0])
def test_swap_is_a_derangement_of_the_affected(level: float) -> None:
    examples = make_examples()
    noisy = apply_noise(examples, NoiseConfig("swap", level, seed=2))
    affected = changed(examples, noisy)
    assert len(affected) == round(level * len(examples))
    own = {ex.rationale for ex in examples}
    for i in affected:
        assert noisy[i].rationale in own
    if len(affected) >= 2:
        before = Counter(examples[i].rationale for i in affected)
        assert Counter(noisy[i].rationale for i in affected) == before


def test_swap_single_affected_takes_another_rationale() -> None:
    examples = make_examples(10)
    noisy = apply_noise(examples, NoiseConfig("swap", 0.1, seed=5))
    (i,) = changed(examples, noisy)
    assert noisy[i].rationale in {ex.rationale for j, ex in enumerate(examples) if j != i}


def test_numbers_changes_every_numeral_of_affected_rationales() -> None:
    examples = make_examples()
    noisy = apply_noise(examples, NoiseConfig("numbers", 0.5, seed=4))
    for i in changed(examples, noisy):
        old, new = NUMERAL.findall(examples[i].rationale), NUMERAL.findall(noisy[i].rationale)
        assert len(old) == len(new) == 4
        assert all(a != b and int(b) >= 0 for a, b in zip(old, new, strict=True))
        assert NUMERAL.sub("#", examples[i].rationale) == NUMERAL.sub("#", noisy[i].rationale)


def test_perturb_numbers_unit() -> None:
    text = "0 and 12.5 and 007, then 3+4=7."
    for seed in range(50):
        out = perturb_numbers(text, seed)
        old, new = NUMERAL.findall(text), NUMERAL.findall(out)
        assert all(a != b and float(b) >= 0 for a, b in zip(old, new, strict=True))
        assert new[1].endswith(".5")
    assert perturb_numbers(text, 1) == perturb_numbers(text, 1)
    assert perturb_numbers("no digits here", 0) == "no digits here"


def test_shuffle_rationale_unit() -> None:
    text = "One is here. Two is there! Three? Four."
    outputs = {shuffle_rationale(text, seed) for seed in range(20)}
    assert text not in outputs and len(outputs) > 1
    for out in outputs:
        assert sorted(out.split(" ")) == sorted(text.split(" "))
        assert sorted(re.split(r"(?<=[.!?]) ", out)) == sorted(re.split(r"(?<=[.!?]) ", text))
    single = "a b c d e"
    assert shuffle_rationale(single, 0) != single
    assert sorted(shuffle_rationale(single, 0).split()) == single.split()
    assert shuffle_rationale("same same", 0) == "same same"
    assert shuffle_rationale(text, 3) == shuffle_rationale(text, 3)


def test_drop_words_unit() -> None:
    words = [f"w{i}" for i in range(9)]
    text = " ".join(words)
    outputs = {drop_words(text, seed) for seed in range(20)}
    assert len(outputs) > 1
    for out in outputs:
        kept = out.split()
        assert len(kept) == 4
        assert kept == [w for w in words if w in kept]
    assert drop_words(text, 2) == drop_words(text, 2)
    assert drop_words("alone", 0) == ""


def test_truncate_rationale_unit() -> None:
    assert truncate_rationale("a b c d e") == "a b"
    assert truncate_rationale("a  b\nc d") == "a b"
    assert truncate_rationale("alone") == ""


def test_swap_rationales_unit() -> None:
    items = [f"r{i}" for i in range(6)]
    for seed in range(30):
        out = swap_rationales(items, seed)
        assert sorted(out) == items
        assert all(a != b for a, b in zip(items, out, strict=True))
    assert swap_rationales(["only"], 0) == ("only",)
    assert swap_rationales(["a", "b"], 9) == ("b", "a")


def test_noise_on_synth_rationales() -> None:
    train = load_synth(LoadOptions(Path("unused"), synth=SynthConfig(n_train=50))).train
    for noise_type in CORRUPTING:
        assert len(changed(train, apply_noise(train, NoiseConfig(noise_type, 0.5)))) == 25


@pytest.mark.parametrize("bad", ["gaussian", "", "Shuffle"])
def test_bad_type(bad: str) -> None:
    with pytest.raises(
        ConfigError, match=r"^noise\.type: expected one of none, shuffle, drop, swap"
    ):
        NoiseConfig(bad, 0.5)


@pytest.mark.parametrize("bad", [-0.1, 1.01, float("nan"), "0.5", True])
def test_bad_level(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"^noise\.level: expected a fraction in \[0, 1\]"):
        NoiseConfig("drop", bad)


def test_bad_seed() -> None:
    with pytest.raises(ConfigError, match=r"^noise\.seed: expected an integer"):
        NoiseConfig("drop", 0.5, seed=1.5)


def test_docstring_examples() -> None:
    assert doctest.testmod(noise).failed == 0
