"""Business hours on the shop's clock: open now, and when people answer next."""

from datetime import datetime

import pytest

from bot.settings import ServiceSettings
from bot.stages.hours import is_open, next_open

WEEKDAYS = ServiceSettings(
    utc_offset_hours=8, open_minute=9 * 60, close_minute=18 * 60, days=frozenset(range(5)), welcome=""
)


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize(
    ("moment", "open_now", "next_time"),
    [
        ("2026-11-23T10:00:00+08:00", True, "明天 09:00"),  # Monday, open
        ("2026-11-23T08:59:00+08:00", False, "今天 09:00"),  # Monday, before opening
        ("2026-11-23T18:00:00+08:00", False, "明天 09:00"),  # Monday, just closed
        ("2026-11-27T20:00:00+08:00", False, "周一 09:00"),  # Friday evening → Monday
        ("2026-11-28T12:00:00+08:00", False, "周一 09:00"),  # Saturday
        ("2026-11-23T02:00:00+00:00", True, "明天 09:00"),  # 10:00 in Beijing, given in UTC
    ],
)
def test_business_hours_on_the_shops_clock(moment: str, open_now: bool, next_time: str) -> None:
    assert (open_now, next_time) == (is_open(at(moment), WEEKDAYS), next_open(at(moment), WEEKDAYS))
