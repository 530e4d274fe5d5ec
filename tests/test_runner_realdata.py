"""One tiny run per DSS dataset on the real shared data: the whole pipeline (NLI parts joined by
the tokenizer's EOS token, CQA candidates, SVAMP's equation metric) produces complete runs."""

from __future__ import annotations

import pytest

from bench.runner import RunOptions, load_run_data, run_one
from bench.store import read_jsonl
from tests.helpers import tiny_config

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.mark.parametrize("dataset", ["cqa", "svamp", "esnli", "anli1"])
def test_tiny_run_on_real_data(dss_data_dir, tmp_path, dataset):
    config = tiny_config(
        dataset=dataset,
        strategy="dss",
        max_train=32,
        max_eval=6,
        max_steps=2,
        eval_every=2,
        vocab_size=400,
        max_input_length=96,
    )
    result = run_one(
        config, RunOptions("t", runs_dir=tmp_path, data_dir=dss_data_dir), echo=lambda _: None
    )
    rows = read_jsonl(result.directory / "predictions.jsonl")
    splits = load_run_data(config, dss_data_dir)
    assert [r["id"] for r in rows] == [ex.id for ex in splits.test]
    assert [r["gold"] for r in rows] == [ex.gold for ex in splits.test]
    closed = splits.kind == "closed"
    assert all((r["candidate_probs"] is not None) == closed for r in rows)
    if dataset in {"esnli", "anli1"}:
        assert set(rows[0]["candidate_probs"]) == {"entailment", "neutral", "contradiction"}
        assert " || " in rows[0]["input"]  # premise and hypothesis stay separate parts


def test_llm_labels_and_second_teacher(dss_data_dir):
    gold = load_run_data(tiny_config(dataset="cqa", max_eval=5), dss_data_dir)
    llm = load_run_data(tiny_config(dataset="cqa", label_type="llm", max_eval=5), dss_data_dir)
    assert [e.label for e in llm.train] == [e.teacher_label for e in gold.train]
    assert [e.label for e in llm.test] == [e.gold for e in gold.test]
    llama = load_run_data(tiny_config(dataset="svamp", teacher="llama3"), dss_data_dir)
    palm = load_run_data(tiny_config(dataset="svamp"), dss_data_dir)
    assert [e.id for e in llama.train] == [e.id for e in palm.train]
    assert [e.rationale for e in llama.train] != [e.rationale for e in palm.train]
