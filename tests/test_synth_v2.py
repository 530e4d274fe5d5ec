"""Generator version 2 of ``synth`` (task families, clean defaults), the character tokenizer,
suite grids, and that version 1's configs, hashes and bundles are unchanged by them."""

from __future__ import annotations

import doctest
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from bench import char_tokenizer as char_module
from bench.char_tokenizer import char_tokenizer
from bench.config import RunConfig, apply_overrides, config_from_dict
from bench.data import synth_v2
from bench.data.example import DatasetSplits, Example
from bench.data.options import LoadOptions, SynthConfig
from bench.data.synth import load_synth
from bench.errors import ConfigError
from bench.suites import grid_cells, load_suite, plan_runs
from tests.test_synth import compute, true_answer

ROOT = Path(__file__).parents[1]
CHAIN = SynthConfig(version=2, n_train=150, n_valid=20, n_test=30, steps=2, distractors=3)
FEATURES = SynthConfig(version=2, family="features", n_train=150, n_valid=20, n_test=30)
STEP = re.compile(r"([a-z])=([a-z])([-+*])(\d)=(\d)([-+*])(\d)=(\d)\.")


def load(config: SynthConfig, label_type: str = "gt", **settings: object) -> DatasetSplits:
    return load_synth(
        LoadOptions(Path("unused"), label_type=label_type, synth=replace(config, **settings))
    )


def features_answer(example: Example, combine: str) -> tuple[list[int], str]:
    """The features and the answer recomputed from the input alone."""
    (text,) = example.input_parts
    digits = [[int(d) for d in part.split("=")[1]] for part in text.split("; ")]
    features = [max(digits[0])]
    if len(digits) > 1:
        features.append(sum(digits[1]) % 10)
    if len(digits) > 2:
        features.append(sum(d % 2 == 0 for d in digits[2]))
    total = sum(features) % 10
    return features, str(total % 2 if combine == "parity" else total)


def test_version_2_defaults_to_a_correct_teacher_and_version_1_keeps_its_noise():
    assert SynthConfig().resolved().teacher_error == 0.25
    assert SynthConfig(version=2).resolved().teacher_error == 0.0
    for config in (CHAIN, FEATURES):
        splits = load(config)
        assert all(ex.label == ex.teacher_label == ex.gold for ex in splits.train)
        assert "synth-v2" in splits.sources["generator"]
        assert "teacher_error=0.0" in splits.sources["generator"]


def test_chain_rationale_follows_only_the_asked_chain_among_distractors():
    splits = load(CHAIN)
    for ex in (*splits.train, *splits.test):
        (text,) = ex.input_parts
        statements = text.split("; ")[:-1]
        assert len(statements) == (CHAIN.distractors + 1) * (CHAIN.steps + 1)
        steps = STEP.findall(ex.rationale)
        assert len(steps) == CHAIN.steps
        asked = re.search(r"what is ([a-z])\?", text).group(1)
        assert steps[-1][0] == asked
        for new, old, op, k, before, _, _, after in steps:
            assert f"{new}={old}{op}{k}" in statements
            assert int(after) == compute(int(before), op, int(k))
        assert ex.gold == ex.label == true_answer(ex) == steps[-1][-1]
        assert ex.gold in ex.candidates and len(ex.candidates) == CHAIN.n_candidates


@pytest.mark.parametrize("combine", ["sum", "parity"])
@pytest.mark.parametrize("n_lists", [2, 3])
def test_features_rationale_states_each_feature_then_the_combination(combine, n_lists):
    splits = load(FEATURES, combine=combine, n_lists=n_lists, list_len=4)
    labels = set()
    for ex in (*splits.train, *splits.valid):
        features, answer = features_answer(ex, combine)
        stated = [int(v) for v in re.findall(r"[a-z]+ [abc]=(\d)\.", ex.rationale)]
        assert stated == features
        assert ex.rationale.split(" ")[2 * n_lists].startswith("+".join(map(str, features)) + "=")
        assert ex.gold == ex.label == answer
        assert ex.rationale.endswith(f"={answer}.")
        labels.add(ex.gold)
    if combine == "parity":
        assert labels == {"0", "1"}
        assert all(ex.candidates == ("0", "1") for ex in splits.test)  # min(5, 2 answers)
    else:
        assert len(labels) == 10


