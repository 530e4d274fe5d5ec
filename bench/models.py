"""Model and tokenizer factory: built-in presets or any ``AutoModelForSeq2SeqLM``.

``--model`` is a preset name (a randomly initialised T5 built from a ``T5Config`` in code, with
a Unigram tokenizer trained on the run's training text), a local path, or a Hugging Face id
(loaded with ``local_files_only`` when ``HF_HUB_OFFLINE=1``). The rest of cotbench only uses the
generic seq2seq API (``input_ids``/``labels`` forward, ``generate``), never T5 internals.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedTokenizerBase,
    T5Config,
    T5ForConditionalGeneration,
)
from transformers.activations import ACT2FN, NewGELUActivation

from bench.char_tokenizer import char_tokenizer
from bench.errors import ConfigError
from bench.registry import Registry
from bench.tokenizer import load_tokenizer, trained_tokenizer

# name -> keyword arguments of T5Config (vocabulary size and special ids are filled in later)
T5_PRESETS: dict[str, dict[str, int | float]] = {
    # ~0.7M params at a 2k vocabulary: unit tests and the smoke suite
    "tiny-t5-s": dict(
        d_model=64, d_ff=128, d_kv=16, num_heads=4, num_layers=1, num_decoder_layers=1
    ),
    # ~0.5M params at a character vocabulary: synth version 2 on one CPU core (suite synth)
    "tiny-t5-xs": dict(
        d_model=96, d_ff=256, d_kv=24, num_heads=4, num_layers=2, num_decoder_layers=2
    ),
    # ~2.8M params at a 4k vocabulary: the CPU profiles
    "tiny-t5": dict(
        d_model=128, d_ff=512, d_kv=32, num_heads=4, num_layers=3, num_decoder_layers=3
    ),
    # t5-small's dimensions (~48M params at an 8k vocabulary), random init
    "t5-small-random": dict(
        d_model=512, d_ff=2048, d_kv=64, num_heads=8, num_layers=6, num_decoder_layers=6
    ),
}


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".ckpt")


@dataclass
class LoadedModel:
    """A model, its tokenizer, and where the tokenizer came from (recorded in the run)."""

    model: nn.Module
    tokenizer: PreTrainedTokenizerBase
    tokenizer_file: Path | None  # the trained tokenizer's file (presets only)
    identity: dict | None = None  # which weights: see :func:`model_identity` (env.json)


def weights_sha256(directory: Path) -> dict[str, str]:
    """sha256 of each weights file (``WEIGHT_SUFFIXES``) in ``directory``, by file name."""
    digests = {}
    for path in sorted(Path(directory).iterdir()):
        if path.is_file() and path.name.endswith(WEIGHT_SUFFIXES):
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            digests[path.name] = digest.hexdigest()
    return digests


def model_identity(name: str, model: nn.Module) -> dict:
    """Which weights a run started from, for ``env.json``.

    A preset: ``{"source": "preset", "preset": name, "weights": "random init"}``; a local
    path: its resolved path and the sha256 of its weights files; a Hugging Face id: the commit
    of the cached (or downloaded) snapshot, ``revision``.
    """
    if name in MODELS:
        return {"source": "preset", "preset": name, "weights": "random init"}
    if Path(name).exists():
        path = Path(name).resolve()
        return {"source": "local", "path": str(path), "weights_sha256": weights_sha256(path)}
    return {"source": "hub", "repo_id": name, "revision": _hub_revision(name, model)}


def _hub_revision(repo_id: str, model: nn.Module) -> str | None:
    """The commit of ``repo_id``'s snapshot in the local hub cache (where ``from_pretrained``
    read it; the snapshot directory is named by the commit), else what the config recorded."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json")
    if isinstance(cached, str):
        return Path(cached).parent.name
    return getattr(getattr(model, "config", None), "_commit_hash", None)


# (name, texts, vocab_size, seed, tokenizer_file): ``tokenizer_file`` is a resumed run's own
# tokenizer, used instead of training one on ``texts`` (None: train or load as usual)
ModelBuilder = Callable[[str, list[str], int, int, Path | None], LoadedModel]
MODELS: Registry[ModelBuilder] = Registry("model preset")


