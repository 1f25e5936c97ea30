"""Which size fits: a size chart, a height and a weight → a size, with the looser and tighter ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.settings import SizeBand


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
