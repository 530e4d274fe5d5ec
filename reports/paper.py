"""Paper reference numbers (``reports/papers/*.yaml``) and verdicts against our runs.

Verdicts of a paper number against one of our conditions:

- ``not comparable``: our run differs from the paper's setting (any key of the file's
  ``setting`` / ``strategy_settings`` / the result's own ``setting``, or the train/test size);
  the differences are the reason shown;
- ``reproduced``: comparable and the paper value lies inside our bootstrap CI (95% by default);
- ``not reproduced``: comparable and it does not;
- ``missing``: no finished run of that strategy on that dataset.

A directional claim (``a`` better than ``b``) is ``reproduced`` only where our Holm-corrected
paired test finds ``a`` significantly better in the claimed direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from reports.collect import RunStore

REPRODUCED, NOT_REPRODUCED, NOT_COMPARABLE, MISSING = (
    "reproduced",
    "not reproduced",
    "not comparable",
    "missing",
)
PAPER_KEYS = {
    "key",
    "paper",
    "arxiv",
    "url",
    "code",
    "setting",
    "strategy_settings",
    "datasets",
    "runs",
    "results",
    "claims",
}
RESULT_KEYS = {"strategy", "dataset", "accuracy", "setting", "reconstructed", "source"}
CLAIM_KEYS = {"text", "metric", "a", "b", "direction", "datasets", "source"}
DIRECTIONS = {"higher": "better", "lower": "better calibrated"}


@dataclass(frozen=True)
class PaperResult:
    """One reported accuracy (percent) with the setting it was produced in."""

    paper: str
    strategy: str
    dataset: str
    accuracy: float
    setting: dict[str, Any]
    sizes: dict[str, int]
    reconstructed: bool
    source: str


@dataclass(frozen=True)
class PaperClaim:
    """A directional claim: ``a`` beats ``b`` on ``metric`` (``higher`` or ``lower`` is better)."""

    paper: str
    text: str
    metric: str
    a: str
    b: str
    direction: str
    datasets: tuple[str, ...]
    settings: dict[str, dict[str, Any]]  # strategy -> full setting of that arm
    sizes: dict[str, dict[str, int]]
    source: str


@dataclass(frozen=True)
class Paper:
    """A parsed paper file."""

    key: str
    title: str
    arxiv: str
    url: str
    code: str
    results: tuple[PaperResult, ...] = field(default_factory=tuple)
    claims: tuple[PaperClaim, ...] = field(default_factory=tuple)


def _check(where: str, data: dict, allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; expected {sorted(allowed)}")


def _source(source: dict[str, Any]) -> str:
    page = source.get("page")
    return source["table"] + (f", p. {page}" if page else "")


def parse_paper(data: dict[str, Any], where: str) -> Paper:
    """Build a :class:`Paper` from a paper file's YAML mapping (unknown keys raise)."""
    _check(where, data, PAPER_KEYS)
    base, per_strategy = data.get("setting", {}), data.get("strategy_settings", {})
    sizes = data.get("datasets", {})

    def setting(strategy: str, extra: dict | None = None) -> dict[str, Any]:
        return {**base, **per_strategy.get(strategy, {}), **(extra or {})}

    results = []
    for item in data.get("results", []):
        _check(f"{where} result", item, RESULT_KEYS)
        results.append(
            PaperResult(
                paper=data["key"],
                strategy=item["strategy"],
                dataset=item["dataset"],
                accuracy=float(item["accuracy"]),
                setting=setting(item["strategy"], item.get("setting")),
                sizes=sizes.get(item["dataset"], {}),
                reconstructed=bool(item.get("reconstructed", False)),
                source=_source(item["source"]),
            )
        )
    claims = []
    for item in data.get("claims", []):
        _check(f"{where} claim", item, CLAIM_KEYS)
        if item["direction"] not in DIRECTIONS:
            raise ValueError(f"{where} claim: direction must be one of {sorted(DIRECTIONS)}")
        claims.append(
            PaperClaim(
                paper=data["key"],
                text=item["text"],
                metric=item["metric"],
                a=item["a"],
                b=item["b"],
                direction=item["direction"],
                datasets=tuple(item["datasets"]),
                settings={s: setting(s) for s in (item["a"], item["b"])},
                sizes=sizes,
                source=_source(item["source"]),
            )
        )
    return Paper(
        key=data["key"],
        title=data["paper"],
        arxiv=str(data["arxiv"]),
        url=data["url"],
        code=data["code"],
        results=tuple(results),
        claims=tuple(claims),
    )


def load_papers(directory: str | Path | None = None) -> list[Paper]:
    """Every ``*.yaml`` paper file in ``directory`` (default: the packaged ``reports/papers``)."""
    folder = Path(directory) if directory else resources.files("reports") / "papers"
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)
    return [parse_paper(yaml.safe_load(p.read_text()), str(p.name)) for p in files]


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) and isinstance(actual, int | float):
        return math.isclose(actual, expected, rel_tol=1e-9)
    return actual == expected


def differences(
    setting: dict[str, Any], sizes: dict[str, int], config: dict[str, Any], n_train, n_test
) -> list[str]:
    """Why a run (flat ``config``, train/test sizes) is not in the paper's setting ([] if it is)."""
    reasons = [
        f"{key} = {config.get(key)} (paper: {'all' if expected is None else expected})"
        for key, expected in setting.items()
        if not _same(config.get(key), expected)
    ]
    for name, ours in (("train", n_train), ("test", n_test)):
        paper_n = sizes.get(f"{name}_n")
        if paper_n is not None and ours is not None and int(ours) != int(paper_n):
            reasons.append(f"{name} n = {int(ours):,} (paper: {int(paper_n):,})")
    return reasons


