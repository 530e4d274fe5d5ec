"""Shared set-up of the benchmarks: tiny sizes under ``--benchmark-disable`` (each benchmark
runs once: a CI check that they execute), measurable sizes otherwise."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def perf_setup(pytestconfig):
    from bench.perf.run import QUICK, PerfSettings, prepare

    if pytestconfig.getoption("benchmark_disable"):
        return prepare(PerfSettings(**QUICK, quick=True))
    return prepare(PerfSettings(model="tiny-t5", dataset="synth", batch=16, input_len=128, steps=8))
