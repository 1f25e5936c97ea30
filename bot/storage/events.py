"""Events for listeners (an agent's queue, a buyer's window), with ids of one shape everywhere,
"<milliseconds>-<sequence>", so that a listener that comes back with the last id it saw (an SSE
`Last-Event-ID`) gets what it missed while it was away, as far as the log still keeps it.

- `LocalEvents`: the last events of this process, in memory (the in-memory store).
- `LoggedEvents`: events kept by the storage itself in a table (SQLite, PostgreSQL), so that every
  worker and replica on that storage hears every event, and a listener resumes across a restart.
- With Redis, `bot.storage.rediscache` carries them across replicas in a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

from bot.model import Event, EventKind
from bot.storage import StorageError

log = logging.getLogger("bot.events")

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


class _Bell:
    """Wakes whoever waits in this process, on whichever event loop each one waits."""

    def __init__(self) -> None:
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def ring(self) -> None:
        for loop, woken in list(self._waiting):
            if not loop.is_closed():
                loop.call_soon_threadsafe(woken.set)

    @contextlib.contextmanager
    def waiting(self) -> Iterator[asyncio.Event]:
        """An asyncio event set at the next ring. Enter before looking for news, so that a ring
        between looking and waiting is not missed."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        self._waiting.add(entry)
        try:
            yield entry[1]
        finally:
            self._waiting.discard(entry)


class LocalEvents:
    """The last `KEEP` events of this process, and listeners on any of its event loops."""

    def __init__(self, keep: int = KEEP) -> None:
        self._log: deque[Event] = deque(maxlen=keep)
        self._boot = time.time_ns() // 1_000_000  # ids of another run of the process are not ours
        self._sequence = itertools.count(1)
        self._bell = _Bell()

    async def publish(self, event: Event) -> Event:
        published = dataclasses.replace(event, id=f"{self._boot}-{next(self._sequence)}")
        self._log.append(published)
        self._bell.ring()
        return published

    async def latest(self) -> str:
        return (self._log[-1].id or "") if self._log else f"{self._boot}-0"

    def forget(self, which: Callable[[Event], bool]) -> int:
        """Drop the kept events `which` picks (erasure); how many."""
        kept = [e for e in self._log if not which(e)]
        gone = len(self._log) - len(kept)
        self._log.clear()
        self._log.extend(kept)
        return gone

    async def follow(self, shop: str | None = None, after: str | None = None) -> AsyncIterator[Event]:
        """The shop's events (every shop's with None) after the event `after`, then each new one
        as it is published. Without `after` (or with an id this process never gave) only new ones,
        except that an id of an earlier run of the process gets all that this run kept."""
        last = parse_id(after)
        if last is None:
            last = parse_id(self._log[-1].id) if self._log else (self._boot, 0)
        elif last[0] != self._boot:
            last = (self._boot, 0)
        while True:
            with self._bell.waiting() as woken:
                fresh = [e for e in self._log if parse_id(e.id) > last]  # type: ignore[operator]
                if not fresh:
                    await woken.wait()
                    continue
            for event in fresh:
                last = parse_id(event.id)
                if shop is None or event.shop == shop:
                    yield event


class EventLog(Protocol):
    """A table of events that every worker and replica on the storage reads."""

    async def append(self, event: Event) -> int:
        """Keep the event (and drop what is older than the last `KEEP`); its sequence number."""
        ...

    async def last(self) -> int:
        """The sequence number of the newest event kept (0: none)."""
        ...

    async def after(self, sequence: int, limit: int) -> list[tuple[int, Event]]:
        """Up to `limit` events after `sequence`, oldest first, with their sequence numbers."""
        ...


class LoggedEvents:
    """Events kept in the storage's own table (`EventLog`), heard by every process on it.

    One reader per event loop polls the table every `POLL` seconds while anyone on that loop
    listens (and at once after a publish of this process), keeping what it read in memory: a hundred
    open windows cost one query, not a hundred. A listener further back than that memory (it came
    back with an old id) reads the table itself until it has caught up."""

    POLL = 0.25
    BATCH = 200
    MEMORY = 2_000

    def __init__(self, log: EventLog, poll: float = POLL) -> None:
        self._log = log
        self._poll = poll
        self._published = _Bell()  # this process published: read now
        self._readers: dict[asyncio.AbstractEventLoop, _Reader] = {}

    async def publish(self, event: Event) -> Event:
        sequence = await self._log.append(event)
        self._published.ring()
        return _with_id(event, sequence)

    async def latest(self) -> str:
        return f"0-{await self._log.last()}"  # only the sequence counts here

    async def follow(self, shop: str | None = None, after: str | None = None) -> AsyncIterator[Event]:
        given = parse_id(after)
        newest = await self._log.last()
        # An id beyond the log (a log emptied since) would hide everything to come: start from now.
        last = newest if given is None or given[1] > newest else given[1]
        loop = asyncio.get_running_loop()
        for closed in [k for k in self._readers if k.is_closed()]:
            del self._readers[closed]
        reader = self._readers.setdefault(
            loop, _Reader(self._log, self._published, self._poll, self.BATCH, self.MEMORY)
        )
        reader.listeners += 1
        reader.start(loop)
        try:
            while True:
                with reader.news.waiting() as woken:
                    fresh = await reader.since(last)
                    if not fresh:
                        await woken.wait()
                        continue
                for sequence, event in fresh:
                    last = sequence
                    if shop is None or event.shop == shop:
                        yield _with_id(event, sequence)
        finally:
            reader.listeners -= 1
            if reader.listeners == 0:
                reader.stop()  # no query after the last listener has gone (nor on a closed pool)


class _Reader:
    """What one event loop has read of the table: every event with floor < sequence <= head."""

    def __init__(self, log: EventLog, published: _Bell, poll: float, batch: int, memory: int) -> None:
        self.log, self.published, self.poll, self.batch, self.memory = log, published, poll, batch, memory
        self.news = _Bell()
        self.listeners = 0
        self.recent: deque[tuple[int, Event]] = deque()
        self.floor = self.head = -1
        self.task: asyncio.Task[None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def since(self, last: int) -> list[tuple[int, Event]]:
        if self.head >= 0 and self.floor <= last:
            return [(s, e) for s, e in self.recent if s > last]
        try:  # further back than the memory: from the table
            return await self.log.after(last, self.batch)
        except StorageError as exc:  # out of reach: wait as for news, then try again
            log.warning("events not read: %s", exc)
            await asyncio.sleep(self.poll)
            return []

    async def _run(self) -> None:
        while self.listeners > 0:
            with self.published.waiting() as published:
                fresh: list[tuple[int, Event]] = []
                try:
                    if self.head < 0:
                        self.floor = self.head = await self.log.last()
                    fresh = await self.log.after(self.head, self.batch)
                except StorageError as exc:
                    log.warning("events not read: %s", exc)
                for sequence, event in fresh:
                    self.recent.append((sequence, event))
                    self.head = sequence
                while len(self.recent) > self.memory:
                    self.floor = self.recent.popleft()[0]
                if fresh:
                    self.news.ring()
                if len(fresh) < self.batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(published.wait(), self.poll)


def _with_id(event: Event, sequence: int) -> Event:
    return dataclasses.replace(event, id=f"{int(event.at * 1000)}-{sequence}")


__all__ = ["KEEP", "EventLog", "LocalEvents", "LoggedEvents", "from_json", "parse_id", "to_json"]
