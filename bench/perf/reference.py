"""The reference design: how the DSS and MI authors' code batches examples and computes the loss.

Rebuilt from the descriptions of google-research/distilling-step-by-step @ ef94426
(``data_utils.py`` tokenisation, ``model_utils.py`` ``TaskPrefixDataCollator`` and
``TaskPrefixTrainer.compute_loss``) and xinchen9/cot_distillation_ACL2024 @ 59ca033
(``model_utils.py``, the MI term), on the Hugging Face ``Seq2SeqTrainer``:

- one feature dict of Python lists per example (``input_ids``, ``attention_mask``, ``labels``
  and their ``expl_`` twins), tokenised once before training;
- examples in random order (``RandomSampler``), one permutation per epoch;
- a collator that puts the features into a pandas DataFrame, splits its columns into the
  ``pred`` and ``expl`` halves and pads each with ``DataCollatorForSeq2Seq`` (labels with -100,
  ``decoder_input_ids`` from the model);
- ``alpha1 * model(**pred).loss + alpha2 * model(**expl).loss`` (the code's alpha and 1 - alpha),
  plus for MI ``alpha3 * CrossEntropyLoss()(max_l softmax(expl), max_l softmax(pred).detach())``
  computed on materialised softmax tensors.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn
from transformers import DataCollatorForSeq2Seq, PreTrainedTokenizerBase

from bench.config import RunConfig
from bench.strategy import TaskPair

IGNORE_INDEX = -100
PRED_COLUMNS = ("input_ids", "attention_mask", "labels")
EXPL_COLUMNS = {
    "expl_input_ids": "input_ids",
    "expl_attention_mask": "attention_mask",
    "expl_labels": "labels",
}

ReferenceBatch = dict[str, dict[str, torch.Tensor]]  # "pred"/"expl" -> model keyword arguments


def reference_features(
    tokenizer: PreTrainedTokenizerBase,
    pairs: list[dict[str, TaskPair]],
    max_input_length: int,
    max_target_length: int,
) -> list[dict[str, list[int]]]:
    """One feature dict per example, tokenised as the reference's ``dataset.map`` does."""

    def encode(task: str, key: str, max_length: int) -> dict[str, list[list[int]]]:
        return tokenizer(
            [getattr(p[task], key) for p in pairs], truncation=True, max_length=max_length
        )

    pred = encode("predict", "source", max_input_length)
    expl = encode("explain", "source", max_input_length)
    pred_labels = encode("predict", "target", max_target_length)["input_ids"]
    expl_labels = encode("explain", "target", max_target_length)["input_ids"]
    return [
        {
            "input_ids": pred["input_ids"][i],
            "attention_mask": pred["attention_mask"][i],
            "labels": pred_labels[i],
            "expl_input_ids": expl["input_ids"][i],
            "expl_attention_mask": expl["attention_mask"][i],
            "expl_labels": expl_labels[i],
        }
        for i in range(len(pairs))
    ]


class TaskPrefixCollator:
    """Features -> ``{"pred": ..., "expl": ...}`` through a DataFrame and two seq2seq paddings."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, model: nn.Module | None = None) -> None:
        self.pad = DataCollatorForSeq2Seq(
            tokenizer, model=model, label_pad_token_id=IGNORE_INDEX, return_tensors="pt"
        )

    def __call__(self, features: list[dict[str, list[int]]]) -> ReferenceBatch:
        frame = pd.DataFrame(features)
        pred = frame[list(PRED_COLUMNS)].to_dict("records")
        expl = frame[list(EXPL_COLUMNS)].rename(columns=EXPL_COLUMNS).to_dict("records")
        return {"pred": dict(self.pad(pred)), "expl": dict(self.pad(expl))}


class RandomOrder:
    """Random example order as ``RandomSampler``: a seeded permutation per epoch, cut in batches."""

    def __init__(self, n_examples: int, batch_size: int, seed: int) -> None:
        self.n_examples, self.batch_size, self.seed = n_examples, batch_size, seed
        self.per_epoch = -(-n_examples // batch_size)

    def indices(self, step: int) -> list[int]:
        """Example indices of batch ``step``."""
        epoch, position = divmod(step, self.per_epoch)
        generator = torch.Generator().manual_seed(self.seed + epoch)
        order = torch.randperm(self.n_examples, generator=generator)
        return order[position * self.batch_size : (position + 1) * self.batch_size].tolist()


def reference_loss(
    model: nn.Module, inputs: ReferenceBatch, config: RunConfig, with_mi: bool
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The weighted total and the unweighted terms (``pred``, ``explain``, ``mi``)."""
    pred = model(**inputs["pred"])
    expl = model(**inputs["expl"])
    parts = {"pred": pred.loss, "explain": expl.loss}
    total = config.alpha1 * pred.loss + config.alpha2 * expl.loss
    if with_mi:
        p = torch.softmax(pred.logits.detach(), dim=-1)  # [B, Lp, V]
        e = torch.softmax(expl.logits, dim=-1)  # [B, Le, V]
        pooled_p = torch.max(p, dim=-2)[0]  # [B, V]
        pooled_e = torch.max(e, dim=-2)[0]  # [B, V]
        parts["mi"] = nn.CrossEntropyLoss()(pooled_e, pooled_p)
        total = total + config.alpha3 * parts["mi"]
    return total, parts
