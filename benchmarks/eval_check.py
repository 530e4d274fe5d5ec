"""Closed-label evaluation on a TRAINED tiny-t5: greedy generation vs candidate scoring, alone
and inside cotbench's ``evaluate`` (which also scores the candidates for calibration).

    COTBENCH_DATA=... HF_HUB_OFFLINE=1 python benchmarks/eval_check.py [cqa|esnli]

Not a test: the measurement behind issue 7's evaluation figure. ``bench perf`` times both
paths on untrained weights, where generation runs until EOS or ``max_new_tokens``; a model
trained for 100 label-only steps emits a short label and stops, which is the case that matters.
"""

import dataclasses
import sys
import time

import torch

from bench.batching import BatchOrder, collate, encode_pairs
from bench.config import RunConfig, apply_overrides
from bench.evaluate import EvalSettings, evaluate, generate, score_candidates
from bench.models import load_model
from bench.runner import load_run_data, tokenizer_corpus
from bench.strategy import STRATEGIES

dataset = sys.argv[1] if len(sys.argv) > 1 else "cqa"
torch.set_num_threads(2)
cfg = apply_overrides(
    RunConfig(),
    {
        "dataset": dataset,
        "strategy": "finetune",
        "model": "tiny-t5",
        "max_train": 3200,
        "max_input_length": 256,
        "max_target_length": 32,
        "max_new_tokens": 32,
    },
)
splits = load_run_data(cfg)
loaded = load_model(cfg.model, tokenizer_corpus(splits), cfg.vocab_size, 0)
model, tokenizer = loaded.model, loaded.tokenizer
strategy = STRATEGIES.get("finetune")(cfg)
sep = tokenizer.eos_token
encoded = encode_pairs(tokenizer, [strategy.training_pairs(e, sep) for e in splits.train], 256, 32)
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
order = BatchOrder(len(splits.train), 32, 0)
for step in range(100):
    strategy.loss(model, collate(encoded, order.indices(step))).total.backward()
    optimizer.step()
    optimizer.zero_grad()
model.eval()
settings = EvalSettings.for_run(cfg, splits.metric)
examples = list(splits.test[:256])
sources = [strategy.predict_source(e, sep) for e in examples]
candidates = [list(e.candidates) for e in examples]


def timed(path) -> tuple[float, list]:
    start, out = time.perf_counter(), []
    for i in range(0, len(examples), 64):
        out.extend(path(sources[i : i + 64], candidates[i : i + 64]))
    return time.perf_counter() - start, out


def score(s, c):
    return score_candidates(model, tokenizer, s, c, settings)


def gen(s, _c):
    return generate(model, tokenizer, s, settings)[0]


timed(score), timed(gen)  # warm-up
score_s, _ = timed(score)
generate_s, texts = timed(gen)
hit = sum(t in e.candidates for t, e in zip(texts, examples, strict=True)) / len(examples)
score_settings = dataclasses.replace(settings, closed_eval="score")
start = time.perf_counter()
evaluate(model, tokenizer, strategy, examples, settings)
full_generate_s = time.perf_counter() - start
start = time.perf_counter()
evaluate(model, tokenizer, strategy, examples, score_settings)
full_score_s = time.perf_counter() - start
print(
    f"{dataset} evaluate(): closed_eval=generate {len(examples) / full_generate_s:.0f} ex/s, "
    f"closed_eval=score {len(examples) / full_score_s:.0f} ex/s, "
    f"{full_generate_s / full_score_s:.2f}x"
)
print(
    f"{dataset} alone: generate {len(examples) / generate_s:.0f} ex/s, score "
    f"{len(examples) / score_s:.0f} ex/s, score/generate speed {generate_s / score_s:.2f}x "
    f"(generated label is a candidate: {hit:.0%})"
)
