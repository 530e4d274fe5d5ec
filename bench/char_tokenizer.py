"""A character-level tokenizer for the presets (``tokenizer: char``): one token per character.

Built for the generated ``synth`` task, where a learned Unigram vocabulary fuses pieces such as
``*7=7*7=`` and hides the substituted digit inside an opaque token: here every digit, letter,
operator and space is its own token. The vocabulary is T5's ``<pad>``/``</s>``/``<unk>`` (ids
0/1/2) followed by the training text's characters in sorted order, so it is a pure function of
the text (unlike the Unigram trainer) and ``vocab_size`` is not used; an unseen character is
``<unk>``. The file is kept in the same cache as the Unigram tokenizers, under its own key,
so that a run records and copies it the same way.

>>> tokenizer, _ = char_tokenizer(["x=7*3=1."], cache_dir=__import__("pathlib").Path(
...     __import__("tempfile").mkdtemp()))
>>> tokenizer.convert_ids_to_tokens(tokenizer("x=7")["input_ids"])
['x', '=', '7', '</s>']
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerBase

from bench.store import write_text_atomic
from bench.tokenizer import SPECIAL_TOKENS, cache_entry, load_tokenizer

KEY_PREFIX = "char-v1"


def char_vocabulary(texts: Iterable[str]) -> dict[str, int]:
    """Special tokens, then every character of ``texts`` in sorted order.

    >>> char_vocabulary(["b=a", "a"])
    {'<pad>': 0, '</s>': 1, '<unk>': 2, '=': 3, 'a': 4, 'b': 5}
    """
    chars = sorted(set().union(*map(set, texts)))
    return {token: i for i, token in enumerate([*SPECIAL_TOKENS, *chars])}


def build_char_tokenizer(vocabulary: dict[str, int]) -> Tokenizer:
    """A ``tokenizers`` tokenizer: each character one piece, EOS appended, pieces fused back."""
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()  # concatenate: spaces are tokens of their own
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return tokenizer


def char_tokenizer(
    texts: list[str], cache_dir: Path | None = None
) -> tuple[PreTrainedTokenizerBase, Path]:
    """The character tokenizer of ``texts`` (wrapped as T5's) and the file it was saved to."""
    vocabulary = char_vocabulary(texts)
    digest = hashlib.sha256(f"{KEY_PREFIX}|{''.join(vocabulary)}".encode()).hexdigest()
    path = cache_entry(digest, cache_dir)
    if not path.is_file():  # atomic; a concurrent run writes the same bytes
        write_text_atomic(path, build_char_tokenizer(vocabulary).to_str())
    return load_tokenizer(path), path
