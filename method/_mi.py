"""Mutual-information losses between the label (``predict:``) and rationale (``explain:``) branches.

Pure functions over the two teacher-forced decoder passes of a seq2seq student: logits
``predict_logits`` [B, Lp, V] and ``explain_logits`` [B, Le, V], decoder target masks [B, L]
(1 = real target token, i.e. ``labels != -100``). Four terms, from the released code to a learned
bound:

- ``mi_code_loss``: the MI term exactly as the authors' released code computes it (padding included,
  cross-entropy over probabilities), see github.com/xinchen9/cot_distillation_ACL2024 (59ca033),
  ``model_utils.py``, ``TaskPrefixTrainer.compute_loss``;
- ``mi_paper_loss``: the paper's description done properly, a cross-entropy between masked,
  normalised max-pooled distributions;
- ``kl_loss``: KL(p_pred || p_explain) on the same distributions (``mi_paper_loss`` minus the
  entropy of p_pred);
- ``InfoNCEHead``: a learned InfoNCE lower bound on I(pred; explain) over decoder hidden states.

Dtypes: logits in bf16/fp16/fp32 are computed and returned in float32, fp64 stays fp64.
Memory: every pooling runs in log space through one helper, which allocates at most two transient
[B, L, V] float32 tensors per branch in the forward pass and saves for backward nothing
[B, L, V]-sized but the logits themselves (their float32 copy when the logits are bf16/fp16).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for bf16/fp16/fp32 inputs, float64 for float64."""
    return torch.promote_types(dtype, torch.float32)


def _log_max_softmax(logits: Tensor, mask: Tensor | None) -> Tensor:
    """log max_l softmax(logits)[b, l, v] over the real positions (all when ``mask`` is None).

    logits [B, L, V], mask [B, L] or None -> [B, V]. Not normalised over V.
    Computed as max_l (x - logsumexp_v x), which equals the log of max_l softmax because exp is
    monotone; a probability that underflows in softmax stays a finite log here.
    [B, L, V] tensors: logsumexp's working memory and ``shifted`` are transient (at most two alive
    at once); backward keeps only the logits, as a float32 copy when they are bf16/fp16 (saved by
    logsumexp), and [B, V] argmax indices (saved by ``max``).
    """
    x = logits.to(_compute_dtype(logits.dtype))  # no copy when already float32
    shifted = x - torch.logsumexp(x, dim=-1, keepdim=True)  # [B, L, V] log-softmax
    if mask is not None:
        real = mask != 0  # [B, L]
        if not bool(real.any(dim=-1).all()):
            raise ValueError("every row of the target mask needs at least one real token")
        # in place is safe: nothing saved ``shifted`` for backward
        shifted.masked_fill_(~real[..., None], float("-inf"))
    # max(dim) saves [B, V] indices for backward, amax would save all of ``shifted``
    return shifted.max(dim=-2).values  # [B, V]


def _log_pooled_distribution(logits: Tensor, mask: Tensor) -> Tensor:
    """log of ``pooled_distribution``: logits [B, L, V], mask [B, L] -> [B, V], finite."""
    log_max = _log_max_softmax(logits, mask)  # [B, V]
    return log_max - torch.logsumexp(log_max, dim=-1, keepdim=True)


def mi_code_loss(predict_logits: Tensor, explain_logits: Tensor) -> Tensor:
    """The MI term of the released code: CE(input=max-pooled e, target=max-pooled p), a scalar.

    predict_logits [B, Lp, V] (detached), explain_logits [B, Le, V] -> [] float32 (fp64 for fp64).
    p = softmax(predict_logits) and e = softmax(explain_logits) over V are max-pooled over ALL
    positions, padding included, to pooled_p, pooled_e [B, V] (rows sum to between 1 and L, not
    distributions), then ``F.cross_entropy(pooled_e, pooled_p)`` in its probability-target form:
    mean_b -sum_v pooled_p[b, v] * log_softmax(pooled_e[b])[v]. The log_softmax is applied to
    values that are already probabilities, as in the released code. Only the explain branch gets a
    gradient. Ported from github.com/xinchen9/cot_distillation_ACL2024 (commit 59ca033),
    ``model_utils.py``, ``TaskPrefixTrainer.compute_loss``: ``pred_outputs.logits.detach()``,
    ``softmax(dim=-1)``, ``torch.max(prob, dim=-2)[0]``, ``nn.CrossEntropyLoss()(expl, pred)``.
    Memory: see ``_log_max_softmax``; no [B, L, V] tensor is kept for the detached predict branch.

    Example: ``loss = alpha * l_pred + (1 - alpha) * l_explain + beta * mi_code_loss(p, e)``.
    """
    pooled_p = _log_max_softmax(predict_logits.detach(), None).exp()  # [B, V]
    pooled_e = _log_max_softmax(explain_logits, None).exp()  # [B, V]
    return F.cross_entropy(pooled_e, pooled_p)


