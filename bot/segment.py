"""Normalised text → tokens, with the shop's own `jieba.Tokenizer` (no global jieba state).

The dictionary is jieba's plus the shipped domain words plus the shop's. jieba's prefix dictionary is
cached on disk (user cache dir), so a second start skips building it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path

import jieba

from bot.model import Token

logging.getLogger("jieba").setLevel(logging.WARNING)

_WORD = re.compile(r"[\u4e00-\u9fffa-z0-9]")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dianxiaoer"


_BASE: tuple[dict[str, int], int] | None = None
_BASE_LOCK = threading.Lock()


def _base_dictionary() -> tuple[dict[str, int], int]:
    """jieba's own dictionary (word → frequency, total), read once per process. It is never
    changed: each `Segmenter` works on its own copy, so shops do not share words."""
    global _BASE
    with _BASE_LOCK:
        if _BASE is None:
            loader = jieba.Tokenizer()
            directory = cache_dir()
            try:
                directory.mkdir(parents=True, exist_ok=True)
                loader.tmp_dir = str(directory)
            except OSError:  # read-only home: jieba falls back to the system temp dir
                pass
            loader.initialize()
            _BASE = (loader.FREQ, loader.total)
        return _BASE


class Segmenter:
    """Splits normalised text into tokens; knows which tokens carry no meaning (stopwords)."""

    def __init__(self, words: Iterable[str], stopwords: Iterable[str]) -> None:
        freq, total = _base_dictionary()
        tokenizer = jieba.Tokenizer()
        tokenizer.FREQ, tokenizer.total = dict(freq), total
        tokenizer.initialized = True
        for word in words:
            word = word.strip()
            if word:
                tokenizer.add_word(word, freq=max(tokenizer.suggest_freq(word), 2000))
        self._tokenizer = tokenizer
        self.stopwords = frozenset(stopwords)

    def __call__(self, text: str) -> tuple[Token, ...]:
        """All tokens of `text` that contain a letter, digit or Chinese character."""
        return tuple(
            Token(text=word, start=start, end=end)
            for word, start, end in self._tokenizer.tokenize(text)
            if _WORD.search(word)
        )

    def content(self, tokens: Iterable[Token]) -> tuple[Token, ...]:
        """The tokens that carry meaning (not stopwords)."""
        return tuple(t for t in tokens if t.text not in self.stopwords)
