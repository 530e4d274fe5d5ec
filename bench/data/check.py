"""``bench data check``: what is in the data directory and how well the teachers' outputs parse.

One row per dataset x split x teacher x input file: examples present vs what the paper's
setting needs, teacher outputs, rationales and labels parsed (non-empty), strict labels
(a CQA choice, an evaluable SVAMP equation, an NLI label word), and teacher accuracy vs gold
over the examples with a gold label. PaLM statistics cover *every* output of the split's CoT
files, also where only part of the inputs exists (e-SNLI, ANLI1 train); accuracy needs the
inputs, so it covers the present ones. CQA/SVAMP have no valid file (DSS cuts valid from train).

Exit code 0 when every present file parses (missing files are reported, not fatal), 2 when
one does not. A data directory holding none of the datasets is a one-line error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.data.dss import (
    EXTRA_INPUTS,
    LLAMA3_DATASETS,
    SPECS,
    DssSpec,
    InputSet,
    all_palm_outputs,
    input_candidates,
    read_input_file,
    read_inputs,
)
from bench.data.io import FETCH_HINT, DataReader, MissingDataError
from bench.data.llama3 import LLAMA3_FILES, parse_llama3, read_llama3
from bench.data.parsers import PALM_PARSERS, is_blank, is_strict_label, labels_match
from bench.data.registry import resolve_data_dir
from bench.errors import DataError

COLUMNS = [
    "dataset",
    "split",
    "teacher",
    "inputs",
    "examples",
    "needed",
    "outputs",
    "rationales",
    "labels",
    "strict",
    "gold",
    "accuracy",
    "status",
    "note",
]
Parsed = list[tuple[str, str]]


@dataclass(frozen=True)
class CheckReport:
    """The check table (one row per dataset x split x teacher x input file) and its verdict."""

    data_dir: Path
    table: pd.DataFrame = field(repr=False)

    @property
    def exit_code(self) -> int:
        """0 when every present file parses, 2 otherwise."""
        return 2 if (self.table["status"] == "error").any() else 0

    def render(self) -> str:
        """The table as text, then one line per row that needs a note, then the verdict."""
        shown = self.table.drop(columns="note").copy()
        for column in ("examples", "needed", "outputs", "rationales", "labels", "strict", "gold"):
            shown[column] = shown[column].map(_count)
        shown["accuracy"] = shown["accuracy"].map(_percent)
        lines = [f"DSS data in {self.data_dir}", shown.to_string(index=False), ""]
        lines.append(
            "rationales/labels = parsed non-empty; strict = a choice / an evaluable equation / "
            "an NLI label; accuracy = teacher label vs gold over `gold` examples; "
            "cqa/svamp valid = 10% of train (DSS)"
        )
        for row in self.table.itertuples():
            if row.note:
                lines.append(
                    f"  {row.dataset} {row.split} {row.teacher} [{row.inputs}]: {row.note}"
                )
        corrupt = self.table.loc[self.table["status"] == "error", "note"].nunique()
        lines.append(
            f"{corrupt} corrupt file(s); see the rows marked error"
            if corrupt
            else "every present file parses"
        )
        return "\n".join(lines)


def _count(value: float) -> str:
    return "-" if pd.isna(value) else f"{int(value):,}"


def _percent(value: float) -> str:
    return "-" if pd.isna(value) else f"{100 * value:.2f}%"


def check_data(data_dir: str | os.PathLike | None = None) -> CheckReport:
    """Check every dataset file under ``data_dir`` (default: ``$COTBENCH_DATA``, else ./data)."""
    root = resolve_data_dir(data_dir)
    if not any((root / name).is_dir() for name in SPECS):
        raise DataError(f"no DSS datasets in {root} (expected {', '.join(SPECS)}); {FETCH_HINT}")
    rows: list[dict] = []
    for name, spec in SPECS.items():
        reader = DataReader(root, name)
        for split in spec.splits:
            rows += _palm_rows(reader, spec, split)
            if name in LLAMA3_DATASETS:
                rows += _llama3_rows(reader, spec, split)
    return CheckReport(root, pd.DataFrame(rows, columns=COLUMNS))


def _input_files(spec: DssSpec, split: str) -> list[str]:
    files = input_candidates(spec, split, "gt") + input_candidates(spec, split, "llm")
    files += EXTRA_INPUTS.get((spec.name, split), ())
    return list(dict.fromkeys(files))


def _palm_rows(reader: DataReader, spec: DssSpec, split: str) -> list[dict]:
    """Rows of the PaLM teacher: one per present input file of ``split``."""
    present = [rel for rel in _input_files(spec, split) if reader.exists(rel)]
    if not present:
        base = _row(spec, split, "palm", spec.upstream(split))
        alternative = spec.reconstructed.get("gt") if split == "train" else None
        return [_failed(base, reader.missing(spec.upstream(split), f"{split} inputs", alternative))]
    inputs, rows = [], []
    for rel in present:
        try:
            inputs.append(read_input_file(reader, spec, split, rel, gold_required=False))
        except DataError as err:
            rows.append(_failed(_row(spec, split, "palm", rel), err))
    if not inputs:
        return rows
    try:
        outputs = all_palm_outputs(reader, spec, split, inputs[0])
    except DataError as err:
        return rows + [_failed(_input_row(spec, split, "palm", s), err) for s in inputs]
    parse = PALM_PARSERS[spec.name]
    parsed = [parse(output) for output in outputs]
    candidates = {row.idx: row.candidates for s in inputs for row in s.rows}
    stats = _output_stats(spec, parsed, lambda i: candidates.get(i, ()))
    for source in inputs:
        by_idx = [parsed[row.idx] for row in source.rows]
        rows.append(_stats_row(spec, split, "palm", source, stats, by_idx))
    return rows


def _llama3_rows(reader: DataReader, spec: DssSpec, split: str) -> list[dict]:
    """Rows of the Llama-3 teacher: one per Llama-3 file of ``split``."""
    rows = []
    for variant, rel in LLAMA3_FILES.get((spec.name, split), {}).items():
        teacher = f"llama3-{variant}"
        try:
            inputs = read_inputs(reader, spec, split, "gt")
            texts = [row.parts[0] for row in inputs.rows]
            outputs = read_llama3(reader, rel, texts, inputs.path)
        except DataError as err:
            rows.append(_failed(_row(spec, split, teacher, spec.upstream(split)), err))
            continue
        parsed = [
            parse_llama3(spec.name, text, row.candidates)
            for text, row in zip(outputs, inputs.rows, strict=True)
        ]
        stats = _output_stats(spec, parsed, lambda i, s=inputs: s.rows[i].candidates)
        row = _stats_row(spec, split, teacher, inputs, stats, parsed)
        if variant == "rag":
            row["note"] = f"{rel}: label-informed (neighbours retrieved with the gold label)"
        rows.append(row)
    return rows


def _output_stats(
    spec: DssSpec, parsed: Parsed, candidates: Callable[[int], Sequence[str]]
) -> dict[str, int]:
    return {
        "outputs": len(parsed),
        "rationales": sum(not is_blank(rationale) for rationale, _ in parsed),
        "labels": sum(not is_blank(label) for _, label in parsed),
        "strict": sum(
            is_strict_label(spec.name, label, candidates(i)) for i, (_, label) in enumerate(parsed)
        ),
    }


def _row(spec: DssSpec, split: str, teacher: str, rel: str) -> dict:
    return {
        "dataset": spec.name,
        "split": split,
        "teacher": teacher,
        "inputs": rel.removeprefix(f"{spec.name}/"),
        "needed": spec.paper_sizes[split],
        "note": "",
    }


def _input_row(spec: DssSpec, split: str, teacher: str, inputs: InputSet) -> dict:
    row = _row(spec, split, teacher, inputs.path)
    row["examples"] = len(inputs.rows)
    row["gold"] = sum(r.gold is not None for r in inputs.rows)
    return row


def _failed(row: dict, err: DataError) -> dict:
    status = "missing" if isinstance(err, MissingDataError) else "error"
    return {**row, "status": status, "note": f"{status}: {err}"}


def _stats_row(
    spec: DssSpec,
    split: str,
    teacher: str,
    inputs: InputSet,
    stats: dict[str, int],
    parsed: Parsed,
) -> dict:
    """A row for ``inputs`` with the split's output ``stats``; ``parsed`` aligned to its rows."""
    row = {**_input_row(spec, split, teacher, inputs), **stats}
    scored = [
        labels_match(spec.metric, label, r.gold)
        for r, (_, label) in zip(inputs.rows, parsed, strict=True)
        if r.gold is not None
    ]
    row["accuracy"] = sum(scored) / len(scored) if scored else None
    if row["examples"] < row["needed"]:
        row["status"] = "partial"
        row["note"] = f"partial: {row['examples']:,} of {row['needed']:,} inputs present"
    else:
        row["status"] = "ok"
    return row
