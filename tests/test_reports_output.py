"""Where ``bench report`` writes: its own folder by default (``report/<suite>-<profile>/``, or
beside a bundle, never inside it), another report's files are never silently replaced, its own
stale figures are cleared, and it prints a ``file://`` link."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import ConfigError
from reports.output import claim_output, report_location
from reports.report import build_report
from reports.stats import BootstrapSpec

SPEC = BootstrapSpec(resamples=50)


def test_default_locations():
    assert report_location(None, suite="smoke", profile="cpu") == (
        Path("report/smoke-cpu/index.html"),
        Path("report/smoke-cpu/tables"),
    )
    assert report_location(None, suite="suites/my.yaml")[0] == Path("report/my-all/index.html")
    html, tables = report_location(None, bundle="results/synth-cpu")
    assert html == Path("results/synth-cpu-report/index.html").resolve()
    assert tables == Path("results/synth-cpu-report/tables").resolve()
    assert report_location("out/r.html") == (Path("out/r.html"), Path("out/r-tables"))
    assert report_location("out/r") == (Path("out/r/index.html"), Path("out/r/tables"))


def test_a_report_replaces_only_its_own_files_and_clears_its_stale_figures(tmp_path):
    out, runs = tmp_path / "r" / "index.html", tmp_path / "no-runs"
    build_report(runs, out=out, tables_dir=tmp_path / "r" / "tables", spec=SPEC, suite="smoke")
    stale = tmp_path / "r" / "tables" / "figures" / "old.png"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"png")
    build_report(runs, out=out, tables_dir=tmp_path / "r" / "tables", spec=SPEC, suite="smoke")
    assert out.is_file() and not stale.exists()  # the same report: replaced, stale figure gone
    with pytest.raises(ConfigError, match=r"holds another report \(Run store: .*, suite smoke, "):
        build_report(runs, out=out, tables_dir=tmp_path / "r" / "tables", spec=SPEC, suite="x")
    build_report(
        runs, out=out, tables_dir=tmp_path / "r" / "tables", spec=SPEC, suite="x", force=True
    )


def test_files_no_report_wrote_are_kept(tmp_path):
    mine = tmp_path / "notes.html"
    mine.write_text("my notes")
    with pytest.raises(ConfigError, match="not written by this report"):
        claim_output(mine, tmp_path / "notes-tables", {"source": "s"})
    assert mine.read_text() == "my notes" and not (tmp_path / "notes-tables").exists()


def test_cli_prints_a_file_link_and_never_writes_inside_a_bundle(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", "--runs-dir", str(tmp_path / "no-runs"), "--out", str(out)]) == 0
    assert f"report: {(out / 'index.html').resolve().as_uri()}" in capsys.readouterr().out
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    code = main(["report", "--bundle", str(bundle), "--out", str(bundle / "r.html")])
    assert code == 2 and "inside the bundle" in capsys.readouterr().err
    assert list(bundle.iterdir()) == []
