"""Markdown tables for docs/findings.md, computed from a results bundle's files only.

    python docs/findings/tables.py results/synth-cpu            # print every block
    python docs/findings/tables.py --check docs/findings.md     # exit 1 if a block is stale

findings.md embeds each block between ``<!-- begin BLOCK BUNDLE -->`` and ``<!-- end -->``;
``--check`` regenerates every embedded block from its bundle and compares (CI runs it), so
every number in those tables is traceable to a committed bundle.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

# config keys that tell the conditions of one strategy apart in the findings bundles
VARIANT_KEYS = ("mi_variant", "alpha3", "noise.type", "noise.level")
BLOCK = re.compile(r"<!-- begin (\S+) (\S+) -->\n(.*?)<!-- end -->", re.DOTALL)


def _flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def variants(bundle: Path) -> dict[str, str]:
    """config hash -> the variant keys that differ between the bundle's configs, as text."""
    configs = {}
    for path in sorted((bundle / "runs").rglob("config.json")):
        record = json.loads(path.read_text())
        configs[record["config_hash"]] = _flat(record["config"])
    varying = [k for k in VARIANT_KEYS if len({str(c.get(k)) for c in configs.values()}) > 1]
    return {
        h: ", ".join(
            f"{k}={c[k]}" for k in varying if k != "mi_variant" or c["strategy"] == "dss+mi"
        )
        or "-"
        for h, c in configs.items()
    }


def _pct(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:.1f}"


def _spread(std: float) -> str:
    return "" if pd.isna(std) else f" ± {100 * std:.1f}"


def summary_block(bundle: Path) -> str:
    """Per condition: accuracy mean ± std over seeds, 95% CI, ECE (10 bins) with its CI."""
    summary = pd.read_csv(bundle / "summary.csv")
    calibration = pd.read_csv(bundle / "calibration.csv").set_index("config_hash")
    names = variants(bundle)
    lines = [
        "| dataset | strategy | variant | seeds | n test | accuracy % (± std) | 95% CI "
        "| ECE % | ECE 95% CI |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary.sort_values(["dataset", "strategy", "config_hash"]).itertuples():
        cal = calibration.loc[row.config_hash]
        lines.append(
            f"| {row.dataset} | {row.strategy} | {names[row.config_hash]} | {row.n_seeds} | "
            f"{row.n_test} | {_pct(row.accuracy)}{_spread(row.std)} | "
            f"[{_pct(row.ci_low)}, {_pct(row.ci_high)}] | {_pct(cal.ece_w10)} | "
            f"[{_pct(cal.ece_w10_low)}, {_pct(cal.ece_w10_high)}] |"
        )
    return "\n".join(lines) + "\n"


def paired_block(bundle: Path) -> str:
    """Every paired comparison: difference, CI, permutation p, Holm p, the claim."""
    paired = pd.read_csv(bundle / "paired.csv")
    names = variants(bundle)
    lines = [
        "| dataset | a | b | variant (a) | a % | b % | a − b (points) | 95% CI | p | Holm p "
        "| claim |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in paired.itertuples():
        lines.append(
            f"| {row.dataset} | {row.a} | {row.b} | {names[row.config_hash_a]} | "
            f"{_pct(row.accuracy_a)} | {_pct(row.accuracy_b)} | {_pct(row.diff)} | "
            f"[{_pct(row.ci_low)}, {_pct(row.ci_high)}] | {row.p_value:.3g} | "
            f"{row.p_holm:.3g} | {row.claim} |"
        )
    return "\n".join(lines) + "\n"


BLOCKS: dict[str, Callable[[Path], str]] = {"summary": summary_block, "paired": paired_block}


def check(document: Path) -> list[str]:
    """The names of the stale blocks of ``document`` (paths relative to the repository)."""
    root = document.resolve().parents[1]
    stale = []
    for name, bundle, body in BLOCK.findall(document.read_text()):
        if BLOCKS[name](root / bundle) != body:
            stale.append(f"{name} {bundle}")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, help="a bundle (print) or, with --check, findings.md")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        stale = check(args.target)
        for entry in stale:
            print(f"{args.target}: block {entry} differs from its bundle", file=sys.stderr)
        return 1 if stale else 0
    for name, build in BLOCKS.items():
        print(f"<!-- begin {name} {args.target} -->\n{build(args.target)}<!-- end -->\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
