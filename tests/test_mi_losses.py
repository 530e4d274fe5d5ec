"""Pins the maths of the MI losses in ``method.mi`` against independent numpy formulas.

``mi_code_loss`` must equal the released code's computation (softmax, max over ALL positions,
cross-entropy with probability targets applied to the pooled probabilities), and padded positions
must change it. ``pooled_distribution`` and ``pooled_divergence`` (the paper and KL terms) must
equal numpy versions that exclude padding, satisfy CE = entropy + KL, and stay finite when
probabilities underflow. Gradients flow only where the detach rules say. ``InfoNCEHead`` learns
to align two identical branches (its bound log B - L grows) but not two independent ones, and
handles B = 1. bf16 inputs give finite float32 results, on CPU and (when present) CUDA.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np
import pytest
import torch

from bench.losses import (
    packed_pooled_log_distribution,
    pooled_cross_entropy,
    pooled_distribution,
    pooled_divergence,
    pooled_kl,
)
from method.mi import InfoNCEHead, mi_code_from_log_probs, mi_code_loss

paper_term = partial(pooled_divergence, pooled_cross_entropy)  # the paper's MI term
kl_term = partial(pooled_divergence, pooled_kl)  # the KL baseline's term

B, LP, LE, V = 3, 5, 7, 11
PREDICT_LENGTHS = [5, 2, 3]  # real target tokens per example; the rest is padding
EXPLAIN_LENGTHS = [7, 4, 1]
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
TOL = {torch.float64: 1e-6, torch.float32: 1e-5}


def _mask(lengths: list[int], length: int) -> torch.Tensor:
    """[B, length] long mask, 1 on the first ``lengths[b]`` positions."""
    return (torch.arange(length)[None] < torch.tensor(lengths)[:, None]).long()


def _batch(
    seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded (predict_logits [B, LP, V], predict_mask, explain_logits [B, LE, V], explain_mask)."""
    g = torch.Generator().manual_seed(seed)
    predict = 3 * torch.randn(B, LP, V, generator=g, dtype=torch.float64)
    explain = 3 * torch.randn(B, LE, V, generator=g, dtype=torch.float64)
    return (
        predict.to(dtype),
        _mask(PREDICT_LENGTHS, LP),
        explain.to(dtype),
        _mask(EXPLAIN_LENGTHS, LE),
    )


# ---- independent numpy references (float64) ----


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def np_softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def np_log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_code_loss(predict: np.ndarray, explain: np.ndarray) -> float:
    """Released code: max over all positions, log_softmax of the pooled probabilities."""
    pooled_p = np_softmax(predict).max(axis=1)  # [B, V]
    pooled_e = np_softmax(explain).max(axis=1)
    return float(np.mean(-(pooled_p * np_log_softmax(pooled_e)).sum(axis=-1)))


