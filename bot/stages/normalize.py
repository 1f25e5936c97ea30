"""Raw buyer text → normalised text: NFKC, lower case, 繁→简, emoticons and emoji out, slang mapped,
then the shop's concepts (同义词) read as their names.

A `Normalizer` is built once per shop (its slang map is the built-in one plus the shop's) and is a
pure function of its input after that.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

import opencc

from bot.stages.phrases import Phrases

# [微笑] [哭泣] 表情 codes of Taobao/QQ, JD's #E-s12 codes and /:xxx smiley codes.
_EMOTICON = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,4}\]|#E-[a-z]\d+|/:[a-zA-Z!?<>@*()^~]{1,6}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SPACES = re.compile(r"\s+")
_REPEATED_PUNCT = re.compile(r"([!?,.~…。，！？、~\-_=*+#])\1+")
_CJK = r"\u4e00-\u9fff"


def _is_emoji(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat in ("So", "Sk", "Cs", "Co") or 0x1F000 <= ord(ch) <= 0x1FAFF or ch in "\ufe0f\u20e3"


class _EmojiToSpace(dict[int, int]):
    """A `str.translate` table that learns each character once: emoji and symbols become a space,
    everything else stays. It stops learning at `LIMIT` characters (a message made of every code
    point there is must not grow it without end)."""

    LIMIT = 1 << 16

    def __missing__(self, code: int) -> int:
        value = 0x20 if _is_emoji(chr(code)) else code
        if len(self) < self.LIMIT:
            self[code] = value
        return value


_EMOJI = _EmojiToSpace()


class Normalizer:
    """Turns what a buyer typed into the form intents are matched on."""

    def __init__(self, slang: Mapping[str, str], concepts: Mapping[str, str] | None = None) -> None:
        self._converter = opencc.OpenCC("t2s")
        self._slang = _Replacer({str(k).lower(): str(v) for k, v in slang.items() if k})
        # word → concept name; a name stands for itself, so that a longer name is never cut by a
        # shorter word inside it.
        self._concepts = _Replacer(
            {self._converter.convert(k.lower()): v for k, v in (concepts or {}).items() if k}
        )

    def __call__(self, raw: str) -> str:
        return self.read(raw)[0]

    def read(self, raw: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """The normalised text, and the words of it read as a concept with the concept (--explain)."""
        text, found = self._concepts.replace(self.spelled(raw))
        return text, tuple((word, name) for word, name in found if word != name)

    def concepts_in(self, raw: str) -> tuple[tuple[str, str], ...]:
        """The words of `raw` that were read as a concept, and the concept."""
        return self.read(raw)[1]

    def simplified(self, raw: str) -> str:
        """Only NFKC, lower case and 繁→简: spaces and punctuation as typed (where messages are cut)."""
        return str(self._converter.convert(unicodedata.normalize("NFKC", _SURROGATE.sub("", raw)).lower()))

    def spelled(self, raw: str) -> str:
        """Normalised text before concepts: how the buyer spelled it, in standard form."""
        text = _SURROGATE.sub("", raw)
        text = unicodedata.normalize("NFKC", text)
        text = _CONTROL.sub(" ", text)
        text = _EMOTICON.sub(" ", text)
        text = text.translate(_EMOJI)
        text = text.lower()
        text = self._converter.convert(text)
        if self._slang:
            text = self._slang.replace(text)[0]
        text = _REPEATED_PUNCT.sub(r"\1", text)
        text = _SPACES.sub(" ", text).strip()
        # A space between two Chinese characters carries no meaning ("发 货"); between words it does.
        return re.sub(rf"(?<=[{_CJK}]) (?=[{_CJK}])", "", text)


class _Replacer:
    """Replaces the keys of a mapping found in a text, the longest key at each position, left to
    right. Latin keys match only as whole latin words (one small regex); the others through `Phrases`."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._map = dict(mapping)
        latin = sorted((k for k in mapping if _LATIN_KEY.fullmatch(k)), key=len, reverse=True)
        alternatives = "|".join(re.escape(k) for k in latin)
        self._latin = re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])") if latin else None
        self._phrases = Phrases(k for k in mapping if k not in latin)

    def __bool__(self) -> bool:
        return bool(self._map)

    def replace(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """The text with every key replaced, and the (key, value) pairs in the order found."""
        found: list[tuple[str, str]] = []
        if self._latin is not None and self._latin.search(text):
            pieces = []
            last = 0
            for m in self._latin.finditer(text):
                pieces += [text[last : m.start()], self._map[m.group(0)]]
                found.append((m.group(0), self._map[m.group(0)]))
                last = m.end()
            text = "".join(pieces) + text[last:]
        out: list[str] = []
        i = last = 0
        while i < len(text):
            word = self._phrases.longest_at(text, i)
            if word is None:
                i += 1
                continue
            out += [text[last:i], self._map[word]]
            found.append((word, self._map[word]))
            i = last = i + len(word)
        if not out:
            return text, found
        out.append(text[last:])
        return "".join(out), found


_LATIN_KEY = re.compile(r"[a-z0-9 ]+")
