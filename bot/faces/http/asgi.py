"""ASGI plumbing around the app: request metrics, the in-flight bound (503 + Retry-After) and the body cap."""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httptools
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.faces.http import errors

# What orchestrators and monitors ask: answered even when chat has every slot.
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
# Event streams one worker keeps open at most (each is a connection and a listener).
MAX_STREAMS = 512


# Host names of this machine's loopback: all a server bound to 127.0.0.1 should be called by.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class TrustedHosts:
    """ASGI middleware: a request whose Host header is not one of `hosts` gets 400 `bad-host` before
    any route sees it, so a page on another site cannot reach the server through DNS rebinding
    (its name resolving to 127.0.0.1 still arrives with that name). "*" allows any; "*.shop.cn" a
    domain and its subdomains."""

    def __init__(self, app: Any, hosts: Sequence[str]) -> None:
        self.app = app
        names = [h.lower().strip("[]") for h in hosts]
        self.exact = {h.removeprefix("*.") for h in names}
        self.domains = tuple(h[1:] for h in names if h.startswith("*."))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and not self.allows(_host_of(scope)):
            await errors.send(send, "bad-host")
            return
        await self.app(scope, receive, send)

    def allows(self, host: str) -> bool:
        return host in self.exact or (bool(self.domains) and host.endswith(self.domains))


def _host_of(scope: Mapping[str, Any]) -> str:
    """The Host header's name, lowercased, without its port ([::1]:8000 → ::1)."""
    raw: str = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").strip().lower()
    if raw.startswith("["):
        return raw[1 : raw.find("]")] if "]" in raw else raw
    return raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw


class Bounded:
    """ASGI middleware: at most `limit` requests in flight (more get 503 with Retry-After at once,
    instead of queueing until some connections starve), and no request body over `max_body` bytes.

    A request's body is read whole before it takes an in-flight slot, within `body_seconds` (408
    after): a client that sends a byte a second holds its own connection, not a slot of everyone's
    budget. A request that takes more than `total_seconds` once it has its slot is answered 503 with
    Retry-After (if nothing was sent yet) and let go. Event streams are counted apart."""

    def __init__(
        self,
        app: Any,
        limit: int,
        max_body: int,
        metrics: Metrics | None = None,
        body_seconds: float = 20.0,
        total_seconds: float = 30.0,
    ) -> None:
        self.app, self.limit, self.max_body, self.metrics = app, limit, max_body, metrics
        self.body_seconds, self.total_seconds = body_seconds, total_seconds
        self.in_flight = 0
        self.streams = 0  # event streams: counted apart, so that open windows never starve chat

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body:
            await errors.send(send, "body-too-large")
            return
        streaming = scope.get("path", "").endswith("/events")  # open for as long as a window is
        if streaming:
            if self.streams >= MAX_STREAMS:
                await errors.send(send, "overloaded")
                return
            self.streams += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.streams -= 1
            return
        try:
            async with asyncio.timeout(self.body_seconds):
                body = await self._body(receive)
        except TimeoutError:
            await errors.send(send, "body-timeout")
            return
        except _Gone:
            return  # the client left before its body arrived: nothing to answer
        if body is None:
            await errors.send(send, "body-too-large")
            return
        # Health, readiness and metrics never wait behind chat traffic, nor count against it.
        probe = scope.get("path") in PROBES
        if self.in_flight >= self.limit and not probe:
            await errors.send(send, "overloaded")
            return
        self.in_flight += not probe
        started = time.perf_counter()
        status = 0
        given = False

        async def measured_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def replay() -> Any:  # the body read above, then whatever comes next (a disconnect)
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        # Accepting a mined proposal runs the shop's checks for longer, in a thread that a timeout
        # could not stop: it is not cut short (an admin's request, one at a time).
        total = None if scope.get("path", "").endswith("/accept") else self.total_seconds
        try:
            async with asyncio.timeout(total):
                await self.app(scope, replay, measured_send)
        except TimeoutError:
            if not status:
                status = 503
                await errors.send(send, "request-timeout")
        finally:
            self.in_flight -= not probe
            if self.metrics is not None:
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.requests.labels(route, scope.get("method", ""), str(status or 500)).inc()
                self.metrics.latency.labels(route).observe(time.perf_counter() - started)


    async def _body(self, receive: Any) -> bytes | None:
        """The whole request body, or None past `max_body` (a chunked body that grew past the cap)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class _Gone(Exception):
    """The client disconnected before its request's body was complete."""


