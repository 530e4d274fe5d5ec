"""Pooled output distributions of the two tasks and the divergences between them.

Shared by the KL baseline (``dss+kl``, :mod:`baselines`) and the MI terms (:mod:`method`): the
masked, max-pooled, renormalised softmax of a teacher-forced decoder pass, its cross-entropy and
KL divergence. Pure functions; logits in bf16/fp16/fp32 are computed in float32, fp64 stays
fp64. On the training path they read the log-softmax rows the cross-entropy already computed
(:class:`bench.strategy.TaskOutput`), packed [N, V] at the real target positions, so a term adds
no [N, V] tensor; pooling reduces them to [B, V] by a scatter-max over the packed rows.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from bench.strategy import TaskOutput


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for bf16/fp16/fp32 inputs, float64 for float64."""
    return torch.promote_types(dtype, torch.float32)


def log_softmax(logits: Tensor) -> Tensor:
    """log-softmax over the last dim in :func:`compute_dtype`: [..., V] -> [..., V]."""
    return torch.log_softmax(logits.to(compute_dtype(logits.dtype)), dim=-1)


def packed_pooled_log_distribution(log_probs: Tensor, rows: Tensor, batch_size: int) -> Tensor:
    """log of the masked, max-pooled, renormalised distribution from packed rows.

    log_probs [N, V] (log-softmax at the real target positions), rows [N] (each row's example
    index) -> [B, V], finite. Raises ValueError when an example has no row.
    """
    counts = torch.bincount(rows, minlength=batch_size)
    if batch_size and int(counts.min()) == 0:
        raise ValueError("every row of the target mask needs at least one real token")
    index = rows[:, None].expand(-1, log_probs.shape[-1])  # [N, V]
    start = log_probs.new_full((batch_size, log_probs.shape[-1]), float("-inf"))
    pooled = start.scatter_reduce(0, index, log_probs, reduce="amax", include_self=True)
    return pooled - torch.logsumexp(pooled, dim=-1, keepdim=True)  # [B, V]


def pooled_log_distribution(out: TaskOutput, detach: bool = False) -> Tensor:
    """[B, V] log of the masked max-pooled distribution of a packed teacher-forced pass."""
    log_probs = out.log_probs.detach() if detach else out.log_probs
    return packed_pooled_log_distribution(log_probs, out.rows, out.mask.shape[0])


def pooled_cross_entropy(log_p_pred: Tensor, log_p_explain: Tensor) -> Tensor:
    """H(p_pred, p_explain) of [B, V] log-distributions, mean over the batch: []."""
    return -(log_p_pred.exp() * log_p_explain).sum(dim=-1).mean()


def pooled_kl(log_p_pred: Tensor, log_p_explain: Tensor) -> Tensor:
    """KL(p_pred || p_explain) of [B, V] log-distributions, mean over the batch: []."""
    return (log_p_pred.exp() * (log_p_pred - log_p_explain)).sum(dim=-1).mean()


def log_pooled_distribution(logits: Tensor, mask: Tensor) -> Tensor:
    """log of :func:`pooled_distribution`: logits [B, L, V], mask [B, L] -> [B, V], finite."""
    real = mask != 0
    packed = log_softmax(logits)[real]  # [N, V]
    return packed_pooled_log_distribution(packed, real.nonzero(as_tuple=True)[0], logits.shape[0])


def pooled_distribution(logits: Tensor, mask: Tensor) -> Tensor:
    """Softmax over V, max over the real (``mask != 0``) positions, normalised to sum 1 over V.

    logits [B, L, V], mask [B, L] -> [B, V] float32 (fp64 for fp64); padding is excluded.
    Raises ValueError when a row of ``mask`` has no real token.
    """
    return log_pooled_distribution(logits, mask).exp()


def pooled_divergence(
    divergence: Callable[[Tensor, Tensor], Tensor],
    predict_logits: Tensor,
    predict_mask: Tensor,
    explain_logits: Tensor,
    explain_mask: Tensor,
    stop_grad: bool = True,
) -> Tensor:
    """``divergence(log p_pred, log p_explain)`` of the two branches' masked pooled distributions.

    predict_logits [B, Lp, V], predict_mask [B, Lp], explain_logits [B, Le, V],
    explain_mask [B, Le] -> [] float32 (fp64 for fp64); p_pred is detached when ``stop_grad``.
    With :func:`pooled_cross_entropy` this is the paper's MI term (``dss+mi``, ``mi_term=paper``),
    with :func:`pooled_kl` the KL baseline's term (``dss+kl``); the log is taken in log space
    (logsumexp), so an underflowing probability gives no NaN or inf.
    """
    if stop_grad:
        predict_logits = predict_logits.detach()
    return divergence(
        log_pooled_distribution(predict_logits, predict_mask),
        log_pooled_distribution(explain_logits, explain_mask),
    )
