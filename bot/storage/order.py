"""The order in which a queue of tickets is worked: high priority first, then oldest first."""

from __future__ import annotations

from collections.abc import Iterable

from bot.model import Ticket


def by_priority(tickets: Iterable[Ticket]) -> list[Ticket]:
    return sorted(tickets, key=lambda t: (t.priority != "high", t.created_at, t.id or 0))
