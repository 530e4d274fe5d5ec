"""Paper reference files and the verdict rules (reproduced / not reproduced / not comparable /
missing), on hand-built run stores and summaries (no training)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reports.collect import RunStore
from reports.paper import claims_table, load_papers, parse_paper, verdict_table

SETTING = {"model": "google/t5-v1_1-base", "max_train": None, "lr": 5.0e-5}
PAPER = {
    "key": "toy",
    "paper": "Toy paper",
    "arxiv": "0000.00000",
    "url": "https://example.org",
    "code": "none",
    "setting": SETTING,
    "datasets": {"cqa": {"test_n": 1221, "train_n": 8766}},
    "results": [
        {"strategy": "dss", "dataset": "cqa", "accuracy": 63.29, "source": {"table": "Table 2"}}
    ],
    "claims": [
        {
            "text": "dss beats finetune",
            "metric": "accuracy",
            "a": "dss",
            "b": "finetune",
            "direction": "higher",
            "datasets": ["cqa"],
            "source": {"table": "Table 2", "page": 7},
        }
    ],
}


def _store(tmp_path: Path, **config_changes) -> RunStore:
    """Two conditions (dss, finetune) on cqa, one seed each, in the paper's setting by default."""
    config = {**SETTING, "dataset": "cqa", **config_changes}
    rows, configs = [], {}
    for strategy in ("dss", "finetune"):
        run_id = f"s/cqa/{strategy}/h-{strategy}/seed-0"
        rows.append(
            {
                "run_id": run_id,
                "suite": "s",
                "profile": "paper",
                "dataset": "cqa",
                "strategy": strategy,
                "config_hash": f"h-{strategy}",
                "seed": 0,
                "model": config["model"],
                "n_train": config_changes.get("n_train", 8766),
                "n_test": 1221,
            }
        )
        configs[run_id] = {**config, "strategy": strategy}
    return RunStore(tmp_path, pd.DataFrame(rows), pd.DataFrame(), pd.DataFrame(), configs)


def _summary(store: RunStore, low: float, high: float) -> pd.DataFrame:
    rows = store.runs[store.runs["strategy"] == "dss"].assign(
        accuracy=(low + high) / 2, std=float("nan"), ci_low=low, ci_high=high, n_seeds=1, level=0.95
    )
    return rows.drop(columns=["run_id", "seed"])


def _verdict(store: RunStore, low: float, high: float) -> pd.Series:
    table = verdict_table(store, _summary(store, low, high), [parse_paper(PAPER, "toy")])
    assert len(table) == 1
    return table.iloc[0]


def test_reproduced_when_the_paper_value_is_inside_our_ci(tmp_path):
    row = _verdict(_store(tmp_path), 0.62, 0.65)
    assert row["verdict"] == "reproduced"
    assert row["diff"] == pytest.approx(63.5 - 63.29)


def test_not_reproduced_when_outside(tmp_path):
    row = _verdict(_store(tmp_path), 0.40, 0.45)
    assert row["verdict"] == "not reproduced"


def test_not_comparable_names_the_differences(tmp_path):
    row = _verdict(_store(tmp_path, model="tiny-t5", max_train=2000), 0.62, 0.65)
    assert row["verdict"] == "not comparable"
    assert "model = tiny-t5 (paper: google/t5-v1_1-base)" in row["reason"]
    assert "max_train = 2000 (paper: all)" in row["reason"]


def test_not_comparable_on_a_smaller_training_set(tmp_path):
    row = _verdict(_store(tmp_path, n_train=1000), 0.62, 0.65)
    assert row["verdict"] == "not comparable"
    assert row["reason"] == "train n = 1,000 (paper: 8,766)"


def test_missing_without_runs(tmp_path):
    store = _store(tmp_path)
    empty = _summary(store, 0.6, 0.7).iloc[0:0]
    table = verdict_table(store, empty, [parse_paper(PAPER, "toy")])
    assert table["verdict"].tolist() == ["missing"]


@pytest.mark.parametrize(
    ("ours", "expected"),
    [("dss better", "reproduced"), ("no significant difference", "not reproduced")],
)
def test_claims_need_a_significant_paired_test(tmp_path, ours, expected):
    store = _store(tmp_path)
    paired = pd.DataFrame(
        [
            {
                "suite": "s",
                "profile": "paper",
                "dataset": "cqa",
                "a": "dss",
                "b": "finetune",
                "config_hash_a": "h-dss",
                "config_hash_b": "h-finetune",
                "diff": 0.01,
                "ci_low": -0.01,
                "ci_high": 0.03,
                "p_holm": 0.01 if ours != "no significant difference" else 0.4,
                "claim": ours,
            }
        ]
    )
    table = claims_table(store, paired, pd.DataFrame(), [parse_paper(PAPER, "toy")])
    assert table["verdict"].tolist() == [expected]
    assert table["source"].tolist() == ["Table 2, p. 7"]


def test_unknown_keys_fail_loudly():
    with pytest.raises(ValueError, match="unknown key"):
        parse_paper({**PAPER, "typo": 1}, "toy")
    bad = {**PAPER, "results": [{**PAPER["results"][0], "acc": 1}]}
    with pytest.raises(ValueError, match="unknown key"):
        parse_paper(bad, "toy")


def test_packaged_paper_files():
    papers = {p.key: p for p in load_papers()}
    assert set(papers) == {"dss_2023", "mi_2024"}
    dss, mi = papers["dss_2023"], papers["mi_2024"]
    assert {(r.strategy, r.dataset) for r in dss.results} >= {
        (s, d)
        for s in ("finetune", "single-task", "dss")
        for d in ("esnli", "anli1", "cqa", "svamp")
    }
    assert all(r.source.startswith(("Table", "DSS Table", "public")) for r in dss.results)
    assert all(r.reconstructed for r in mi.results)  # derived from stated gains
    assert all(r.setting["model"] == "google/t5-v1_1-base" for r in mi.results)
    assert {c.metric for c in mi.claims} == {"accuracy", "ece_w10"}
