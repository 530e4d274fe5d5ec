"""Measurements of one design's training steps: time, data share, peak memory, FLOPs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import torch
from torch import nn
from torch._C._profiler import _EventType
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from bench.perf.designs import AnyBatch, Design, TokenCounts, to_device, token_counts

USEFUL_FLOPS_FORMULA = (
    "6 x encoder matmul params x real input tokens"
    " + 6 x (decoder matmul params + lm_head params) x real target tokens"
)


def sync(device: torch.device) -> None:
    """Wait for queued device work (CUDA); nothing on CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """bf16 autocast when ``precision == "bf16"``, else a no-op context."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


@dataclass
class Trainee:
    """A design training one strategy, with its own model copy and optimizer."""

    design: Design
    strategy: str
    model: nn.Module
    optimizer: torch.optim.Optimizer

    @property
    def key(self) -> tuple[str, str]:
        """(strategy, design name): what its timings are filed under."""
        return self.strategy, self.design.name

    def step(self, batch: AnyBatch, precision: str, max_grad_norm: float) -> None:
        """One optimizer step: forward, backward, clipping, AdamW."""
        device = next(self.model.parameters()).device
        with autocast(device, precision):
            total, _ = self.design.loss(self.model, batch)
        total.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


@dataclass
class StepLog:
    """Per timed step of one design: wall time, data time, batch and token counts."""

    step_s: list[float] = field(default_factory=list)
    data_s: list[float] = field(default_factory=list)
    batches: list[list[int]] = field(default_factory=list)
    tokens: list[TokenCounts] = field(default_factory=list)

    def total_tokens(self) -> TokenCounts:
        total = TokenCounts()
        for counts in self.tokens:
            total = total.add(counts)
        return total


def time_training(
    trainees: list[Trainee], steps: int, warmup: int, precision: str, max_grad_norm: float
) -> dict[tuple[str, str], StepLog]:
    """Warm-up steps (untimed), then ``steps`` timed steps, the trainees interleaved step by step.

    Warm-up uses the batches of the first steps again, so the timed steps cover the examples of
    one epoch. The trainees' order rotates by one every step: each takes every position equally
    often and none runs twice in a row, so background load and warm caches favour none.
    Logs are keyed by :attr:`Trainee.key`.
    """
    device = next(trainees[0].model.parameters()).device
    for step in range(warmup):
        for t in trainees:
            batch = to_device(t.design.batch(t.design.indices(step % steps)), device)
            t.step(batch, precision, max_grad_norm)
    logs = {t.key: StepLog() for t in trainees}
    for step in range(steps):
        shift = step % len(trainees)
        for t in trainees[shift:] + trainees[:shift]:
            sync(device)
            start = time.perf_counter()
            indices = t.design.indices(step)
            cpu_batch = t.design.batch(indices)
            batch = to_device(cpu_batch, device)
            sync(device)
            loaded = time.perf_counter()
            t.step(batch, precision, max_grad_norm)
            sync(device)
            log = logs[t.key]
            log.step_s.append(time.perf_counter() - start)
            log.data_s.append(loaded - start)
            log.batches.append(indices)
            log.tokens.append(token_counts(cpu_batch))
    return logs


def peak_step_memory(run_step: Callable[[], None], device: torch.device) -> int:
    """Bytes allocated at the peak of ``run_step`` above what was allocated before it.

    CUDA: ``max_memory_allocated`` after a reset. CPU: the profiler's allocation events in time
    order, the maximum of their running sum.
    """
    if device.type == "cuda":
        sync(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        run_step()
        sync(device)
        return torch.cuda.max_memory_allocated(device) - before
    # kineto writes "USDT: ... profiler_start/stop" lines to stderr below level 6 (its USDT is 5)
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run_step()
    return _peak_allocated(prof)


def _peak_allocated(prof: profile) -> int:
    """Max running sum of the profiler's allocation events (frees are negative) in time order."""
    allocations: list[tuple[int, int]] = []
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation:
            allocations.append((node.start_time_ns, node.extra_fields.alloc_size))
        stack.extend(node.children)
    running = peak = 0
    for _, size in sorted(allocations):
        running += size
        peak = max(peak, running)
    return peak


def executed_flops(design: Design, model: nn.Module, batch: AnyBatch) -> int:
    """FLOPs one training forward + backward of ``design`` executes on ``batch`` (padding
    included), counted by ``FlopCounterMode``; the gradients are dropped afterwards."""
    with FlopCounterMode(display=False) as counter:
        total, _ = design.loss(model, batch)
        total.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def matmul_params(model: nn.Module) -> tuple[int, int, int]:
    """Weights of the encoder's and decoder's ``nn.Linear`` layers, and the lm_head's."""

    def linear(module: nn.Module) -> int:
        return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Linear))

    head = model.get_output_embeddings().weight.numel()
    return linear(model.get_encoder()), linear(model.get_decoder()), head


def useful_flops(model: nn.Module, tokens: TokenCounts) -> int:
    """Training FLOPs on real tokens only (``USEFUL_FLOPS_FORMULA``)."""
    encoder, decoder, head = matmul_params(model)
    return 6 * encoder * tokens.encoder_real + 6 * (decoder + head) * tokens.decoder_real


def matmul_peak(dtype: torch.dtype, device: torch.device, size: int, repeats: int = 5) -> float:
    """Best dense ``torch.mm`` FLOP/s of two ``size`` x ``size`` matrices."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best
