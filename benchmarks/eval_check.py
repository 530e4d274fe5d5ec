"""Closed-label evaluation on a TRAINED tiny-t5: greedy generation vs candidate scoring, alone
and inside cotbench's ``evaluate`` (which also scores the candidates for calibration).

    COTBENCH_DATA=... HF_HUB_OFFLINE=1 python benchmarks/eval_check.py [cqa|esnli]

Not a test: the measurement behind issue 7's evaluation figure. ``bench perf`` times both
paths on untrained weights, where generation runs until EOS or ``max_new_tokens``; a model
trained for 100 label-only steps emits a short label and stops, which is the case that matters.
"""

import sys
import time
from dataclasses import replace

import torch

from bench.batching import BatchOrder, collate, encode_pairs
from bench.config import RunConfig, apply_overrides
from bench.evaluate import EvalSettings, evaluate
from bench.models import load_model
from bench.perf.eval import compare_eval
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
        "eval_length_grouping": True,
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
compare_eval(model, tokenizer, strategy, examples[:64], settings)  # warm-up
alone = compare_eval(model, tokenizer, strategy, examples, settings)


def evaluate_s(closed_eval: str) -> float:
    """Wall time of cotbench's whole evaluation (records included) in one mode."""
    start = time.perf_counter()
    evaluate(model, tokenizer, strategy, examples, replace(settings, closed_eval=closed_eval))
    return time.perf_counter() - start


full_generate_s, full_score_s = evaluate_s("generate"), evaluate_s("score")
n = len(examples)
print(
    f"{dataset} evaluate(): closed_eval=generate {n / full_generate_s:.0f} ex/s, "
    f"closed_eval=score {n / full_score_s:.0f} ex/s, {full_generate_s / full_score_s:.2f}x"
)
print(
    f"{dataset} alone: generate {alone['generate_examples_per_s']:.0f} ex/s, score "
    f"{alone['score_examples_per_s']:.0f} ex/s, {alone['speedup']:.2f}x; identical labels "
    f"{alone['identical_labels']:.0%} (generated label is a candidate: "
    f"{alone['generated_is_candidate']:.0%})"
)
