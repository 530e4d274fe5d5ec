"""Where ``bench report`` writes, and what it may replace there.

By default a report is its own folder, ``report/<suite>-<profile>/index.html`` with its tables
and figures in ``tables/`` (``./report``, not the ``reports/`` package); ``--bundle B`` writes
beside the bundle, ``<B>-report/``, never inside it (a file inside a bundle fails ``bench
verify``'s manifest check). A report records who it is (its source and filters) in
``<tables>/report.json``: rerunning the same report replaces its files and clears its own stale
figures, while another report's folder, or files that no report of cotbench wrote, are replaced
only with ``force``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.errors import ConfigError
from bench.store import read_json, write_json

MARKER = "report.json"  # in the tables folder: the identity of the report that owns it
DEFAULT_ROOT = Path("report")


def report_location(
    out: str | Path | None,
    *,
    suite: str | None = None,
    profile: str | None = None,
    bundle: str | Path | None = None,
) -> tuple[Path, Path]:
    """``(html file, tables folder)`` of a report.

    ``out`` ending in ``.html`` is the file itself, its tables in ``<stem>-tables`` beside it;
    any other ``out`` is a folder holding ``index.html`` and ``tables/``. Without ``out``: beside
    the bundle (``<bundle>-report/``), else ``report/<suite>-<profile>/`` (``all`` for a filter
    not given).
    """
    if out is None:
        if bundle is not None:
            bundle = Path(bundle).resolve()
            folder = bundle.with_name(f"{bundle.name}-report")
        else:
            suite_name = Path(suite).stem if suite else "all"
            folder = DEFAULT_ROOT / f"{suite_name}-{profile or 'all'}"
        return folder / "index.html", folder / "tables"
    out = Path(out)
    if out.suffix.lower() in (".html", ".htm"):
        return out, out.with_name(f"{out.stem}-tables")
    return out / "index.html", out / "tables"


def check_outside_bundle(bundle: str | Path, *paths: Path) -> None:
    """ConfigError when any of ``paths`` lies inside ``bundle``."""
    root = Path(bundle).resolve()
    for path in paths:
        if path.resolve().is_relative_to(root):
            raise ConfigError(
                f"{path}: inside the bundle {bundle}; a file there breaks bench verify's "
                "manifest check (leave --out out to write beside the bundle)"
            )


def claim_output(html: Path, tables_dir: Path, identity: dict, force: bool = False) -> None:
    """Make ``html`` and ``tables_dir`` this report's: raise ConfigError when they hold another
    report (or files no report wrote) unless ``force``; clear this report's stale figures.

    ``identity`` (e.g. source, suite and profile) is recorded in ``<tables_dir>/report.json``.
    """
    marker = tables_dir / MARKER
    identity = {"html": html.name, **identity}
    if marker.is_file():
        recorded = read_json(marker)
        if recorded != identity and not force:
            raise ConfigError(
                f"{tables_dir}: holds another report ({_describe(recorded)}); choose another "
                "--out, or --force to replace it"
            )
    elif (html.exists() or _has_files(tables_dir)) and not force:
        taken = html if html.exists() else tables_dir
        raise ConfigError(
            f"{taken}: exists and was not written by this report; choose another --out, "
            "or --force to replace it"
        )
    shutil.rmtree(tables_dir / "figures", ignore_errors=True)  # stale figures of an earlier run
    tables_dir.mkdir(parents=True, exist_ok=True)
    write_json(marker, identity)


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _describe(identity: dict) -> str:
    """``"Run store: runs, suite smoke, profile any"``."""
    filters = [f"{key} {identity.get(key) or 'any'}" for key in ("suite", "profile")]
    return ", ".join([str(identity.get("source")), *filters])
