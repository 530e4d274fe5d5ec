"""DSS step ex/s of cotbench's core on tiny-t5/cqa batches: eager vs torch.compile, 1 vs 2 threads.

    COTBENCH_DATA=... HF_HUB_OFFLINE=1 python benchmarks/compile_check.py

Not a test: the measurement behind the decision not to compile the training step (issue 7).
"""

import copy
import time

import torch

from bench.batching import BatchOrder, collate, encode_pairs, grouping_lengths
from bench.config import RunConfig, apply_overrides
from bench.models import load_model
from bench.runner import load_run_data, tokenizer_corpus
from bench.strategy import STRATEGIES

cfg = apply_overrides(
    RunConfig(),
    {
        "dataset": "cqa",
        "strategy": "dss",
        "model": "tiny-t5",
        "batch_size": 32,
        "max_train": 32 * 14,
        "max_input_length": 256,
        "max_target_length": 128,
    },
)
splits = load_run_data(cfg)
loaded = load_model(cfg.model, tokenizer_corpus(splits), cfg.vocab_size, 0)
strategy = STRATEGIES.get("dss")(cfg)
pairs = [strategy.training_pairs(e, loaded.tokenizer.eos_token) for e in splits.train]
enc = encode_pairs(loaded.tokenizer, pairs, 256, 128)
order = BatchOrder(len(pairs), 32, 0, grouping_lengths(enc))
batches = [collate(enc, order.indices(s)) for s in range(14)]


def measure(compiled: bool, threads: int) -> float:
    torch.set_num_threads(threads)
    model = copy.deepcopy(loaded.model)
    target = torch.compile(model, dynamic=True) if compiled else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(b):
        strategy.loss(target, b).total.backward()
        opt.step()
        opt.zero_grad()

    for b in batches[:4]:  # warm-up (compilation)
        step(b)
    start = time.perf_counter()
    for b in batches[4:]:
        step(b)
    return 32 * len(batches[4:]) / (time.perf_counter() - start)


for threads in (1, 2):
    for compiled in (False, True):
        print(
            f"threads={threads} compile={compiled}: {measure(compiled, threads):.1f} ex/s",
            flush=True,
        )