TRACE = re.compile(r"(max|sum|even) ([abc])=([\d,+=]+)\.")


def prefix_features(name: str, digits: list[int]) -> list[int]:
    """The feature of every prefix of ``digits``, computed independently of the generator."""
    prefixes = [digits[: i + 1] for i in range(len(digits))]
    return {
        "max": [max(p) for p in prefixes],
        "sum": [sum(p) % 10 for p in prefixes],
        "even": [sum(d % 2 == 0 for d in p) for p in prefixes],
    }[name]


def read_trace(name: str, text: str) -> tuple[list[int] | None, list[int]]:
    """(the digits a running sum writes out, None for max/even; the running values)."""
    if name != "sum":
        return None, [int(v) for v in text.split(",")]
    first, *steps = text.split("+")
    pairs = [step.split("=") for step in steps]
    return [int(first), *(int(t) for t, _ in pairs)], [int(first), *(int(v) for _, v in pairs)]


@pytest.mark.parametrize("combine", ["sum", "parity"])
def test_running_trace_states_every_step_and_the_running_sum(combine):
    """Each step of a running rationale is one digit operation on the input and the step
    before; only the rationale changes, not the problems."""
    final = load(FEATURES, combine=combine, list_len=4)
    running = load(FEATURES, combine=combine, list_len=4, trace="running")
    pairs = zip((*final.train, *final.test), (*running.train, *running.test), strict=True)
    for before, ex in pairs:
        assert (ex.input_parts, ex.gold, ex.candidates) == (
            before.input_parts,
            before.gold,
            before.candidates,
        )
        (text,) = ex.input_parts
        lists = [[int(d) for d in part.split("=")[1]] for part in text.split("; ")]
        stated = TRACE.findall(ex.rationale)
        assert [name for name, _, _ in stated] == ["max", "sum", "even"]
        for (name, _, trace), digits in zip(stated, lists, strict=True):
            written, values = read_trace(name, trace)
            assert values == prefix_features(name, digits)
            assert written in (None, digits)  # the digit sum writes out every digit it adds
        features, answer = features_answer(ex, combine)
        combination = ex.rationale.split(" ")[2 * len(lists)]  # the sentence after the features
        sums = re.fullmatch(r"(\d)\+(\d)=(\d)\+(\d)=(\d)\.", combination).groups()
        assert [int(sums[0]), int(sums[1]), int(sums[3])] == features
        assert int(sums[2]) == (features[0] + features[1]) % 10
        assert int(sums[4]) == sum(features) % 10
        assert ex.rationale.endswith(f"={answer}.")


def test_running_trace_teacher_error_is_a_wrong_last_step():
    splits = load(FEATURES, trace="running", teacher_error=0.2)
    wrong = [ex for ex in splits.train if ex.teacher_label != ex.gold]
    assert len(wrong) == round(0.2 * FEATURES.n_train)
    for ex in wrong:
        (text,) = ex.input_parts
        lists = [[int(d) for d in part.split("=")[1]] for part in text.split("; ")]
        stated = TRACE.findall(ex.rationale)
        traces = [(name, *read_trace(name, trace)) for name, _, trace in stated]
        features = [values[-1] for _, _, values in traces]
        true_features, _ = features_answer(ex, "sum")
        assert sum(a != b for a, b in zip(features, true_features, strict=True)) == 1
        assert ex.rationale.endswith(f"={ex.teacher_label}.")
        for (name, written, values), digits in zip(traces, lists, strict=True):
            assert values[:-1] == prefix_features(name, digits)[:-1]  # only the last is wrong
            assert written in (None, digits)


