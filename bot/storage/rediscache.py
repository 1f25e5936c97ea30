"""Redis in front of a `Storage` (PostgreSQL): what replicas must share fast.

- Recent session state, with a TTL equal to the idle expiry: a turn reads its session from Redis,
  and the store below only on a miss. Written after the store committed the turn, deleted when a
  turn conflicts, so a stale copy costs one conflict and a retry, never a wrong turn (the store's
  `UNIQUE (shop, session_id, turn)` stays the judge).
- A lock per conversation across replicas (`hold`): a token set with NX and an expiry, extended
  while the turn runs, released only by its owner. A turn that cannot get it in time is
  `SessionBusy` (503 with Retry-After), and never runs twice.
- Events across replicas (`RedisEvents`): one stream (`XADD`, the last `KEEP` kept), read with a
  blocking `XREAD` from the last id a listener saw. A stream rather than PUBLISH because a listener
  that reconnects (an SSE `Last-Event-ID`) must get what was published while it was away.

Redis unreachable is `StorageUnavailable`: never a silent fall back to memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from bot.model import Agent, ApiKey, Event, Review, Session, Ticket, TicketStatus, TurnRecord
from bot.storage import (
    WAIT_SECONDS,
    Erased,
    History,
    Restored,
    SessionBusy,
    Storage,
    StorageError,
    StorageUnavailable,
    TicketMove,
    TurnConflict,
    TurnWrite,
    Written,
)
from bot.storage.events import KEEP, from_json, parse_id, to_json
from bot.storage.rows import session_from, state_of

try:
    import redis.asyncio as aioredis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError:  # pragma: no cover - the redis extra is not installed
    aioredis = None  # type: ignore[assignment]

# How long one turn may hold a conversation (extended while it runs); it waits WAIT_SECONDS for another's.
LOCK_SECONDS = 5.0
# Releases the lock only if it is still ours: compare and delete in one step.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"


class LoopClients:
    """A Redis client per event loop (a client belongs to the loop that opened it), made on first use;
    `close()` lets go of the running loop's."""

    def __init__(self, url: str, **options: Any) -> None:
        if aioredis is None:
            raise StorageError(
                "没有安装 Redis 客户端：pip install 'dianxiaoer[postgres]'（the Redis client is not installed）"
            )
        self.url, self._options = url, options
        self._clients: dict[asyncio.AbstractEventLoop, Any] = {}

    def get(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for old in [k for k in self._clients if k.is_closed()]:
                del self._clients[old]
            client = self._clients[loop] = aioredis.from_url(self.url, **self._options)
        return client

    async def close(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


class RedisFront:
    """Sessions and conversation locks in Redis; everything else (and the truth) in `backing`."""

    def __init__(self, backing: Storage, url: str, ttl_seconds: float) -> None:
        self._clients = LoopClients(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)
        self.backing = backing
        self.url = url
        self.ttl_ms = max(1000, int(ttl_seconds * 1000))
        self.wait_seconds = WAIT_SECONDS
        self.events = RedisEvents(self)

    def _redis(self) -> Any:
        return self._clients.get()

    def _listener(self) -> Any:
        """A client of its own for a blocking read: it must not time out the way turns' reads do."""
        return aioredis.from_url(self.url, socket_connect_timeout=2, decode_responses=True)

    @contextlib.asynccontextmanager
    async def _reached(self) -> AsyncIterator[Any]:
        try:
            yield self._redis()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StorageUnavailable(f"Redis: {type(exc).__name__}", "redis") from exc

    async def session(self, shop: str, session_id: str) -> Session | None:
        async with self._reached() as r:
            cached = await r.get(_session_key(shop, session_id))
        if cached is not None:
            return session_from(shop, session_id, json.loads(cached))
        session = await self.backing.session(shop, session_id)
        if session is not None:
            await self._remember(session)
        return session

    async def _remember(self, session: Session) -> None:
        async with self._reached() as r:
            await r.set(
                _session_key(session.shop, session.key), json.dumps(state_of(session)), px=self.ttl_ms
            )

    async def record(self, write: TurnWrite) -> Written:
        try:
            written = await self.backing.record(write)
        except TurnConflict:
            async with self._reached() as r:  # someone else moved it on: read it from the store
                await r.delete(_session_key(write.turn.shop, write.turn.session_id))
            raise
        await self._remember(write.session)
        return written

    @contextlib.asynccontextmanager
    async def hold(self, shop: str, session_id: str) -> AsyncIterator[None]:
        key, token = f"bot:lock:{shop}:{session_id}", secrets.token_hex(8)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        async with self._reached() as r:
            while not await r.set(key, token, nx=True, px=int(LOCK_SECONDS * 1000)):
                if loop.time() > deadline:
                    raise SessionBusy(session_id)
                await asyncio.sleep(0.01)
        keeper = asyncio.ensure_future(self._extend(key, token))
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            async with self._reached() as r:
                await r.eval(_RELEASE, 1, key, token)

    async def _extend(self, key: str, token: str) -> None:
        """Keep the lock while the turn runs (a slow database), in steps of a third of its life."""
        while True:
            await asyncio.sleep(LOCK_SECONDS / 3)
            with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                await self._redis().eval(_EXTEND, 1, key, token, int(LOCK_SECONDS * 1000))

    async def transcript(self, shop: str, session_id: str) -> list[TurnRecord]:
        return await self.backing.transcript(shop, session_id)

    async def answered(self, shop: str, session_id: str, message_id: str) -> TurnRecord | None:
        return await self.backing.answered(shop, session_id, message_id)

    async def open_ticket(self, shop: str, session_id: str) -> Ticket | None:
        return await self.backing.open_ticket(shop, session_id)

    async def tickets(self, shop: str, status: TicketStatus | None = None) -> list[Ticket]:
        return await self.backing.tickets(shop, status)

    async def ticket(self, shop: str, ticket_id: int) -> Ticket | None:
        return await self.backing.ticket(shop, ticket_id)

    async def move_ticket(self, shop: str, ticket_id: int, move: TicketMove) -> Ticket:
        return await self.backing.move_ticket(shop, ticket_id, move)

    async def add_agent(self, agent: Agent, token_hash: str) -> None:
        await self.backing.add_agent(agent, token_hash)

    async def agent_by_token(self, token_hash: str) -> Agent | None:
        return await self.backing.agent_by_token(token_hash)

    async def revoke_agent(self, name: str, at: float) -> bool:
        return await self.backing.revoke_agent(name, at)

    async def agents(self) -> list[Agent]:
        return await self.backing.agents()

    async def add_key(self, key: ApiKey, token_hash: str) -> None:
        await self.backing.add_key(key, token_hash)

    async def key_by_token(self, token_hash: str) -> ApiKey | None:
        return await self.backing.key_by_token(token_hash)

    async def revoke_key(self, shop: str, name: str, at: float) -> bool:
        return await self.backing.revoke_key(shop, name, at)

    async def keys(self, shop: str | None = None) -> list[ApiKey]:
        return await self.backing.keys(shop)

    async def erase(self, shop: str, session_id: str) -> Erased:
        """The backing's erasure, this copy of the session, and the stream's events about it."""
        erased = await self.backing.erase(shop, session_id)
        async with self._reached() as r:
            await r.delete(_session_key(shop, session_id))
        streamed = await self.events.forget(lambda e: e.shop == shop and e.session_id == session_id)
        return dataclasses.replace(erased, events=erased.events + streamed)

    async def purge(self, before: float, shop: str | None = None) -> Erased:
        """The backing's purge, the copies here of the sessions it erased (a daily scan), and the
        stream's events from before then."""
        erased = await self.backing.purge(before, shop)
        async with self._reached() as r:
            async for key in r.scan_iter(match=_session_key(shop or "*", "*"), count=1000):
                cached = await r.get(key)
                if cached is not None and json.loads(cached).get("updated_at", 0.0) < before:
                    await r.delete(key)
        streamed = await self.events.forget(lambda e: e.at < before and (shop is None or e.shop == shop))
        return dataclasses.replace(erased, events=erased.events + streamed)

    async def review(self, review: Review) -> None:
        await self.backing.review(review)

    async def reviews(self, shop: str) -> list[Review]:
        return await self.backing.reviews(shop)

    async def history(self, shop: str, since: float = 0.0, until: float = math.inf) -> History:
        return await self.backing.history(shop, since, until)

    async def restore(self, history: History) -> Restored:
        restored = await self.backing.restore(history)
        async with self._reached() as r:  # the copies of restored sessions may be older than the store's
            for session in history.sessions:
                await r.delete(_session_key(session.shop, session.key))
        return restored

    async def ping(self) -> None:
        """A real write to Redis (a read-only replica or a full one fails here), then the backing's."""
        async with self._reached() as r:
            try:
                await r.set("bot:health", str(time.time()), ex=60)
            except RedisError as exc:  # answered, but refused: READONLY, OOM
                raise StorageUnavailable(f"Redis: {type(exc).__name__}: {exc}", "redis") from exc
        await self.backing.ping()

    async def disconnect(self) -> None:
        await self._clients.close()
        await self.backing.disconnect()


class RedisEvents:
    """Every replica's events in one Redis stream."""

    STREAM = "bot:events"
    BLOCK_MS = 10_000  # a listener's read waits this long before it asks again

    def __init__(self, front: RedisFront) -> None:
        self._front = front

    async def publish(self, event: Event) -> Event:
        async with self._front._reached() as r:
            event_id = await r.xadd(self.STREAM, {"e": to_json(event)}, maxlen=KEEP, approximate=True)
        return dataclasses.replace(event, id=event_id)

    async def forget(self, doomed: Callable[[Event], bool]) -> int:
        """Delete the stream's events that `doomed` picks; the stream is at most KEEP long, read in pages."""
        removed, start = 0, "-"
        async with self._front._reached() as r:
            while True:
                entries = await r.xrange(self.STREAM, min=start, max="+", count=_PAGE)
                picked = [event_id for event_id, fields in entries if doomed(from_json(fields["e"], event_id))]
                if picked:
                    removed += await r.xdel(self.STREAM, *picked)
                if len(entries) < _PAGE:
                    return removed
                start = "(" + entries[-1][0]

    async def latest(self) -> str:
        async with self._front._reached() as r:
            newest = await r.xrevrange(self.STREAM, count=1)
        return str(newest[0][0]) if newest else "0-0"

    async def follow(self, shop: str | None = None, after: str | None = None) -> AsyncIterator[Event]:
        client = self._front._listener()
        try:
            async with self._front._reached():
                if parse_id(after) is None:  # only new ones: from the stream's last id now
                    newest = await client.xrevrange(self.STREAM, count=1)
                    after = newest[0][0] if newest else "0-0"
            while True:
                async with self._front._reached():
                    found = await client.xread({self.STREAM: after}, count=100, block=self.BLOCK_MS)
                for _, entries in found:
                    for event_id, fields in entries:
                        after = event_id
                        event = from_json(fields["e"], event_id)
                        if shop is None or event.shop == shop:
                            yield event
        finally:
            await client.aclose()


_PAGE = 1000


def _session_key(shop: str, session_id: str) -> str:
    return f"bot:session:{shop}:{session_id}"
