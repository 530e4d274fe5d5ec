"""Stand-ins for the papers' checkpoints: T5 v1.1 written in the hub's file format, no weights.

The ``paper`` and ``small`` profiles load ``google/t5-v1_1-base`` / ``-small`` from a local
path or the Hugging Face cache. Without the weights (no network here, no GPU for a real run),
:func:`write_random_t5_v1_1` writes a randomly initialised model of the exact published
configuration as the hub ships it: ``config.json`` with ``tie_word_embeddings: false`` (v1.1's
untied output layer, and no rescaling of the decoder output), ``model.safetensors`` with its own
``lm_head.weight``, and a SentencePiece ``spiece.model`` trained here on the given text plus
T5's 100 ``<extra_id_*>`` tokens. :func:`hub_cache_snapshot` places such a directory where
``from_pretrained("google/t5-v1_1-base")`` finds it with ``HF_HUB_OFFLINE=1``, so the tests and
``benchmarks/gpu_check.py`` go through the same loader as a user's cache.

Reading ``spiece.model`` needs ``sentencepiece`` and ``protobuf`` (``pip install
'cotbench[paper]'``), as the real checkpoints do.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path

import torch

from bench.errors import ConfigError

# the config.json of each checkpoint on the hub (published dimensions; T5 v1.1 unties the
# output layer from the embeddings)
_T5_V1_1_COMMON = {
    "architectures": ["T5ForConditionalGeneration"],
    "d_kv": 64,
    "decoder_start_token_id": 0,
    "dropout_rate": 0.1,
    "eos_token_id": 1,
    "feed_forward_proj": "gated-gelu",
    "initializer_factor": 1.0,
    "is_encoder_decoder": True,
    "layer_norm_epsilon": 1e-06,
    "model_type": "t5",
    "output_past": True,
    "pad_token_id": 0,
    "relative_attention_num_buckets": 32,
    "tie_word_embeddings": False,
    "vocab_size": 32128,
}
T5_V1_1: dict[str, dict] = {
    # ~248M parameters
    "google/t5-v1_1-base": {
        **_T5_V1_1_COMMON,
        "d_ff": 2048,
        "d_model": 768,
        "num_decoder_layers": 12,
        "num_heads": 12,
        "num_layers": 12,
    },
    # ~77M parameters
    "google/t5-v1_1-small": {
        **_T5_V1_1_COMMON,
        "d_ff": 1024,
        "d_model": 512,
        "num_decoder_layers": 8,
        "num_heads": 6,
        "num_layers": 8,
    },
}
EXTRA_IDS = 100  # T5's sentinel tokens <extra_id_0> ... <extra_id_99>


def _sentencepiece():
    try:
        import google.protobuf  # noqa: F401  (transformers reads spiece.model with it)
        import sentencepiece
    except ImportError as err:
        raise ConfigError(
            f"a T5 v1.1 tokenizer (spiece.model) needs {err.name}: pip install 'cotbench[paper]'"
        ) from None
    return sentencepiece


def train_spiece(texts: Iterable[str], directory: Path, vocab_size: int = 400) -> Path:
    """Train a SentencePiece Unigram model with T5's special ids (pad 0, eos 1, unk 2, no bos)
    on ``texts``; writes ``directory/spiece.model`` and returns its path.

    ``vocab_size`` is an upper bound: a small corpus gets the pieces it supports.
    """
    spm = _sentencepiece()
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(list(texts)),
            model_prefix=str(Path(tmp) / "spiece"),
            vocab_size=vocab_size,
            hard_vocab_limit=False,
            model_type="unigram",
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            pad_piece="<pad>",
            eos_piece="</s>",
            unk_piece="<unk>",
            minloglevel=2,
        )
        (directory / "spiece.model").write_bytes((Path(tmp) / "spiece.model").read_bytes())
    return directory / "spiece.model"


def write_random_t5_v1_1(name: str, directory: Path, texts: Iterable[str], seed: int = 0) -> Path:
    """Write a random-init ``name`` (a key of :data:`T5_V1_1`) into ``directory`` in the hub's
    file layout (config, safetensors weights with an untied ``lm_head``, SentencePiece
    tokenizer trained on ``texts``); returns ``directory``.
    """
    from safetensors.torch import save_file
    from transformers import T5Config, T5ForConditionalGeneration

    if name not in T5_V1_1:
        raise ConfigError(f"{name!r}: expected one of {', '.join(T5_V1_1)}")
    published = T5_V1_1[name]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(T5Config(**published))
    weights = {
        key: value.detach().clone().contiguous()
        for key, value in model.state_dict().items()
        if not key.endswith("embed_tokens.weight") and key != "lm_head.weight"  # tied to shared
    }
    # v1.1's own output layer, initialised as T5 initialises it
    weights["lm_head.weight"] = torch.randn(published["vocab_size"], published["d_model"])
    weights["lm_head.weight"] *= published["initializer_factor"]
    del model
    save_file(weights, str(directory / "model.safetensors"), metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps(published, indent=2) + "\n")
    train_spiece(texts, directory)
    tokenizer_config = {
        "tokenizer_class": "T5Tokenizer",
        "extra_ids": EXTRA_IDS,
        "eos_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "model_max_length": 512,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    return directory


def hub_cache_snapshot(cache_dir: Path, repo_id: str, revision: str = "0" * 40) -> Path:
    """The snapshot directory of ``repo_id`` in a Hugging Face hub cache at ``cache_dir``
    (``models--<org>--<name>/snapshots/<revision>``, with ``refs/main`` pointing at it)."""
    repo = Path(cache_dir) / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot
