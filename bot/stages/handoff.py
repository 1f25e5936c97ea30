"""Signals that a message must go to a person whatever the matcher says: anger and threats.

A buyer who threatens 差评/投诉/12315, curses or sends 😡 gets an apology and a person, not a template. Calm
phrases that contain such words ("差评怎么改") are not anger.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Anger:
    """What made a message angry, and how strongly (1 = one signal, more = stronger)."""

    words: tuple[str, ...]
    intensity: int


_SHOUTING = re.compile(r"[!！]{3,}|[?？]{3,}|[!！?？]{4,}")


class AngerDetector:
    def __init__(self, words: Iterable[str], calm_phrases: Iterable[str], emoji: Iterable[str] = ()) -> None:
        self._words = tuple(sorted({w for w in words if w}, key=len, reverse=True))
        self._calm = tuple(c for c in calm_phrases if c)
        self._emoji = tuple(
            e for e in emoji if e
        )  # 😡 🤬 💢: normalisation drops emoji, so read the raw text

    def __call__(self, raw: str, text: str) -> Anger | None:
        """Anger in a message, from its raw form (punctuation) and its normalised form (words)."""
        calm_text = text
        for phrase in self._calm:
            calm_text = calm_text.replace(phrase, " ")
        hits = [w for w in self._words if w in calm_text] + [e for e in self._emoji if e in raw]
        shouting = bool(_SHOUTING.search(raw))
        if not hits:
            return None
        return Anger(words=tuple(hits), intensity=len(hits) + int(shouting))
