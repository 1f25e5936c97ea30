"""ASGI plumbing around the app: request metrics, the in-flight bound (503 + Retry-After) and the body cap."""

from __future__ import annotations

import json
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram


class Bounded:
    """ASGI middleware: at most `limit` requests in flight (more get 503 with Retry-After at once,
    instead of queueing until some connections starve), and no request body over `max_body` bytes."""

    def __init__(self, app: Any, limit: int, max_body: int, metrics: Metrics | None = None) -> None:
        self.app, self.limit, self.max_body, self.metrics = app, limit, max_body, metrics
        self.in_flight = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body:
            await _plain_error(
                send, 413, "body-too-large", "请求体太大了。", f"The body is over {self.max_body} bytes."
            )
            return
        if self.in_flight >= self.limit:
            await _plain_error(send, 503, "overloaded", "服务繁忙，请稍后重试。", "Too many requests at once; retry shortly.",
                               retry_after=True)  # fmt: skip
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


async def _plain_error(
    send: Any, status: int, code: str, zh: str, en: str, retry_after: bool = False
) -> None:
    body = json.dumps(
        {"error": {"code": code, "message_zh": zh, "message_en": en}}, ensure_ascii=False
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
            "bot_replies", "Replies by action and intent", ["action", "intent"], registry=self.registry
        )
        self.handoffs = Counter("bot_handoffs", "Handoffs by reason", ["reason"], registry=self.registry)
