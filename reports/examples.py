"""Example test predictions side by side: input, gold, and per condition the prediction, its
confidence and the generated rationale (when the run generated rationales).

The confidence shown is the one calibration uses (:data:`reports.calibration.CONFIDENCE_SHORT`).
Examples where the conditions disagree (some right, some wrong) come first, then the rest in
test order; the run with the lowest seed of each condition is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reports.collect import RunStore, calibration_point


@dataclass(frozen=True)
class ExampleBlock:
    """Examples of one dataset: titles of the conditions and one dict per example."""

    title: str
    conditions: list[str]
    examples: list[dict[str, Any]] = field(default_factory=list)
    has_rationales: bool = False


def condition_label(row: Any, variant_keys: list[str]) -> str:
    """``"dss"`` or, with variant keys, ``"dss (noise.level=0.3)"``."""
    variants = ", ".join(f"{k}={row[k]}" for k in variant_keys)
    return f"{row['strategy']} ({variants})" if variants else str(row["strategy"])


def example_blocks(store: RunStore, n_examples: int = 5) -> list[ExampleBlock]:
    """Up to ``n_examples`` examples per suite x profile x dataset."""
    blocks = []
    if store.empty:
        return blocks
    for (suite, profile, dataset), runs in store.runs.groupby(["suite", "profile", "dataset"]):
        chosen = runs.sort_values("seed").groupby("config_hash", sort=False).head(1)
        chosen = chosen.sort_values(["strategy", "config_hash"])
        labels = [condition_label(r, store.variant_keys) for _, r in chosen.iterrows()]
        records = [
            {str(r["id"]): r for r in store.run_dir(run_id).read_predictions()}
            for run_id in chosen["run_id"]
        ]
        shared = [i for i in records[0] if all(i in rec for rec in records)]
        disagree = [i for i in shared if len({bool(rec[i]["correct"]) for rec in records}) > 1]
        ordered = disagree + [i for i in shared if i not in set(disagree)]
        examples = []
        for example_id in ordered[:n_examples]:
            first = records[0][example_id]
            examples.append(
                {
                    "id": example_id,
                    "input": first.get("input", ""),
                    "gold": first.get("gold", ""),
                    "outputs": [
                        {
                            "condition": label,
                            "prediction": rec[example_id].get("prediction", ""),
                            "generated": rec[example_id].get("generated", ""),
                            "correct": bool(rec[example_id]["correct"]),
                            "confidence": calibration_point(rec[example_id])[0],
                            "rationale": rec[example_id].get("rationale"),
                        }
                        for label, rec in zip(labels, records, strict=True)
                    ],
                }
            )
        has_rationales = any(o["rationale"] for e in examples for o in e["outputs"])
        blocks.append(
            ExampleBlock(f"{dataset} ({suite}, {profile})", labels, examples, has_rationales)
        )
    return blocks
