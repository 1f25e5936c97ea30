"""The longest of a set of phrases that starts at a position of a text.

Phrases are indexed by their first character with their lengths, longest first: a lookup is a few
dict probes, so three thousand phrases (concept words, keywords) cost what thirty do, where one
regex alternation of them tries every branch at every position.
"""

from __future__ import annotations

from collections.abc import Iterable


class Phrases:
    def __init__(self, phrases: Iterable[str]) -> None:
        self._phrases = frozenset(p for p in phrases if p)
        lengths: dict[str, set[int]] = {}
        for phrase in self._phrases:
            lengths.setdefault(phrase[0], set()).add(len(phrase))
        self._lengths = {first: sorted(sizes, reverse=True) for first, sizes in lengths.items()}

    def longest_at(self, text: str, start: int) -> str | None:
        """The longest phrase that `text` holds at `start`, if any."""
        for size in self._lengths.get(text[start], ()):
            word = text[start : start + size]
            if len(word) == size and word in self._phrases:
                return word
        return None
