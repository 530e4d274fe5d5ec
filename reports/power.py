"""Planning: how many seeds a comparison needs for a target interval half-width.

Reads the variance components that :func:`reports.tables.paired_table` records for each comparison
(``var_example``, ``var_seed``, ``var_residual``: the test set's own variation, the variation
between seeds, and their interaction) and solves for the fewest seeds whose t-interval on the
same number of test examples (or ``n_test``) is at most the target wide. Use it on a cheap
bundle (a few seeds) to size a GPU budget before running the ``paper`` profile.
"""

from __future__ import annotations

import pandas as pd

from reports.stats import ONE_SEED, Components, seeds_needed


def power_table(
    paired: pd.DataFrame, half_width: float, level: float = 0.95, n_test: int | None = None
) -> pd.DataFrame:
    """Per comparison: seeds now, the half-width now, and the seeds needed for ``half_width``
    (a fraction: 0.01 = 1 point) on ``n_test`` examples (default: the comparison's own)."""
    rows = []
    for row in paired.itertuples(index=False):
        components = Components(row.var_example, row.var_seed, row.var_residual)
        n = n_test or int(row.n_test)
        needed = (
            None
            if pd.isna(row.var_seed)
            else seeds_needed(components, half_width, n=n, level=level)
        )
        rows.append(
            {
                "dataset": row.dataset,
                "a": row.a,
                "b": row.b,
                "design": row.design,
                "seeds": int(row.n_pairs),
                "n_test": n,
                "half_width": (row.ci_high - row.ci_low) / 2,
                "target": half_width,
                "seeds_needed": needed,
                "example_floor": (components.example / n) ** 0.5,  # sd left with infinite seeds
            }
        )
    return pd.DataFrame(rows)


def power_text(table: pd.DataFrame) -> str:
    """The planning table as plain text, one line per comparison."""
    lines = []
    for row in table.itertuples(index=False):
        if row.design == ONE_SEED:
            verdict = "cannot be planned from one seed (no seed variance): run at least 2"
        elif pd.isna(row.seeds_needed):
            verdict = (
                "not within 200 seeds: the test set's own variation "
                f"(sd {100 * row.example_floor:.2f} points) needs more test examples"
            )
        else:
            verdict = f"needs {int(row.seeds_needed)} seeds"
        lines.append(
            f"{row.dataset}: {row.a} − {row.b} ({row.design}, {row.seeds} seeds, n = {row.n_test}):"
            f" ±{100 * row.half_width:.2f} points now; ±{100 * row.target:.2f} {verdict}"
        )
    return "\n".join(lines)