def _first_run(store: RunStore, suite: str, config_hash: str) -> pd.Series:
    runs = store.runs
    return runs[(runs["config_hash"] == config_hash) & (runs["suite"] == suite)].iloc[0]


def _condition_differences(store: RunStore, row: Any, setting: dict, sizes: dict) -> list[str]:
    first = _first_run(store, row["suite"], row["config_hash"])
    config = store.configs[first["run_id"]]
    return differences(setting, sizes, config, first["n_train"], row["n_test"])


def verdict_table(store: RunStore, summary: pd.DataFrame, papers: list[Paper]) -> pd.DataFrame:
    """Every paper number beside each of our matching conditions, with the verdict."""
    rows = []
    for paper in papers:
        for result in paper.results:
            base = {
                "paper": paper.key,
                "strategy": result.strategy,
                "dataset": result.dataset,
                "paper_accuracy": result.accuracy,
                "reconstructed": result.reconstructed,
                "source": result.source,
            }
            ours = (
                summary[
                    (summary["strategy"] == result.strategy)
                    & (summary["dataset"] == result.dataset)
                ]
                if not summary.empty
                else summary
            )
            if ours.empty:
                reason = f"no finished run of {result.strategy} on {result.dataset}"
                rows.append({**base, "verdict": MISSING, "reason": reason})
                continue
            for _, row in ours.iterrows():
                reasons = _condition_differences(store, row, result.setting, result.sizes)
                low, high = 100 * row["ci_low"], 100 * row["ci_high"]
                if reasons:
                    verdict, reason = NOT_COMPARABLE, "; ".join(reasons)
                elif low <= result.accuracy <= high:
                    verdict, reason = REPRODUCED, "paper value inside our CI"
                else:
                    verdict, reason = NOT_REPRODUCED, "paper value outside our CI"
                rows.append(
                    {
                        **base,
                        "suite": row["suite"],
                        "profile": row["profile"],
                        "config_hash": row["config_hash"],
                        "model": row["model"],
                        "n_seeds": row["n_seeds"],
                        "n_test": row["n_test"],
                        "accuracy": 100 * row["accuracy"],
                        "std": 100 * row["std"],
                        "ci_low": low,
                        "ci_high": high,
                        "level": row["level"],
                        "diff": 100 * row["accuracy"] - result.accuracy,
                        "verdict": verdict,
                        "reason": reason,
                    }
                )
    return pd.DataFrame(rows)


def claims_table(
    store: RunStore, paired: pd.DataFrame, paired_calibration: pd.DataFrame, papers: list[Paper]
) -> pd.DataFrame:
    """Every directional claim per dataset against our Holm-corrected paired tests."""
    rows = []
    for paper in papers:
        for item in paper.claims:
            table = paired if item.metric == "accuracy" else paired_calibration
            expected = f"{item.a} {DIRECTIONS[item.direction]}"
            for dataset in item.datasets:
                base = {"paper": paper.key, "claim": item.text, "metric": item.metric}
                base.update({"a": item.a, "b": item.b, "dataset": dataset})
                base["source"] = item.source
                ours = _claim_rows(table, item, dataset)
                if ours.empty:
                    reason = f"no paired runs of {item.a} and {item.b} on {dataset}"
                    rows.append({**base, "verdict": MISSING, "reason": reason})
                    continue
                for _, row in ours.iterrows():
                    reasons = _claim_differences(store, row, item, dataset)
                    if reasons:
                        verdict, reason = NOT_COMPARABLE, "; ".join(reasons)
                    elif row["claim"] == expected:
                        verdict, reason = REPRODUCED, f"ours: {row['claim']}"
                    else:
                        verdict, reason = NOT_REPRODUCED, f"ours: {row['claim']}"
                    rows.append(
                        {
                            **base,
                            "profile": row["profile"],
                            "diff": row["diff"],
                            "ci_low": row["ci_low"],
                            "ci_high": row["ci_high"],
                            "level": row.get("level"),
                            "p_holm": row["p_holm"],
                            "seed_diffs": row.get("seed_diffs", ""),
                            "verdict": verdict,
                            "reason": reason,
                        }
                    )
    return pd.DataFrame(rows)


def _claim_rows(table: pd.DataFrame, item: PaperClaim, dataset: str) -> pd.DataFrame:
    if table.empty:
        return table
    mask = (table["a"] == item.a) & (table["b"] == item.b) & (table["dataset"] == dataset)
    if "metric" in table:
        mask &= table["metric"] == item.metric
    return table[mask]


def _claim_differences(store: RunStore, row: Any, item: PaperClaim, dataset: str) -> list[str]:
    reasons: list[str] = []
    for arm in ("a", "b"):
        first = _first_run(store, row["suite"], row[f"config_hash_{arm}"])
        found = differences(
            item.settings[row[arm]],
            item.sizes.get(dataset, {}),
            store.configs[first["run_id"]],
            first["n_train"],
            first["n_test"],
        )
        reasons.extend(r for r in found if r not in reasons)
    return reasons
