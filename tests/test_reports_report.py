"""``bench report`` end to end on real tiny runs (2 strategies x 2 seeds, trained once per
session): collection, tables, exports, figures, the HTML file (self-contained, escaped), empty
and partial stores, the CLI, and a headless-Chromium render check."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
from PIL import Image

from bench.cli import main
from bench.runner import RunOptions, run_one
from reports.cli import add_report_parsers, parse_pair
from reports.collect import collect_runs
from reports.figures import PANEL_PX_KEY
from reports.report import ReportResult, build_report
from reports.stats import BootstrapSpec
from reports.tables import paired_table, summary_table
from tests.helpers import tiny_config

pytestmark = pytest.mark.slow

SPEC = BootstrapSpec(resamples=200, seed=0)
STRATEGIES = ("dss", "dss+mi")
SEEDS = (0, 1)
SCRIPT = "<script>alert('x')</script>"


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run store with dss and dss+mi, seeds 0 and 1."""
    root = tmp_path_factory.mktemp("runs")
    for strategy in STRATEGIES:
        for seed in SEEDS:
            config = tiny_config(strategy=strategy, seed=seed)
            run_one(config, RunOptions("t", profile="tiny", runs_dir=root), echo=lambda _: None)
    return root


@pytest.fixture(scope="session")
def report(runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    """The report over the session's run store."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    return build_report(runs_dir, out=out, spec=SPEC)


@pytest.fixture
def store_copy(runs_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the session's run store."""
    return Path(shutil.copytree(runs_dir, tmp_path / "runs"))


def test_collect_runs_reads_every_finished_run(runs_dir):
    store = collect_runs(runs_dir)
    assert len(store.runs) == len(STRATEGIES) * len(SEEDS)
    assert set(store.runs["profile"]) == {"tiny"}
    n_test = tiny_config().synth.n_test
    assert len(store.predictions) == len(store.runs) * n_test
    assert set(store.predictions["confidence_kind"]) == {"candidate"}
    assert {"train", "valid"} <= set(store.train_log["kind"])
    assert store.variant_keys == []  # strategies differ, no swept key within one strategy
    assert collect_runs(runs_dir, profile="other").empty


def test_summary_and_paired_tables(runs_dir):
    store = collect_runs(runs_dir)
    summary = summary_table(store, SPEC)
    assert sorted(summary["strategy"]) == sorted(STRATEGIES)
    for _, row in summary.iterrows():
        runs = store.runs[store.runs["config_hash"] == row["config_hash"]]
        assert row["accuracy"] == pytest.approx(runs["accuracy"].mean())
        assert row["ci_low"] <= row["accuracy"] <= row["ci_high"]
        assert (row["n_seeds"], row["boot_resamples"], row["boot_seed"]) == (2, 200, 0)
    paired = paired_table(store, SPEC)
    assert paired[["a", "b"]].values.tolist() == [["dss+mi", "dss"]]  # no finetune runs
    assert paired["p_holm"].iloc[0] >= paired["p_value"].iloc[0]


def test_build_report_writes_html_tables_and_figures(report):
    html = report.html.read_text()
    assert report.n_runs == 4
    tables = report.html.parent / "report-tables"
    for name in ("summary", "paired", "verdicts", "claims", "calibration", "runs"):
        for ext in ("csv", "md", "tex"):
            assert (tables / f"{name}.{ext}") in report.tables
            assert (tables / f"{name}.{ext}").is_file()
    figures = {p.name for p in report.figures}
    assert {"reliability-t-tiny-synth.png", "reliability-t-tiny-synth.svg"} <= figures
    assert "training-t-tiny-synth.png" in figures
    images = re.findall(r'<img src="([^"]*)"', html)
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="(https?:|file:|//)', html)  # nothing outside the file
    for text in (
        "Answers: the papers&#39; claims",
        "Paper numbers against ours",
        "Calibration",
        "ece_code",
        "Provenance",
    ):
        assert text in html
    assert "not comparable" in html  # tiny runs are never the papers' setting


def test_text_from_runs_is_escaped(store_copy, tmp_path):
    run = next(store_copy.glob("t/synth/dss/*/seed-0"))
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    for row in rows:
        row.update(rationale=SCRIPT, prediction=f"<b>{row['prediction']}</b>", input=SCRIPT)
    (run / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report.html"
    build_report(store_copy, out=out, spec=SPEC, n_examples=3)
    html = out.read_text()
    assert SCRIPT not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script" not in html  # the report itself has no scripts either


def test_empty_store_says_what_is_missing(tmp_path):
    out = tmp_path / "report.html"
    result = build_report(tmp_path / "no-runs", out=out, spec=SPEC)
    html = out.read_text()
    assert result.n_runs == 0
    assert "No finished runs under" in html
    # paper numbers without runs collapse into one line per section
    assert "No runs to compare with: " in html and "dss on anli1, cqa, esnli, svamp" in html
    assert (tmp_path / "report-tables" / "summary.csv").is_file()


def test_partial_store_lists_unfinished_runs(store_copy, tmp_path):
    (next(store_copy.glob("t/synth/dss+mi/*/seed-1")) / "metrics.json").unlink()
    result = build_report(store_copy, out=tmp_path / "report.html", spec=SPEC)
    assert result.n_runs == 3
    assert any("without finished metrics" in m for m in result.missing)


def test_sections_from_ablations_are_included(store_copy, tmp_path):
    section = store_copy / "ablations" / "alpha3"
    section.mkdir(parents=True)
    (section / "table.csv").write_text("alpha3,accuracy\n0.1,0.5\n")
    shutil.copy(_png(tmp_path), section / "fig.png")
    (section / "section.json").write_text(
        json.dumps(
            {
                "schema": 1,
                "kind": "ablation",
                "title": "Ablation of alpha3",
                "text": "a <sweep>",
                "tables": [{"caption": "acc", "csv": "table.csv"}],
                "figures": [{"caption": "curve", "png": "fig.png"}],
            }
        )
    )
    html_path = tmp_path / "report.html"
    build_report(store_copy, out=html_path, spec=SPEC)
    html = html_path.read_text()
    assert "Ablation of alpha3" in html and "a &lt;sweep&gt;" in html


def test_a_swept_config_value_gets_an_ablation_figure(store_copy, tmp_path):
    # A second dss condition that differs only in noise.level (files edited, not retrained).
    for source in store_copy.glob("t/synth/dss/*/seed-*"):
        target = source.parent.parent / "noisy000000" / source.name
        shutil.copytree(source, target)
        record = json.loads((target / "config.json").read_text())
        record["config"]["noise"]["level"] = 0.3
        (target / "config.json").write_text(json.dumps(record))
        metrics = json.loads((target / "metrics.json").read_text())
        (target / "metrics.json").write_text(json.dumps({**metrics, "config_hash": "noisy000000"}))
    store = collect_runs(store_copy)
    assert store.variant_keys == ["noise.level"]
    result = build_report(store_copy, out=tmp_path / "report.html", spec=SPEC)
    assert "ablation-noise.level-t-tiny-synth.png" in {p.name for p in result.figures}
    paired = paired_table(store, SPEC)
    assert paired["noise.level"].tolist() == [0.0]  # only the matching noise level is paired
    # an arm qualified by config values pairs across the key it names (a negative control
    # against the plain baseline), and never pairs a condition with itself
    crossed = paired_table(
        store, SPEC, [("dss[noise.level=0.3]", "dss+mi"), ("dss", "dss[noise.level=.3]")]
    )
    hashes = store.runs.groupby(["strategy", "noise.level"])["config_hash"].first()
    assert crossed[["a", "config_hash_a", "config_hash_b"]].values.tolist() == [
        ["dss[noise.level=0.3]", hashes["dss", 0.3], hashes["dss+mi", 0.0]],
        ["dss", hashes["dss", 0.0], hashes["dss", 0.3]],
    ]
    assert "noise.level" not in crossed.columns  # the arms differ in it
    assert crossed["holm_family"].iloc[0].endswith("(m = 2)")


def _png(tmp_path: Path) -> Path:
    from matplotlib.figure import Figure

    from reports.figures import save_figure

    return save_figure(Figure(figsize=(1, 1)), tmp_path / "png", "blank")[0]


def test_cli_report_command(runs_dir, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_report_parsers(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli.html"
    args = parser.parse_args(
        [
            *("report", "--runs-dir", str(runs_dir), "--out", str(out), "--suite", "t"),
            *("--resamples", "100", "--pair", "dss:dss+mi"),
        ]
    )
    assert args.func(args) == 0
    assert out.is_file() and "report:" in capsys.readouterr().out
    assert parse_pair("dss+kl:dss") == ("dss+kl", "dss")
    with pytest.raises(Exception, match="expected A:B"):
        parse_pair("dss")


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
]
PROBE = (
    '<script>window.addEventListener("load", () => {'
    "const images = [...document.images];"
    'document.body.setAttribute("data-images", images.length);'
    'document.body.setAttribute("data-broken",'
    " images.filter(i => !(i.complete && i.naturalWidth > 0)).length);"
    'const answers = document.getElementById("s1");'
    'document.body.setAttribute("data-answers-top",'
    " Math.round(answers.getBoundingClientRect().top));});</script>"
)
FIRST_SCREEN_PX = 900  # a 1400 x 900 window


def assert_renders_in_chromium(html: Path, tmp_path: Path) -> None:
    """Headless Chromium loads ``html``: no broken image, at least two, no console message."""
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("chromium not installed (apt-get install -y chromium)")
        pytest.skip("chromium not installed")
    # a copy with a probe that counts images that failed to decode; the report has no scripts
    probe = tmp_path / "probe.html"
    probe.write_text(html.read_text().replace("</body>", PROBE + "</body>"))
    result = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1400,900",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    body = re.search(r"<body[^>]*>", result.stdout)[0]
    assert 'data-broken="0"' in body
    assert int(re.search(r'data-images="(\d+)"', body)[1]) >= 2
    assert "CONSOLE" not in result.stderr
    # the answers (the papers' claims) start on the first screen
    assert int(re.search(r'data-answers-top="(-?\d+)"', body)[1]) < FIRST_SCREEN_PX


def test_report_renders_in_headless_chromium(report, tmp_path):
    assert_renders_in_chromium(report.html, tmp_path)


FINDINGS_BUNDLES = [
    "synth-cpu",
    "paper-table-cpu-minilm",
    "esnli-paired-minilm",
]  # docs/findings.md


@pytest.mark.parametrize("name", FINDINGS_BUNDLES)
def test_findings_bundle_report_renders(name, tmp_path):
    """The committed findings bundles give a full HTML report (bench report --bundle)."""
    bundle = Path(__file__).parents[1] / "results" / name
    html = tmp_path / f"{name}.html"
    assert main(["report", "--bundle", str(bundle), "--out", str(html)]) == 0
    text = html.read_text()
    assert f"Bundle: {bundle}" in text
    # it leads with the answers, and at a 1400 px page every figure's smallest panel is at
    # least 150 px high (recorded in each PNG by the figure writer)
    sections = re.findall(r'<section id="(\w+)">\s*<h2>([^<]+)</h2>', text)
    assert (sections[0][0], unescape(sections[0][1])) == ("s1", "Answers: the papers' claims")
    pngs = sorted((tmp_path / f"{name}-tables" / "figures").glob("*.png"))
    assert len(pngs) >= 4
    heights = {p.name: float(Image.open(p).text[PANEL_PX_KEY]) for p in pngs}
    assert min(heights.values()) >= 150, heights
    assert_renders_in_chromium(html, tmp_path)
