"""Which size fits: a size chart, a height and a weight → a size, with the looser and tighter ones."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.config import SizeBand
from bot.render import fill


@dataclass(frozen=True, slots=True, kw_only=True)
class Recommendation:
    size: str
    looser: str | None
    tighter: str | None


def recommend(chart: Sequence[SizeBand], height_cm: int, weight_kg: float) -> Recommendation | None:
    """The smallest size whose height and weight bands both hold the buyer (the larger of the two
    sizes when they disagree), and the sizes either side of it."""
    if not chart:
        return None
    by_height = _index(chart, height_cm, lambda band: band.height)
    by_weight = _index(chart, weight_kg, lambda band: band.weight)
    i = max(by_height, by_weight)
    return Recommendation(
        size=chart[i].size,
        looser=chart[i + 1].size if i + 1 < len(chart) else None,
        tighter=chart[i - 1].size if i > 0 else None,
    )


def _index(chart: Sequence[SizeBand], value: float, bounds: Callable[[SizeBand], tuple[int, int]]) -> int:
    """The first band whose upper bound reaches the value; the last band for anyone larger."""
    for i, row in enumerate(chart):
        if value <= bounds(row)[1]:
            return i
    return len(chart) - 1


def size_reply(
    slots: dict[str, str], chart: Sequence[SizeBand], replies: Mapping[str, str], values: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """The sizing reply for what the session knows, and what to ask for next (None: nothing).

    Both height and weight known: the size, with the looser and tighter alternatives (saved as the
    `size` slot). One missing: a question for it. None known, or no chart: the intent's own answer."""
    height = int(slots["height_cm"]) if "height_cm" in slots else None
    weight = float(slots["weight_kg"]) if "weight_kg" in slots else None
    if height and weight:
        found = recommend(chart, height, weight)
        if found is None:
            return None, None
        slots["size"] = found.size
        names = {**values, "height": str(height), "weight_jin": f"{weight * 2:g}", "size": found.size,
                 "looser": found.looser or "", "tighter": found.tighter or ""}  # fmt: skip
        parts = [fill(replies["size_recommend"], names)]
        if found.looser:
            parts.append(fill(replies["size_looser"], names))
        if found.tighter:
            parts.append(fill(replies["size_tighter"], names))
        alternatives = "；".join(parts[1:])
        return parts[0] + (f"{alternatives}。" if alternatives else ""), None
    if height:
        return fill(replies["ask_weight"], values), "weight"
    if weight:
        return fill(replies["ask_height"], values), "height"
    return None, "size"