def _build_t5_preset(
    name: str,
    texts: list[str],
    vocab_size: int,
    seed: int,
    tokenizer_file: Path | None = None,
    tokenizer_kind: str = "unigram",
) -> LoadedModel:
    if tokenizer_file is not None:  # a resumed run's own (a unigram or a character one)
        tokenizer, path = load_tokenizer(tokenizer_file), tokenizer_file
    elif tokenizer_kind == "char":
        tokenizer, path = char_tokenizer(texts)
    else:
        tokenizer, path = trained_tokenizer(texts, vocab_size)
    config = T5Config(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        dropout_rate=0.1,
        feed_forward_proj="gated-gelu",  # as t5-v1_1, the checkpoints the papers use
        **T5_PRESETS[name],
    )
    torch.manual_seed(seed)  # the random init is part of the run's seed
    return LoadedModel(T5ForConditionalGeneration(config), tokenizer, path)


for _preset in T5_PRESETS:
    MODELS.register(_preset)(_build_t5_preset)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _load_pretrained(name: str) -> LoadedModel:
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=_offline())
        model = AutoModelForSeq2SeqLM.from_pretrained(name, local_files_only=_offline())
    except (OSError, ValueError, ImportError) as err:
        if any(package in str(err) for package in ("sentencepiece", "protobuf")):
            raise ConfigError(
                f"model {name!r}: its SentencePiece tokenizer needs sentencepiece and protobuf: "
                "pip install 'cotbench[paper]'"
            ) from None
        raise ConfigError(
            f"model {name!r}: weights not found locally ({type(err).__name__}); use a preset "
            f"({', '.join(MODELS.names())}), a local checkpoint directory, or download it once "
            f"with network access: `hf download {name}` (then HF_HUB_OFFLINE=1 works)"
        ) from None
    return LoadedModel(model, tokenizer, None)


def load_model(
    name: str,
    texts: list[str],
    vocab_size: int,
    seed: int,
    tokenizer_file: Path | None = None,
    tokenizer: str = "unigram",
) -> LoadedModel:
    """Build a preset (tokenizer trained on ``texts``, or read from ``tokenizer_file``: a
    resumed run's own) or load a pretrained seq2seq model.

    ``tokenizer="char"`` (config key ``tokenizer``) gives a T5 preset one token per character.
    """
    if tokenizer != "unigram":
        if name not in T5_PRESETS:
            raise ConfigError(
                f"tokenizer={tokenizer}: only the T5 presets ({', '.join(T5_PRESETS)}) build "
                f"their own tokenizer; {name!r} brings its own"
            )
        loaded = _build_t5_preset(name, texts, vocab_size, seed, tokenizer_file, tokenizer)
    elif name in MODELS:
        loaded = MODELS.get(name)(name, texts, vocab_size, seed, tokenizer_file)
    elif Path(name).exists() or "/" in name:
        torch.manual_seed(seed)
        loaded = _load_pretrained(name)
    else:
        raise ConfigError(
            f"model {name!r}: not a preset ({', '.join(MODELS.names())}), local path or hub id"
        )
    if loaded.identity is None:
        loaded.identity = model_identity(name, loaded.model)
    return loaded


def fuse_activations(model: nn.Module) -> int:
    """Swap every composite tanh-GELU (``NewGELUActivation``: seven elementwise ops, T5 v1.1's
    gated-gelu) for PyTorch's fused kernel of the same function; returns how many were swapped.

    The outputs agree to float rounding (not bit for bit), hence the ``fused_activation`` key.
    """
    swaps = [
        (parent, name)
        for parent in model.modules()
        for name, child in parent.named_children()
        if isinstance(child, NewGELUActivation)
    ]
    for parent, name in swaps:
        setattr(parent, name, ACT2FN["gelu_pytorch_tanh"])
    return len(swaps)


# presets in their own modules register themselves (after MODELS and LoadedModel exist)
from bench import minilm  # noqa: E402, F401  (minilm-bert2bert; its weights' package is lazy)
