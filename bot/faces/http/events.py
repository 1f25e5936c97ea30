"""Server-Sent Events: the agents' feed and a buyer's window, resumable with `Last-Event-ID`.

Each stream follows the storage's events (`bot.storage.Events`: in-process for one replica, a Redis
stream across replicas) from the id the browser last saw, sends a comment every `HEARTBEAT` seconds
so that proxies keep the connection, and ends when the client goes away. A buyer's window gets only
its own conversation's events, and not what agents write to each other (notes, who transferred).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from bot.model import Event, EventKind

HEARTBEAT = 15.0
# What a buyer's window is told of each kind of event (None: nothing).
_FOR_BUYER: dict[EventKind, tuple[str, ...] | None] = {
    EventKind.AGENT_MESSAGE: ("text", "agent", "turn"),
    EventKind.TICKET_CLAIMED: ("agent",),
    EventKind.TICKET_CLOSED: (),
    EventKind.TICKET_OPENED: (),
    EventKind.BUYER_MESSAGE: None,  # the buyer's own words: their window has them already
}


def for_agents(event: Event) -> dict[str, Any] | None:
    return _fields(event, dict(event.data))


def for_buyer(session_id: str) -> Callable[[Event], dict[str, Any] | None]:
    def shape(event: Event) -> dict[str, Any] | None:
        keep = _FOR_BUYER.get(event.kind)
        if event.session_id != session_id or keep is None:
            return None
        return _fields(event, {k: v for k, v in event.data.items() if k in keep}, ticket=False)

    return shape


def _fields(event: Event, data: dict[str, str], ticket: bool = True) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": event.kind.value,
        "session_id": event.session_id,
        "at": event.at,
        **data,
    }
    if ticket:
        fields |= {"shop_id": event.shop, "ticket_id": event.ticket_id}
    return fields


async def stream(
    events: AsyncIterator[Event], shape: Callable[[Event], dict[str, Any] | None]
) -> AsyncIterator[bytes]:
    """The SSE bytes of `events`, as `shape` shows each (None: not sent), with heartbeats."""
    queue: asyncio.Queue[Event | BaseException] = asyncio.Queue(maxsize=1000)

    async def pump() -> None:
        try:
            async for event in events:
                await queue.put(event)
        except Exception as exc:  # the backend went away: end the stream, the browser reconnects
            await queue.put(exc)

    task = asyncio.ensure_future(pump())
    try:
        yield b"retry: 2000\n\n"
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), HEARTBEAT)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if isinstance(item, BaseException):
                return
            fields = shape(item)
            if fields is not None:
                data = json.dumps(fields, ensure_ascii=False)
                yield f"id: {item.id}\nevent: {item.kind.value}\ndata: {data}\n\n".encode()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


__all__ = ["HEARTBEAT", "for_agents", "for_buyer", "stream"]
