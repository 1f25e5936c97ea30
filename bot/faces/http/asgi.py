"""ASGI plumbing around the app: request metrics, the in-flight bound (503 + Retry-After) and the body cap."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.faces.http import errors

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
    instead of queueing until some connections starve), and no request body over `max_body` bytes."""

    def __init__(self, app: Any, limit: int, max_body: int, metrics: Metrics | None = None) -> None:
        self.app, self.limit, self.max_body, self.metrics = app, limit, max_body, metrics
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
        if self.in_flight >= self.limit:
            await errors.send(send, "overloaded")
            return
        self.in_flight += 1
        received = 0
        started = time.perf_counter()
        status = 500

        async def measured_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def bounded_receive() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:  # a chunked body that grew past the cap: stop reading it
                return {"type": "http.disconnect"}
            return message

        try:
            await self.app(scope, bounded_receive, measured_send)
        finally:
            self.in_flight -= 1
            if self.metrics is not None:
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.requests.labels(route, scope.get("method", ""), str(status)).inc()
                self.metrics.latency.labels(route).observe(time.perf_counter() - started)


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

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