def test_teacher_error_is_exact_and_wrong_in_every_family():
    for config in (CHAIN, FEATURES, replace(FEATURES, combine="parity")):
        splits = load(config, teacher_error=0.2)
        wrong = [ex for ex in splits.train if ex.teacher_label != ex.gold]
        assert len(wrong) == round(0.2 * config.n_train)
        assert all(ex.label == ex.gold for ex in splits.train)
        assert all(ex.teacher_label == ex.gold for ex in (*splits.valid, *splits.test))
        llm = load(config, label_type="llm", teacher_error=0.2)
        assert [ex.label for ex in llm.train] == [ex.teacher_label for ex in splits.train]


def test_same_settings_same_examples_and_splits_extend():
    for config in (CHAIN, FEATURES):
        assert load(config) == load(config)
        bigger = load(config, n_train=300, n_test=50)
        assert bigger.train[: config.n_train] == load(config).train
        assert bigger.test[: config.n_test] == load(config).test
        assert load(config, seed=1).train != load(config).train


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"version": 3}, "synth.version"),
        ({"version": 1, "family": "features"}, "synth.family: needs synth.version=2"),
        ({"version": 1, "distractors": 2}, "synth.distractors: needs synth.version=2"),
        ({"family": "trees"}, "synth.family"),
        ({"combine": "max"}, "synth.combine"),
        ({"trace": "steps"}, "synth.trace"),
        (
            {"version": 1, "distractors": 0, "trace": "running"},
            "synth.trace: needs synth.version=2",
        ),
        ({"n_lists": 4}, "synth.n_lists"),
        ({"list_len": 10}, "synth.list_len"),
        ({"distractors": 9}, "distinct letters"),
        ({"distractors": -1}, "synth.distractors"),
        ({"spaced_digits": True}, "synth.spaced_digits: applies to synth.family=features"),
        ({"spaced_digits": "yes"}, "synth.spaced_digits: expected true or false"),
        ({"version": 1, "distractors": 0, "spaced_digits": True}, "synth.spaced_digits: needs"),
    ],
)
def test_bad_knobs_fail_with_one_line_naming_the_key(settings, message):
    with pytest.raises(ConfigError, match=message) as err:
        load(CHAIN, **settings)
    assert "\n" not in str(err.value)


def test_spaced_digits_write_the_same_problems_with_one_word_per_digit():
    """Only the input's spelling changes: the same lists, rationales and labels, and the
    config hash of the unspaced default is unchanged."""
    plain, spaced = (
        load(FEATURES, trace="running"),
        load(FEATURES, trace="running", spaced_digits=True),
    )
    for a, b in zip(plain.train + plain.test, spaced.train + spaced.test, strict=True):
        assert b.input_parts[0] == re.sub(
            r"(?<==)(\d+)", lambda m: " ".join(m[1]), a.input_parts[0]
        )
        assert (b.rationale, b.label, b.candidates) == (a.rationale, a.label, a.candidates)
    assert re.fullmatch(r"a=\d \d \d; b=\d \d \d; c=\d \d \d", spaced.test[0].input_parts[0])
    config = RunConfig(synth=FEATURES)
    assert (
        apply_overrides(config, {"synth.spaced_digits": False}).config_hash()
        == config.config_hash()
    )
    assert (
        apply_overrides(config, {"synth.spaced_digits": True}).config_hash() != config.config_hash()
    )


def test_version_1_configs_hash_and_generate_as_before():
    """The new keys at their defaults leave version-1 configs, hashes and data unchanged."""
    old = RunConfig().to_dict()
    for key in ("version", "family", "distractors", "n_lists", "list_len", "combine"):
        del old["synth"][key]
    for key in ("tokenizer", "early_stopping_patience"):
        del old[key]
    assert config_from_dict(old).config_hash() == RunConfig().config_hash()
    explicit = apply_overrides(RunConfig(), {"synth.teacher_error": 0.25})
    assert explicit.config_hash() == RunConfig().config_hash()
    assert RunConfig().to_dict()["synth"]["teacher_error"] == 0.25  # config.json is concrete
    for change in (
        {"synth.version": 2},
        {"synth.version": 2, "synth.distractors": 1},
        {"tokenizer": "char"},
        {"early_stopping_patience": 3},
    ):
        assert apply_overrides(RunConfig(), change).config_hash() != RunConfig().config_hash()
    v1 = load_synth(LoadOptions(Path("unused"), synth=SynthConfig(n_train=3)))
    assert (
        v1.sources["generator"].startswith("synth-v1 ")
        and "teacher_error=0.25" in (v1.sources["generator"])
    )


