"""Helpers shared by the sweeps tests (no tests here): a tiny suite file and a CLI parser."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from sweeps.cli import add_sweep_parsers
from tests.helpers import TINY


def write_tiny_suite(
    directory: Path, strategies: tuple[str, ...] = ("dss+mi",), **overrides
) -> Path:
    """A suite file running ``tests.helpers.TINY`` on synth (seconds per run)."""
    profile = {k: v for k, v in TINY.items() if k != "dataset"} | overrides
    body = {
        "description": "tiny synth runs for the sweeps tests",
        "datasets": ["synth"],
        "strategies": list(strategies),
        "seeds": [0],
        "default_profile": "tiny",
        "profiles": {"tiny": {"overrides": profile}},
    }
    path = Path(directory) / "tiny.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def sweep_parser() -> argparse.ArgumentParser:
    """``bench``'s parser with only the ``ablate`` and ``sweep`` subcommands."""
    parser = argparse.ArgumentParser(prog="bench")
    add_sweep_parsers(parser.add_subparsers(dest="command", required=True))
    return parser
