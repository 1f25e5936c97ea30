"""Events in one process: what a replica without Redis tells its own listeners.

Every store that has no Redis beside it keeps the last events of this process in memory
(`LocalEvents`); with Redis, `bot.storage.rediscache` carries them across replicas in a stream.
Both give ids of the same shape, "<milliseconds>-<sequence>", increasing, so a listener that comes
back with the last id it saw (an SSE `Last-Event-ID`) gets what it missed while it was away, as far
as the log still keeps it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from bot.model import Event, EventKind

# How many of the last events a log keeps for listeners that come back.
KEEP = 10_000
_ID = re.compile(r"^(\d+)-(\d+)$")


def parse_id(event_id: str | None) -> tuple[int, int] | None:
    """An event id as a comparable pair; None for one that is not an event id."""
    found = _ID.match(event_id or "")
    return (int(found[1]), int(found[2])) if found else None


def to_json(event: Event) -> str:
    fields = dataclasses.asdict(event)
    fields["data"] = dict(event.data)
    return json.dumps(fields, ensure_ascii=False)


def from_json(text: str, event_id: str | None = None) -> Event:
    fields: dict[str, Any] = json.loads(text)
    fields["kind"] = EventKind(fields["kind"])
    if event_id is not None:
        fields["id"] = event_id
    return Event(**fields)


class LocalEvents:
    """The last `KEEP` events of this process, and listeners on any of its event loops."""

    def __init__(self, keep: int = KEEP) -> None:
        self._log: deque[Event] = deque(maxlen=keep)
        self._boot = time.time_ns() // 1_000_000  # ids of another run of the process are not ours
        self._sequence = itertools.count(1)
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    async def publish(self, event: Event) -> Event:
        published = dataclasses.replace(event, id=f"{self._boot}-{next(self._sequence)}")
        self._log.append(published)
        for loop, woken in list(self._waiting):
            if not loop.is_closed():
                loop.call_soon_threadsafe(woken.set)
        return published

    async def follow(self, shop: str | None = None, after: str | None = None) -> AsyncIterator[Event]:
        """The shop's events (every shop's with None) after the event `after`, then each new one
        as it is published. Without `after` (or with an id this process never gave) only new ones,
        except that an id of an earlier run of the process gets all that this run kept."""
        last = parse_id(after)
        if last is None:
            last = parse_id(self._log[-1].id) if self._log else (self._boot, 0)
        elif last[0] != self._boot:
            last = (self._boot, 0)
        loop = asyncio.get_running_loop()
        while True:
            woken = asyncio.Event()
            entry = (loop, woken)
            self._waiting.add(entry)
            try:
                fresh = [e for e in self._log if parse_id(e.id) > last]  # type: ignore[operator]
                if not fresh:
                    await woken.wait()
                    continue
            finally:
                self._waiting.discard(entry)
            for event in fresh:
                last = parse_id(event.id)
                if shop is None or event.shop == shop:
                    yield event


__all__ = ["KEEP", "LocalEvents", "from_json", "parse_id", "to_json"]