@pytest.mark.parametrize("bundle", ["synth-cpu", "smoke-cpu"])
def test_published_suites_still_plan_the_bundles_runs(bundle):
    """`bench run --suite <suite> --profile <profile>` of a bundle plans exactly its runs."""
    provenance = json.loads((ROOT / "results" / bundle / "provenance.json").read_text())
    suite = load_suite(provenance["suite"])
    _, configs = plan_runs(suite, provenance["profile"])
    planned = {c.config_hash() for c in configs}
    recorded = {
        json.loads(p.read_text())["config_hash"]
        for p in (ROOT / "results" / bundle / "runs").rglob("config.json")
    }
    assert planned <= recorded
    assert {c.config_hash() for c in configs if c.strategy == "finetune"} & recorded


def test_char_tokenizer_gives_one_token_per_character_and_round_trips(tmp_path):
    texts = ["a=381; b=527; what is max(a)+sum(b)?", "max(a)=8. sum(b)=4. 8+4=2.", "So"]
    tokenizer, path = char_tokenizer(texts, cache_dir=tmp_path)
    _, same_path = char_tokenizer(list(reversed(texts)), cache_dir=tmp_path / "other")
    assert path.read_text() == same_path.read_text()  # a pure function of the characters
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        assert len(ids) == len(text) + 1 and ids[-1] == tokenizer.eos_token_id
        assert tokenizer.decode(ids, skip_special_tokens=True) == text
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)
    assert doctest.testmod(char_module).failed == 0


def test_grid_cells_combine_named_override_sets_and_key_values():
    cells = grid_cells(
        {"task": [{"synth.family": "chain"}, {"synth.family": "features"}], "lr": [0.1, 0.2]},
        "here",
    )
    assert cells == [
        {"synth.family": "chain", "lr": 0.1},
        {"synth.family": "chain", "lr": 0.2},
        {"synth.family": "features", "lr": 0.1},
        {"synth.family": "features", "lr": 0.2},
    ]
    assert grid_cells(None, "here") == [{}]
    with pytest.raises(ConfigError, match="grid axis 'lr'"):
        grid_cells({"lr": 0.1}, "here")


def test_synth_grid_suite_plans_every_cell_once(tmp_path):
    suite = load_suite("synth-grid")
    _, configs = plan_runs(suite)
    cells = grid_cells(suite.profiles[suite.default_profile]["grid"], "synth-grid")
    per_cell = len(suite.strategies) * len(suite.seeds)
    assert len(configs) == len(cells) * per_cell
    assert len({(c.config_hash(), c.seed) for c in configs}) == len(configs)
    assert {c.synth.version for c in configs} == {2}
    assert {c.synth.teacher_error for c in configs} == {0.0}
    assert {c.synth.n_train for c in configs} == {1000, 4000, 16000}
    # a CLI override of a grid key collapses the cells it makes equal
    _, fixed = plan_runs(suite, overrides={"synth.n_train": 1000})
    assert len(fixed) == len(configs) // 3


def test_default_synth_suite_is_the_version_2_cell():
    suite = load_suite("synth")
    _, configs = plan_runs(suite)
    assert {(c.synth.version, c.tokenizer, c.synth.teacher_error) for c in configs} == {
        (2, "char", 0.0)
    }
    assert all(c.early_stopping_patience for c in configs)
    assert {(c.synth.family, c.synth.trace) for c in configs} == {("features", "running")}
    assert doctest.testmod(synth_v2).failed == 0