def pooled_distribution(logits: Tensor, mask: Tensor) -> Tensor:
    """Softmax over V, max over the real (``mask != 0``) positions, normalised to sum 1 over V.

    logits [B, L, V], mask [B, L] -> [B, V] float32 (fp64 for fp64); padding is excluded.
    Raises ValueError when a row of ``mask`` has no real token.
    """
    return _log_pooled_distribution(logits, mask).exp()


def mi_paper_loss(
    predict_logits: Tensor,
    predict_mask: Tensor,
    explain_logits: Tensor,
    explain_mask: Tensor,
    stop_grad: bool = True,
) -> Tensor:
    """Cross-entropy H(p_pred, p_explain) of the masked pooled distributions, mean over the batch.

    predict_logits [B, Lp, V], predict_mask [B, Lp], explain_logits [B, Le, V],
    explain_mask [B, Le] -> [] float32 (fp64 for fp64). mean_b -sum_v p_pred[v] * log p_explain[v]
    with both from ``pooled_distribution``; p_pred is detached when ``stop_grad``. The log is taken
    in log space (logsumexp), so an underflowing probability gives no NaN or inf.
    Equals entropy(p_pred) + ``kl_loss``. Memory: see ``_log_max_softmax``.
    """
    if stop_grad:
        predict_logits = predict_logits.detach()
    p_pred = _log_pooled_distribution(predict_logits, predict_mask).exp()  # [B, V]
    log_p_explain = _log_pooled_distribution(explain_logits, explain_mask)  # [B, V]
    return -(p_pred * log_p_explain).sum(dim=-1).mean()


def kl_loss(
    predict_logits: Tensor,
    predict_mask: Tensor,
    explain_logits: Tensor,
    explain_mask: Tensor,
    stop_grad: bool = True,
) -> Tensor:
    """KL(p_pred || p_explain) of the masked pooled distributions, mean over the batch.

    Shapes as ``mi_paper_loss`` -> [] float32 (fp64 for fp64); >= 0 up to float error, 0 when the
    two distributions are equal. p_pred is detached when ``stop_grad``. Memory: see
    ``_log_max_softmax``.
    """
    if stop_grad:
        predict_logits = predict_logits.detach()
    log_p_pred = _log_pooled_distribution(predict_logits, predict_mask)  # [B, V]
    log_p_explain = _log_pooled_distribution(explain_logits, explain_mask)  # [B, V]
    return (log_p_pred.exp() * (log_p_pred - log_p_explain)).sum(dim=-1).mean()


def _masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean of hidden [B, L, H] over the real positions of mask [B, L] -> [B, H] float32."""
    weights = (mask != 0).to(torch.float32)[..., None]  # [B, L, 1]
    total = (hidden.to(torch.float32) * weights).sum(dim=1)  # [B, H]
    return total / weights.sum(dim=1).clamp_min(1.0)


class InfoNCEHead(nn.Module):
    """Learned InfoNCE lower bound on I(pred; explain) from the two branches' decoder hidden states.

    Each branch's hidden states are mean-pooled over real target positions, projected by its own
    Linear -> GELU -> Linear, L2-normalised; the [B, B] cosine similarities / ``temperature`` score
    every pair, the positive of example i being example i's other branch (in-batch negatives).
    The returned loss L is the mean of the two directions' InfoNCE cross-entropies, so
    I(pred; explain) >= log(B) - L (van den Oord et al. 2018, each direction is a bound and so is
    their mean). With B = 1 the single logit is its own softmax: L = 0, with zero gradients.
    """

    def __init__(self, hidden_size: int, proj_dim: int = 128, temperature: float = 0.1) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.proj_predict = self._projection(hidden_size, proj_dim)
        self.proj_explain = self._projection(hidden_size, proj_dim)

    @staticmethod
    def _projection(hidden_size: int, proj_dim: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Linear(hidden_size, proj_dim), nn.GELU(), nn.Linear(proj_dim, proj_dim)
        )

    def _embed(self, proj: nn.Sequential, hidden: Tensor, mask: Tensor) -> Tensor:
        """hidden [B, L, H], mask [B, L] -> unit vectors [B, proj_dim] float32."""
        pooled = _masked_mean(hidden, mask)  # [B, H]
        weight_dtype = proj[0].weight.dtype
        return F.normalize(proj(pooled.to(weight_dtype)).to(torch.float32), dim=-1)

    def forward(
        self,
        predict_hidden: Tensor,
        predict_mask: Tensor,
        explain_hidden: Tensor,
        explain_mask: Tensor,
    ) -> Tensor:
        """predict_hidden [B, Lp, H], predict_mask [B, Lp], explain_hidden [B, Le, H],
        explain_mask [B, Le] -> symmetric InfoNCE loss [] float32, >= 0."""
        z_pred = self._embed(self.proj_predict, predict_hidden, predict_mask)  # [B, D]
        z_expl = self._embed(self.proj_explain, explain_hidden, explain_mask)  # [B, D]
        scores = z_pred @ z_expl.T / self.temperature  # [B, B], positives on the diagonal
        target = torch.arange(scores.shape[0], device=scores.device)
        return 0.5 * (F.cross_entropy(scores, target) + F.cross_entropy(scores.T, target))
