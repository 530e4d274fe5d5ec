"""Mutual-information losses between the label (``predict:``) and rationale (``explain:``) branches.

Pure functions over the two teacher-forced decoder passes of a seq2seq student. The training
path (``dss+mi``, ``dss+kl``) passes log-softmax rows the cross-entropy already computed
(:class:`bench.strategy.TaskOutput`): [B, L, V] at every position for ``code`` (it pools padding
too), packed [N, V] at the real positions otherwise; the logits-based functions below take
logits ``predict_logits`` [B, Lp, V], ``explain_logits`` [B, Le, V] and decoder target masks
[B, L] (1 = real target token, i.e. ``labels != -100``) and are defined through the same code.
Four terms, from the released code to a learned bound:

- ``mi_code_loss``: the MI term exactly as the authors' released code computes it (padding included,
  cross-entropy over probabilities), see github.com/xinchen9/cot_distillation_ACL2024 (59ca033),
  ``model_utils.py``, ``TaskPrefixTrainer.compute_loss``;
- the ``paper`` term: the paper's description done properly, a cross-entropy between masked,
  normalised max-pooled distributions (``bench.losses.pooled_divergence`` with
  ``pooled_cross_entropy``; with ``pooled_kl`` the same function gives the KL baseline's term,
  the paper term minus the entropy of p_pred);
- ``InfoNCEHead``: a learned InfoNCE lower bound on I(pred; explain) over decoder hidden states.

Dtypes: logits in bf16/fp16/fp32 are computed and returned in float32, fp64 stays fp64.
Memory: on the training path a term adds no [B, L, V] (or [N, V]) tensor to those the
cross-entropy keeps anyway (logits and their log-softmax); pooling reduces them to [B, V] by a
max over positions (``code``) or a scatter-max over packed rows (``paper``, ``kl``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.losses import log_softmax


def mi_code_from_log_probs(predict_log_probs: Tensor, explain_log_probs: Tensor) -> Tensor:
    """``mi_code_loss`` from log-softmax over V at every position: [B, Lp, V], [B, Le, V] -> [].

    max_l softmax = exp(max_l log_softmax), so this is the released formula; the predict branch
    is detached. Only two [B, V] tensors are added to the inputs.
    """
    pooled_p = predict_log_probs.detach().max(dim=-2).values.exp()  # [B, V]
    pooled_e = explain_log_probs.max(dim=-2).values.exp()  # [B, V]
    return F.cross_entropy(pooled_e, pooled_p)


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

    Example: ``loss = alpha * l_pred + (1 - alpha) * l_explain + beta * mi_code_loss(p, e)``.
    """
    return mi_code_from_log_probs(log_softmax(predict_logits.detach()), log_softmax(explain_logits))


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
