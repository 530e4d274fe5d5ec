"""``ece_code``: the number the MI authors' released calibration script prints, for contrast.

Mirrors the arithmetic of ``uncertainty.py`` + ``calib_metrics.py`` in
github.com/xinchen9/cot_distillation_ACL2024 (commit 59ca033 per shared/REFERENCE.md; read at
20eb846), re-implemented here (not copied). What that pipeline does:

1. ``uncertainty.py`` runs one forward pass per test example with a single ``<pad>`` decoder
   input and stores, per example, the whole first-step probability vector over the vocabulary
   (``allprobs``), the first-step argmax token as a one-element list (``allpreds``) and the gold
   label's token ids incl. EOS (``alllabels``).
2. ``compute_ece`` sees a list of lists and treats every *example* as a separate run. Per
   "run": accuracy = [first token right] / len(gold ids) (``zip`` stops after one pair);
   mean probability = the mean of a softmax vector = 1/V; ``ece_equal_mass`` zips the vector
   with the one-element lists, so it keeps only the probability of token id 0 (``<pad>``) and
   returns |[first token right] - p(<pad>)|.
3. It prints the mean and population std over "runs" of each.

So the printed "ECE_equal_mass" is mean_i |[first token of example i right] - p_i(<pad>)|:
first-token accuracy up to the (small) pad probability, not a calibration error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RELEASED_EQUAL_MASS_BINS = 100  # calib_metrics.ece_equal_mass: 100 bins


@dataclass(frozen=True)
class ReleasedFigures:
    """What ``compute_ece`` prints: means and population stds over its "runs"."""

    acc: float
    acc_std: float
    avg_probs: float
    avg_probs_std: float
    abs_gap: float  # |mean acc - mean avg_probs|
    ece_equal_mass: float
    ece_equal_mass_std: float


def released_equal_mass_ece(probs: Sequence, preds: Sequence, labels: Sequence) -> float:
    """``calib_metrics.ece_equal_mass``: ``zip`` (truncating), sort, 100 equal-count bins."""
    rows = sorted(zip(probs, preds, labels, strict=False))
    per_bin = math.ceil(len(rows) / RELEASED_EQUAL_MASS_BINS)
    total = 0.0
    for start in range(0, len(rows), per_bin):
        chunk = rows[start : start + per_bin]
        avg_prob = sum(r[0] for r in chunk) / len(chunk)
        acc = sum(int(r[1] == r[2]) for r in chunk) / len(chunk)
        total += abs(acc - avg_prob) * len(chunk)
    return total / len(rows)


def released_compute_ece(
    probs_runs: Sequence, preds_runs: Sequence, labels_runs: Sequence
) -> ReleasedFigures:
    """``calib_metrics.compute_ece``: a flat input is one run, a list of lists is many."""
    if not isinstance(probs_runs[0], list):
        probs_runs, preds_runs, labels_runs = [probs_runs], [preds_runs], [labels_runs]
    accs, avg_probs, eces = [], [], []
    for probs, preds, labels in zip(probs_runs, preds_runs, labels_runs, strict=True):
        avg_probs.append(float(np.mean(probs)))
        accs.append(sum(int(p == g) for p, g in zip(preds, labels, strict=False)) / len(labels))
        eces.append(released_equal_mass_ece(probs, preds, labels))
    return ReleasedFigures(
        acc=float(np.mean(accs)),
        acc_std=float(np.std(accs)),
        avg_probs=float(np.mean(avg_probs)),
        avg_probs_std=float(np.std(avg_probs)),
        abs_gap=abs(float(np.mean(accs)) - float(np.mean(avg_probs))),
        ece_equal_mass=float(np.mean(eces)),
        ece_equal_mass_std=float(np.std(eces)),
    )


def released_pipeline(
    first_step_probs: np.ndarray, gold_token_ids: Sequence[Sequence[int]]
) -> ReleasedFigures:
    """The whole pipeline from first-step distributions ``[N, V]`` and gold token ids.

    Builds the inputs exactly as ``uncertainty.eval_t5`` does (a vocabulary-sized list, a
    one-element argmax list and the gold ids per example) and runs :func:`released_compute_ece`.
    """
    probs = np.asarray(first_step_probs, dtype=float)
    return released_compute_ece(
        [row.tolist() for row in probs],
        [[int(i)] for i in probs.argmax(axis=1)],
        [list(ids) for ids in gold_token_ids],
    )


def first_token_agreement(
    tokenizer_file: Path, generated: Sequence[str], gold: Sequence[str]
) -> np.ndarray:
    """Per example: whether the first token of the generated text is the gold's first token.

    With the run's own tokenizer. The released script's figure equals the mean of this when the
    first-step probability of ``<pad>`` is 0 (it differs by at most that probability's mean,
    which the run store does not record).
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    firsts = [e.ids[:1] for e in tokenizer.encode_batch(list(generated))]
    golds = [e.ids[:1] for e in tokenizer.encode_batch(list(gold))]
    return np.array([a == b for a, b in zip(firsts, golds, strict=True)], dtype=float)
