"""Shared fixtures: the real DSS data directory (fails, never skips, under CI=true) and
offline Hugging Face settings for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def dss_data_dir() -> Path:
    """The DSS data directory from ``$COTBENCH_DATA``; missing data fails the test under CI."""
    from bench.data import resolve_data_dir

    path = resolve_data_dir()
    if not (path / "cqa" / "cqa_train.json").is_file():
        message = f"DSS data not found at {path.resolve()} (set COTBENCH_DATA)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return path
