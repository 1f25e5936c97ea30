"""Fairness: each client gets its own budget of requests (a token bucket: `per_second` on average,
`burst` at once), so that one client's flood is answered 429 with Retry-After at once, before it
takes a worker's in-flight slots from everyone else.

A client is its shop key when it sends one (`X-Api-Key`, kept only as a hash), else its address.
Buckets live in memory for one replica, or in Redis (one Lua script, atomic) when replicas share
one. Health, readiness and metrics are never limited; nor are the addresses in `exempt`. Redis out
of reach lets requests through (logged once in a while): the limiter never takes the shop down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bot.faces.http import errors
from bot.faces.http.asgi import PROBES
from bot.settings import RateLimitSettings
from bot.storage.rediscache import LoopClients

MAX_CLIENTS = 100_000  # buckets kept in memory, the least recently seen dropped first

log = logging.getLogger("bot")


class Buckets(Protocol):
    async def take(self, client: str) -> float:
        """Take one token of `client`'s bucket: 0.0 if there was one, else seconds until there is."""
        ...

    async def close(self) -> None:
        """Let go of the connections opened on the running event loop (a server shutting down)."""
        ...


class MemoryBuckets:
    def __init__(self, limit: RateLimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = limit.per_second, float(limit.burst), clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client → (tokens, when)

    async def take(self, client: str) -> float:
        now = self.clock()
        tokens, then = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[client] = (tokens - 1 if tokens >= 1 else tokens, now)
        if len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait

    async def close(self) -> None:
        return None


# KEYS[1] the bucket; ARGV: rate, burst, now (s). Returns the wait in ms (0: taken).
_TAKE = """
local b = redis.call('HMGET', KEYS[1], 't', 'w')
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens = tonumber(b[1]) or burst
local when = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - when) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 't', tokens, 'w', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return wait
"""


class RedisBuckets:
    """Buckets shared by every replica; time is Redis's own clock, so replicas need not agree."""

    def __init__(self, url: str, limit: RateLimitSettings) -> None:
        self.rate, self.burst = limit.per_second, limit.burst
        self._clients = LoopClients(url, socket_timeout=0.5)
        self._warned = -math.inf

    async def take(self, client: str) -> float:
        r = self._clients.get()
        try:
            seconds, micros = await r.time()
            waited = await r.eval(_TAKE, 1, f"bot:rate:{client}", self.rate, self.burst, seconds + micros / 1e6)
        except Exception as exc:  # out of reach: let it through, say so now and then
            if time.monotonic() - self._warned > 10:
                self._warned = time.monotonic()
                log.error('{"event": "rate_limit_unavailable", "error": "%s"}', type(exc).__name__)
            return 0.0
        return float(waited) / 1000

    async def close(self) -> None:
        await self._clients.close()


class Fair:
    """ASGI middleware: 429 with Retry-After for a client whose bucket is empty."""

    def __init__(self, app: Any, buckets: Buckets, exempt: Sequence[str] = ()) -> None:
        self.app, self.buckets, self.exempt = app, buckets, frozenset(exempt)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in PROBES:
            await self.app(scope, receive, send)
            return
        client = _client(scope, self.exempt)
        if client is not None:
            wait = await self.buckets.take(client)
            if wait > 0:
                await errors.send(send, "rate-limited", retry_after=max(1, math.ceil(wait)))
                return
        await self.app(scope, receive, send)


def _client(scope: Any, exempt: frozenset[str] = frozenset()) -> str | None:
    """Who is asking: a hash of the shop key sent, else the address; None for an exempt address."""
    key = dict(scope.get("headers") or []).get(b"x-api-key")
    if key:
        return "k:" + hashlib.sha256(key).hexdigest()[:24]
    address = (scope.get("client") or ("", 0))[0]
    return None if address in exempt else f"a:{address}"


__all__ = ["Buckets", "Fair", "MemoryBuckets", "RedisBuckets"]
