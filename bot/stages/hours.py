"""Business hours: is a person answering now, and when will one next answer (on the shop's clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bot.settings import ServiceSettings

_WEEKDAYS = "一二三四五六日"


def local(now: float, service: ServiceSettings) -> datetime:
    return datetime.fromtimestamp(now, tz=UTC).astimezone(timezone(timedelta(hours=service.utc_offset_hours)))


def is_open(now: float, service: ServiceSettings) -> bool:
    moment = local(now, service)
    minute = moment.hour * 60 + moment.minute
    return moment.weekday() in service.days and service.open_minute <= minute < service.close_minute


def next_open(now: float, service: ServiceSettings) -> str:
    """When people answer next, as a buyer reads it: 今天 09:00, 明天 09:00, 周一 09:00."""
    moment = local(now, service)
    at = f"{service.open_minute // 60:02d}:{service.open_minute % 60:02d}"
    for ahead in range(8):
        day = moment + timedelta(days=ahead)
        if day.weekday() not in service.days:
            continue
        if ahead == 0 and moment.hour * 60 + moment.minute >= service.open_minute:
            continue
        if ahead == 0:
            return f"今天 {at}"
        if ahead == 1:
            return f"明天 {at}"
        return f"周{_WEEKDAYS[day.weekday()]} {at}"
    return at