class HotRoute:
    """ASGI: the route that carries nearly all traffic, answered without the web framework's
    per-request machinery (routing, dependency solving, validating a parsed dict, its middleware
    layers): pydantic parses and validates the JSON body in one step, `handle` returns the JSON
    answer, `failure` renders any exception in the app's one error shape. Other requests go on to
    `app`, whose route of the same path documents this one (OpenAPI)."""

    def __init__(
        self,
        app: Any,
        method: str,
        path: str,
        body: type[BaseModel],
        handle: Callable[[Any, Mapping[str, str]], Awaitable[str]],
        failure: Callable[[Exception], Response],
    ) -> None:
        self.app, self.method, self.path, self.body = app, method, path, body
        self.handle, self.failure = handle, failure
        self.route = _Route(path)  # what Bounded's metrics label the request with

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != self.method:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or ()}
        if not headers.get("content-type", "").lower().startswith("application/json"):
            # A cross-site <form> can post text/plain without asking the browser's CORS check first.
            await errors.send(send, "not-json")
            return
        raw = await _body(receive)
        if raw is None:  # the body was cut off (too large, or the client went away)
            await errors.send(send, "body-too-large")
            return
        try:
            response: Response = Response(
                await self.handle(self._parse(raw), headers), media_type="application/json"
            )
        except Exception as exc:
            response = self.failure(exc)
        await response(scope, receive, send)

    def _parse(self, raw: bytes) -> BaseModel:
        try:
            return self.body.model_validate_json(raw)
        except ValidationError as exc:
            if not any(e["type"] == "json_invalid" for e in exc.errors()):
                raise
        # pydantic's parser refuses some JSON that Python's reads (an escaped lone surrogate, which
        # the app then rejects with a clearer message than "invalid JSON"): ask Python's.
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ValidationError.from_exception_data(
                self.body.__name__,
                [{"type": "json_invalid", "loc": (), "input": "", "ctx": {"error": str(exc)}}],
            ) from None
        return self.body.model_validate(data)


class _Route:
    def __init__(self, path: str) -> None:
        self.path = path


async def _body(receive: Any) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


class TickBufferedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log lines written to stderr; those logged on an event loop (one per chat turn) are written
    together once per turn of the loop: one system call for many turns under load, not two for each."""

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a thread, at start or reload: as it comes
            super().emit(record)
            return
        try:
            self._lines.append(self.format(record))
        except Exception:  # pragma: no cover - logging must never break a request
            self.handleError(record)
            return
        if len(self._lines) == 1:
            loop.call_soon(self._write)

    def _write(self) -> None:
        lines, self._lines = self._lines, []
        try:
            self.stream.write("\n".join(lines) + "\n")
            self.flush()
        except Exception:  # pragma: no cover - a closed or full stream
            pass


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bot_http_requests", "HTTP requests", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "bot_http_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.replies = Counter(
            "bot_replies",
            "Replies by shop, action and intent",
            ["shop", "action", "intent"],
            registry=self.registry,
        )
        self.handoffs = Counter(
            "bot_handoffs", "Handoffs by shop and reason", ["shop", "reason"], registry=self.registry
        )


class NoDelayHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, with TCP_NODELAY on every accepted connection.

    asyncio sets it itself only on sockets it created; a worker of `--workers N` accepts on a socket
    inherited from the parent and its connections keep Nagle's algorithm, which with the client's
    delayed ACK adds ~40 ms to every keep-alive request (an open uvicorn bug)."""

    # Limits of each connection's request heads, set once per process by `bot serve` (`limit`).
    HEAD_SECONDS = 10.0  # the request line and headers arrive within this, or 408 and closed
    MAX_HEAD_BYTES = 16384  # more is 431 and closed, before any of it costs parsing
    MAX_CONNECTIONS = 2048  # a connection past this is closed at once (kept below the open-file limit)

    _head: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _discarding = False  # refused: what the client still sends is dropped until the close

    @classmethod
    def limit(cls, head_seconds: float, max_head_bytes: int, max_connections: int) -> None:
        cls.HEAD_SECONDS, cls.MAX_HEAD_BYTES, cls.MAX_CONNECTIONS = head_seconds, max_head_bytes, max_connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.MAX_CONNECTIONS:
            self.transport = transport
            transport.close()  # this worker has all it can hold open: refused now, not at the file limit
            return
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._wait_for_head()

    def _wait_for_head(self) -> None:
        if self._head is None:
            self._head = self.loop.call_later(self.HEAD_SECONDS, self._refuse, "header-timeout")

    def _refuse(self, code: str) -> None:
        """Answer `code` and close: a head too slow or too large never reaches the app."""
        self._head = None
        if self.transport.is_closing():
            return
        status, data, headers = errors.body(code)
        head = f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n".encode()
        self.transport.write(head + b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n" + data)
        # Closed with the client still sending, the kernel would reset the connection and the client
        # might never read the answer: say we are done, drop what still comes, close in a second.
        self._discarding = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(1.0, self.transport.close)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, and a head still not complete after MAX_HEAD_BYTES is refused (431): the
        parser would keep buffering it, at a cost that grows with its square."""
        if self._discarding:
            return
        self._unset_keepalive_if_required()
        reading_head = self._head is not None
        if reading_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
            return
        if reading_head and self._head is not None and self._head_bytes > self.MAX_HEAD_BYTES:
            self._refuse("headers-too-large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._wait_for_head()

    def on_headers_complete(self) -> None:
        if self._head is not None:
            self._head.cancel()
            self._head = None
        self._head_bytes = 0
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head is not None:
            self._head.cancel()
            self._head = None
        super().connection_lost(exc)

