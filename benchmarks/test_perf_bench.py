"""pytest-benchmark: one training step of each design and strategy, generation vs scoring.

``pytest benchmarks --benchmark-disable`` runs each once at tiny sizes;
``pytest benchmarks --benchmark-enable`` measures (the repo's addopts disable benchmarks).
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from bench.evaluate import EvalSettings, evaluate
from bench.perf.designs import to_device
from bench.perf.eval import generated_labels
from bench.perf.run import STRATEGY_NAMES
from bench.strategy import STRATEGIES


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
@pytest.mark.parametrize("design", ["reference", "cotbench"])
def test_train_step(benchmark, perf_setup, design, strategy):
    chosen = next(d for d in perf_setup.designs(strategy) if d.name == design)
    trainee = perf_setup.trainee(chosen, strategy)
    config = perf_setup.configs[strategy]
    steps = itertools.count()

    def step() -> None:
        indices = chosen.indices(next(steps) % perf_setup.settings.steps)
        batch = to_device(chosen.batch(indices), perf_setup.device)
        trainee.step(batch, config.precision, config.max_grad_norm)

    benchmark(step)


@pytest.mark.parametrize("mode", ["generate", "score"])
def test_closed_eval(benchmark, perf_setup, mode):
    config = perf_setup.configs["dss"]
    settings = EvalSettings.for_run(config, perf_setup.metric)
    strategy = STRATEGIES.get("dss")(config)
    model = perf_setup.loaded.model.eval()
    if mode == "generate":
        benchmark(
            generated_labels,
            model,
            perf_setup.loaded.tokenizer,
            strategy,
            perf_setup.test,
            settings,
        )
    else:
        scoring = dataclasses.replace(settings, closed_eval="score")
        benchmark(evaluate, model, perf_setup.loaded.tokenizer, strategy, perf_setup.test, scoring)