def np_pooled(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Softmax, max over the real positions only, normalise over V: [B, V]."""
    probs = np.where(mask[..., None] != 0, np_softmax(logits), 0.0)
    pooled = probs.max(axis=1)
    return pooled / pooled.sum(axis=-1, keepdims=True)


def np_masked_code_loss(predict, predict_mask, explain, explain_mask) -> float:
    """The released formula with padding excluded (no normalisation), to show padding matters."""
    pooled_p = np.where(predict_mask[..., None] != 0, np_softmax(predict), 0.0).max(axis=1)
    pooled_e = np.where(explain_mask[..., None] != 0, np_softmax(explain), 0.0).max(axis=1)
    return float(np.mean(-(pooled_p * np_log_softmax(pooled_e)).sum(axis=-1)))


def np_cross_entropy(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.mean(-(p * np.log(q)).sum(axis=-1)))


def np_kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.mean((p * (np.log(p) - np.log(q))).sum(axis=-1)))


# ---- mi_code_loss ----


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_code_loss_matches_numpy(dtype: torch.dtype, device: str) -> None:
    predict, _, explain, _ = _batch(dtype=dtype)
    got = mi_code_loss(predict.to(device), explain.to(device))
    assert got.dtype == dtype and got.shape == ()
    want = np_code_loss(_np(predict), _np(explain))
    np.testing.assert_allclose(got.item(), want, rtol=TOL[dtype], atol=TOL[dtype])


def test_code_loss_includes_padding() -> None:
    predict, predict_mask, explain, explain_mask = _batch()
    got = mi_code_loss(predict, explain).item()
    masked = np_masked_code_loss(_np(predict), _np(predict_mask), _np(explain), _np(explain_mask))
    assert abs(got - masked) > 1e-2  # excluding padding would give a different number
    # a peaked padded position of the label branch (example 1 has 2 real tokens) moves the loss
    spiked = predict.clone()
    spiked[1, 4] = 0.0
    spiked[1, 4, 0] = 30.0
    assert abs(mi_code_loss(spiked, explain).item() - got) > 1e-2
    np.testing.assert_allclose(
        mi_code_loss(spiked, explain).item(), np_code_loss(_np(spiked), _np(explain)), rtol=1e-6
    )


def test_code_loss_gradient_only_to_explain() -> None:
    predict, _, explain, _ = _batch()
    predict.requires_grad_()
    explain.requires_grad_()
    mi_code_loss(predict, explain).backward()
    assert predict.grad is None  # detached, as in the released code
    assert explain.grad is not None and explain.grad.abs().sum() > 0


def test_code_loss_gradient_matches_released_arithmetic() -> None:
    """The released steps written out in torch (softmax, max(dim=-2), CrossEntropyLoss)."""
    predict, _, explain, _ = _batch()
    explain.requires_grad_()
    pooled_p = predict.softmax(dim=-1).max(dim=-2).values
    pooled_e = explain.softmax(dim=-1).max(dim=-2).values
    (want,) = torch.autograd.grad(torch.nn.CrossEntropyLoss()(pooled_e, pooled_p), explain)
    (got,) = torch.autograd.grad(mi_code_loss(predict, explain), explain)
    torch.testing.assert_close(got, want)


def _saved_large(call: Callable[[], torch.Tensor], min_numel: int) -> list[torch.Tensor]:
    """The tensors of at least ``min_numel`` elements autograd keeps while ``call`` runs."""
    saved: list[torch.Tensor] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        call()
    return [t for t in saved if t.numel() >= min_numel]


def test_training_path_terms_keep_no_new_vocab_sized_tensor() -> None:
    """On the training path the terms read log-softmax the cross-entropy keeps anyway; they save
    for backward no [B, L, V] or [N, V] tensor of their own (only views of their inputs)."""
    predict, predict_mask, explain, explain_mask = _batch()
    pred_lp = torch.log_softmax(predict, -1).requires_grad_()
    expl_lp = torch.log_softmax(explain, -1).requires_grad_()
    real_p, real_e = predict_mask != 0, explain_mask != 0
    packed_p = pred_lp.detach()[real_p].requires_grad_()
    packed_e = expl_lp.detach()[real_e].requires_grad_()

    def pooled(packed, real):
        return packed_pooled_log_distribution(packed, real.nonzero(as_tuple=True)[0], B)

    calls = {
        "code": (lambda: mi_code_from_log_probs(pred_lp, expl_lp), {pred_lp, expl_lp}),
        "paper": (
            lambda: pooled_cross_entropy(pooled(packed_p, real_p), pooled(packed_e, real_e)),
            {packed_p, packed_e},
        ),
        "kl": (
            lambda: pooled_kl(pooled(packed_p.detach(), real_p), pooled(packed_e, real_e)),
            {packed_p, packed_e},
        ),
    }
    smallest = min(int(real_p.sum()), int(real_e.sum())) * V
    for name, (call, inputs) in calls.items():
        pointers = {t.untyped_storage().data_ptr() for t in inputs}
        for tensor in _saved_large(call, smallest):
            expanded_index = 0 in tensor.stride()
            assert expanded_index or tensor.untyped_storage().data_ptr() in pointers, name


def test_packed_terms_equal_the_logits_functions() -> None:
    """The training path (packed log-softmax rows) computes the logits-based definitions."""
    predict, predict_mask, explain, explain_mask = _batch()
    real_p, real_e = predict_mask != 0, explain_mask != 0

    def pooled(logits, real):
        packed = torch.log_softmax(logits, -1)[real]
        return packed_pooled_log_distribution(packed, real.nonzero(as_tuple=True)[0], B)

    log_p, log_e = pooled(predict, real_p), pooled(explain, real_e)
    torch.testing.assert_close(
        pooled_cross_entropy(log_p, log_e),
        paper_term(predict, predict_mask, explain, explain_mask),
    )
    torch.testing.assert_close(
        pooled_kl(log_p, log_e), kl_term(predict, predict_mask, explain, explain_mask)
    )
    torch.testing.assert_close(
        mi_code_from_log_probs(torch.log_softmax(predict, -1), torch.log_softmax(explain, -1)),
        torch.nn.CrossEntropyLoss()(
            explain.softmax(-1).max(dim=-2).values, predict.softmax(-1).max(dim=-2).values
        ),
    )


# ---- pooled_distribution ----


def test_pooled_distribution_sums_to_one_and_matches_numpy() -> None:
    predict, predict_mask, _, _ = _batch()
    pooled = pooled_distribution(predict, predict_mask)
    assert pooled.shape == (B, V)
    torch.testing.assert_close(pooled.sum(-1), torch.ones(B, dtype=torch.float64))
    np.testing.assert_allclose(_np(pooled), np_pooled(_np(predict), _np(predict_mask)), rtol=1e-6)


def test_pooled_distribution_ignores_padding() -> None:
    predict, predict_mask, _, _ = _batch()
    changed = predict.clone()
    padded = predict_mask == 0
    g = torch.Generator().manual_seed(7)
    changed[padded] = 50 * torch.randn(int(padded.sum()), V, generator=g, dtype=torch.float64)
    assert torch.equal(
        pooled_distribution(changed, predict_mask), pooled_distribution(predict, predict_mask)
    )


def test_pooled_distribution_rejects_empty_row() -> None:
    predict, predict_mask, _, _ = _batch()
    predict_mask[0] = 0
    with pytest.raises(ValueError, match="at least one real token"):
        pooled_distribution(predict, predict_mask)


# ---- the paper and KL terms (pooled_divergence) ----


def test_paper_loss_matches_numpy_and_is_entropy_plus_kl() -> None:
    predict, predict_mask, explain, explain_mask = _batch()
    p = np_pooled(_np(predict), _np(predict_mask))
    q = np_pooled(_np(explain), _np(explain_mask))
    got = paper_term(predict, predict_mask, explain, explain_mask)
    np.testing.assert_allclose(got.item(), np_cross_entropy(p, q), rtol=1e-6)
    pooled_p = pooled_distribution(predict, predict_mask)
    entropy = -(pooled_p * pooled_p.log()).sum(-1).mean()
    kl = kl_term(predict, predict_mask, explain, explain_mask)
    torch.testing.assert_close(got, entropy + kl)


def test_paper_loss_finite_when_probabilities_underflow() -> None:
    predict, predict_mask, explain, explain_mask = _batch(dtype=torch.float32)
    explain[..., 0] = 200.0  # every other explain probability is about exp(-200): 0 in float32
    assert (pooled_distribution(explain, explain_mask) == 0).any()
    for loss in (paper_term, kl_term):
        got = loss(predict, predict_mask, explain, explain_mask)
        assert torch.isfinite(got)
    want = np_cross_entropy(
        np_pooled(_np(predict), _np(predict_mask)), np_pooled(_np(explain), _np(explain_mask))
    )
    got = paper_term(predict, predict_mask, explain, explain_mask).item()
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("stop_grad", [True, False])
def test_paper_loss_gradients(stop_grad: bool) -> None:
    predict, predict_mask, explain, explain_mask = _batch()
    predict.requires_grad_()
    explain.requires_grad_()
    paper_term(predict, predict_mask, explain, explain_mask, stop_grad=stop_grad).backward()
    assert explain.grad is not None and explain.grad.abs().sum() > 0
    assert explain.grad[explain_mask == 0].abs().sum() == 0  # padding gets no gradient
    if stop_grad:
        assert predict.grad is None
    else:
        assert predict.grad is not None and predict.grad.abs().sum() > 0


@pytest.mark.parametrize("seed", range(5))
def test_kl_nonnegative_and_matches_numpy(seed: int) -> None:
    predict, predict_mask, explain, explain_mask = _batch(seed)
    got = kl_term(predict, predict_mask, explain, explain_mask).item()
    assert got >= -1e-12
    want = np_kl(
        np_pooled(_np(predict), _np(predict_mask)), np_pooled(_np(explain), _np(explain_mask))
    )
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_kl_zero_for_identical_distributions() -> None:
    predict, predict_mask, _, _ = _batch(dtype=torch.float32)
    # same real tokens, extra padding positions full of noise
    noise = 10 * torch.randn(B, 2, V, generator=torch.Generator().manual_seed(7))
    explain = torch.cat([predict, noise], dim=1)
    explain_mask = torch.cat([predict_mask, torch.zeros(B, 2, dtype=torch.long)], dim=1)
    got = kl_term(predict, predict_mask, explain, explain_mask)
    torch.testing.assert_close(got, torch.zeros(()), atol=1e-6, rtol=0)


# ---- dtypes ----


@pytest.mark.parametrize("device", DEVICES)
def test_bf16_inputs_give_finite_float32(device: str) -> None:
    predict, predict_mask, explain, explain_mask = (
        t.to(device) for t in _batch(dtype=torch.bfloat16)
    )
    masked = (predict, predict_mask, explain, explain_mask)
    results = {
        "code": (mi_code_loss(predict, explain), mi_code_loss(predict.float(), explain.float())),
        "paper": (
            paper_term(*masked),
            paper_term(predict.float(), predict_mask, explain.float(), explain_mask),
        ),
        "kl": (
            kl_term(*masked),
            kl_term(predict.float(), predict_mask, explain.float(), explain_mask),
        ),
        "pooled": (
            pooled_distribution(predict, predict_mask),
            pooled_distribution(predict.float(), predict_mask),
        ),
    }
    for name, (got, reference) in results.items():
        assert got.dtype == torch.float32, name
        assert torch.isfinite(got).all(), name
        torch.testing.assert_close(got, reference, msg=name)


# ---- InfoNCEHead ----

HIDDEN, NCE_BATCH, NCE_LEN = 16, 32, 6


def _hidden_batch(
    g: torch.Generator, aligned: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hidden states [B, L, H] and masks; aligned: same real positions, noise in the padding."""
    predict = torch.randn(NCE_BATCH, NCE_LEN, HIDDEN, generator=g)
    lengths = torch.randint(1, NCE_LEN + 1, (NCE_BATCH,), generator=g)
    mask = (torch.arange(NCE_LEN)[None] < lengths[:, None]).long()
    noise = 5 * torch.randn(NCE_BATCH, NCE_LEN, HIDDEN, generator=g)
    explain = torch.where(mask[..., None] != 0, predict, noise) if aligned else noise
    return predict, mask, explain, mask


def _train_head(aligned: bool, steps: int = 50) -> tuple[float, float]:
    """InfoNCE loss on a held-out batch before and after training a fresh head on fresh batches."""
    torch.manual_seed(0)
    head = InfoNCEHead(HIDDEN, proj_dim=32)
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    held_out = _hidden_batch(torch.Generator().manual_seed(99), aligned)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        before = head(*held_out).item()
    for _ in range(steps):
        loss = head(*_hidden_batch(g, aligned))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = head(*held_out).item()
    return before, after


def test_infonce_finite_with_gradients() -> None:
    head = InfoNCEHead(HIDDEN, proj_dim=8)
    loss = head(*_hidden_batch(torch.Generator().manual_seed(0), aligned=False))
    assert loss.dtype == torch.float32 and torch.isfinite(loss) and loss >= 0
    loss.backward()
    for name, parameter in head.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_infonce_bound_grows_only_for_aligned_branches() -> None:
    log_b = math.log(NCE_BATCH)
    aligned_before, aligned_after = _train_head(aligned=True)
    _, independent_after = _train_head(aligned=False)
    assert (log_b - aligned_after) - (log_b - aligned_before) > 1.0  # the MI bound grows
    assert aligned_after < independent_after - 1.0
    assert log_b - independent_after < 0.5  # nothing to learn from independent branches


def test_infonce_batch_of_one_is_zero_without_nan() -> None:
    head = InfoNCEHead(HIDDEN, proj_dim=8)
    predict, mask, explain, _ = _hidden_batch(torch.Generator().manual_seed(0), aligned=False)
    loss = head(predict[:1], mask[:1], explain[:1], mask[:1])
    assert loss.item() == 0.0
    loss.backward()
    for parameter in head.parameters():
        assert parameter.grad is not None and torch.equal(
            parameter.grad, torch.zeros_like(parameter.grad)
        )


@pytest.mark.parametrize("device", DEVICES)
def test_infonce_bf16_hidden_gives_float32(device: str) -> None:
    head = InfoNCEHead(HIDDEN, proj_dim=8).to(device)
    predict, mask, explain, _ = _hidden_batch(torch.Generator().manual_seed(0), aligned=False)
    loss = head(
        predict.to(device, torch.bfloat16),
        mask.to(device),
        explain.to(device, torch.bfloat16),
        mask.to(device),
    )
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
