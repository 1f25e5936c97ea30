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
        self._slang = {str(k).lower(): str(v) for k, v in slang.items() if k}
        self._slang_re = _alternation(self._slang)
        # word → concept name; a name stands for itself, so that a longer name is never cut by a
        # shorter word inside it.
        self._concepts = {self._converter.convert(k.lower()): v for k, v in (concepts or {}).items() if k}
        self._concepts_re = _alternation(self._concepts)

    def __call__(self, raw: str) -> str:
        text = self.spelled(raw)
        if self._concepts_re is not None:
            text = self._concepts_re.sub(lambda m: self._concepts[m.group(0)], text)
        return text

    def concepts_in(self, raw: str) -> list[tuple[str, str]]:
        """The words of `raw` that were read as a concept, and the concept: for --explain."""
        if self._concepts_re is None:
            return []
        found = (m.group(0) for m in self._concepts_re.finditer(self.spelled(raw)))
        return [(word, self._concepts[word]) for word in found if self._concepts[word] != word]

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
        if self._slang_re is not None:
            text = self._slang_re.sub(lambda m: self._slang[m.group(0)], text)
        text = _REPEATED_PUNCT.sub(r"\1", text)
        text = _SPACES.sub(" ", text).strip()
        # A space between two Chinese characters carries no meaning ("发 货"); between words it does.
        return re.sub(rf"(?<=[{_CJK}]) (?=[{_CJK}])", "", text)


def _alternation(mapping: Mapping[str, str]) -> re.Pattern[str] | None:
    """One regex for all keys, the longest key winning at each position; latin keys only as whole
    latin words. Chinese keys are compiled as a trie (退(?:货|款…)), so the regex tries a handful of
    branches per position, not every key: a thousand concept words cost little more than ten."""
    if not mapping:
        return None
    latin = sorted((k for k in mapping if re.fullmatch(r"[a-z0-9 ]+", k)), key=len, reverse=True)
    parts = [rf"(?<![a-z0-9]){re.escape(k)}(?![a-z0-9])" for k in latin]
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    for key in mapping:
        if key in latin:
            continue
        node = trie
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}
    if trie:
        parts.append(_trie_regex(trie))
    return re.compile("|".join(parts))


def _trie_regex(node: dict) -> str:  # type: ignore[type-arg]
    """A trie as a regex that prefers the longest key: the end of a key is the last branch."""
    branches = [re.escape(ch) + _trie_regex(child) for ch, child in sorted(node.items()) if ch]
    ends = "" in node
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if ends else body
