"""Tokenizers for the built-in model presets: a Unigram model trained on the run's training text.

The ``tokenizers`` Unigram trainer is not deterministic across processes (its piece set and
scores vary from run to run), so a tokenizer is trained once per training corpus and kept: the
cache key is a hash of the text and the vocabulary size, and every run on the same data loads the
identical file. Training and writing a cache entry happen under a file lock beside it, so
concurrent runs (``--jobs``) on the same data train once and share one file, written to a
temporary name, flushed and renamed into place. A resumed run loads its own recorded
``tokenizer.json`` (:func:`load_tokenizer`), never the cache's. The wrapped tokenizer is a
``T5TokenizerFast`` with T5's ``<pad>``/``</s>``/``<unk>`` (ids 0/1/2) and an EOS appended to
every sequence, as T5's own tokenizer does.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerBase, T5TokenizerFast

from bench.store import RunDir, directory_lock, write_text_atomic

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")  # T5's ids 0, 1, 2


def default_cache_dir() -> Path:
    """``$COTBENCH_CACHE`` or ``~/.cache/cotbench``."""
    env = os.environ.get("COTBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "cotbench"


def cache_entry(key: str, cache_dir: Path | None = None) -> Path:
    """The cached tokenizer file of ``key`` (a corpus hash), named as in a run directory."""
    return (cache_dir or default_cache_dir()) / "tokenizers" / key[:16] / RunDir.TOKENIZER


def corpus_hash(texts: Iterable[str], vocab_size: int) -> str:
    """sha256 over the training text (in order) and the vocabulary size."""
    digest = hashlib.sha256(f"unigram-v1|{vocab_size}|".encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def _train(texts: list[str], vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        unk_token="<unk>",
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return tokenizer


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """The tokenizer saved at ``path`` (a cache entry or a run's ``tokenizer.json``)."""
    return T5TokenizerFast(
        tokenizer_object=Tokenizer.from_file(str(path)),
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        extra_ids=0,
    )


def trained_tokenizer(
    texts: list[str], vocab_size: int, cache_dir: Path | None = None
) -> tuple[PreTrainedTokenizerBase, Path]:
    """The Unigram tokenizer of ``texts``, trained once and cached; returns it and its file."""
    path = cache_entry(corpus_hash(texts, vocab_size), cache_dir)
    if not path.is_file():
        # one trainer per entry; the others wait, then read
        with directory_lock(path.parent, wait=lambda _: None):
            if not path.is_file():
                write_text_atomic(path, _train(texts, vocab_size).to_str())
    return load_tokenizer(path), path
