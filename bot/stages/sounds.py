"""Words typed by sound (同音字): 发火 for 发货, 退宽 for 退款, read as the shop's own word.

Pinyin input makes its own typos: the right syllables, the wrong characters. A window of two to four
Chinese characters that is none of the shop's words but sounds exactly like one of them (toneless
pinyin, pypinyin's reading of each character) is read as that word. Used only for a message that
has no other evidence (bot/shop.py), and shown in --explain.

pypinyin is imported, and the shop's words are read, on the first message that needs it: loading a
shop and answering ordinary messages cost nothing extra.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

_CJK = re.compile(r"[\u4e00-\u9fff]+")
SHORTEST, LONGEST = 2, 4


@functools.lru_cache(maxsize=16384)
def _reading(ch: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(ch, style=Style.NORMAL)[0]


def _key(word: str) -> str:
    return " ".join(_reading(ch) for ch in word)


class Sounds:
    def __init__(self, words: Iterable[str]) -> None:
        self._words = frozenset(w for w in words if SHORTEST <= len(w) <= LONGEST and _CJK.fullmatch(w))
        self._by_sound: dict[str, str] | None = None

    def _table(self) -> dict[str, str]:
        if self._by_sound is None:
            heard: dict[str, set[str]] = {}
            for word in self._words:
                heard.setdefault(_key(word), set()).add(word)
            # A sound shared by two of the shop's words says neither.
            self._by_sound = {key: next(iter(ws)) for key, ws in heard.items() if len(ws) == 1}
        return self._by_sound

    def correct(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """`text` with every sound-alike window read as the shop's word, and the (typed, word) pairs."""
        if not self._words:
            return text, ()
        table = self._table()
        out: list[str] = []
        heard: list[tuple[str, str]] = []
        last = 0
        for run in _CJK.finditer(text):
            i, end = run.start(), run.end()
            while i < end:
                for size in range(min(LONGEST, end - i), SHORTEST - 1, -1):
                    window = text[i : i + size]
                    if window in self._words:
                        i += size - 1  # the shop's own word: nothing to correct
                        break
                    word = table.get(_key(window))
                    if word is not None:
                        out.append(text[last:i] + word)
                        heard.append((window, word))
                        i += size - 1
                        last = i + 1
                        break
                i += 1
        out.append(text[last:])
        return "".join(out), tuple(heard)
