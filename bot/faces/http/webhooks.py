"""Webhooks: every handoff event POSTed to the URLs config.yaml names, signed, retried, in the background.

The body is the event as JSON; `X-Dianxiaoer-Signature: sha256=<hex>` is its HMAC-SHA256 with the
webhook's shared secret (from the environment variable `secret_env`), `X-Dianxiaoer-Event` its kind
and `X-Dianxiaoer-Event-Id` its id, the same on every retry, so a receiver can drop a repeat. A
delivery that fails (a connection error, a timeout, any status but 2xx) is tried again after 1, 2, 4,
8 and 16 s, then given up with a line in the log. Events are sent by the replica that published
them, from a queue of its own: a turn never waits for a webhook, and a slow receiver only fills the
queue (`QUEUE`; past it, new events are dropped and logged). Pending deliveries do not survive a
restart of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Sequence

from bot.model import Event
from bot.settings import WebhookSettings

log = logging.getLogger("bot.webhooks")
BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0)
TIMEOUT = 5.0
QUEUE = 10_000


class MissingSecret(Exception):
    """A webhook's secret_env names a variable that is not set."""


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class Webhooks:
    """Queues events for the configured URLs and delivers them on the running event loop."""

    def __init__(self, hooks: Sequence[WebhookSettings]) -> None:
        self._hooks = []
        for hook in hooks:
            secret = os.environ.get(hook.secret_env)
            if not secret:
                raise MissingSecret(
                    f"webhook {hook.url} 的密钥环境变量 {hook.secret_env} 没有设置"
                    f"（the environment variable {hook.secret_env} holding the webhook's secret is not set）"
                )
            self._hooks.append((hook, secret.encode("utf-8")))
        self._backoff = BACKOFF
        self._sending: set[asyncio.Task[None]] = set()
        self._queue: asyncio.Queue[tuple[WebhookSettings, bytes, bytes, Event]] | None = None
        self._worker: asyncio.Task[None] | None = None

    def __bool__(self) -> bool:
        return bool(self._hooks)

    def tell(self, event: Event) -> None:
        """Queue `event` for every webhook that wants its kind; returns at once."""
        if not self._hooks:
            return
        if self._queue is None:
            self._queue = asyncio.Queue(QUEUE)
            self._worker = asyncio.ensure_future(self._deliver_all())
        body = json.dumps(
            {"id": event.id, "kind": event.kind.value, "shop_id": event.shop, "session_id": event.session_id,
             "ticket_id": event.ticket_id, "at": event.at, "data": dict(event.data)},
            ensure_ascii=False,
        ).encode("utf-8")  # fmt: skip
        for hook, secret in self._hooks:
            if event.kind.value in hook.events:
                try:
                    self._queue.put_nowait((hook, secret, body, event))
                except asyncio.QueueFull:
                    log.warning("webhook queue full: event %s for %s dropped", event.id, hook.url)

    async def close(self) -> None:
        for task in [t for t in (self._worker, *self._sending) if t is not None]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver_all(self) -> None:
        assert self._queue is not None
        while True:
            hook, secret, body, event = await self._queue.get()
            task = asyncio.ensure_future(
                self._deliver(hook, secret, body, event)
            )  # a slow URL holds up no other
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _deliver(self, hook: WebhookSettings, secret: bytes, body: bytes, event: Event) -> None:
        headers = {"Content-Type": "application/json", "X-Dianxiaoer-Signature": signature(secret, body),
                   "X-Dianxiaoer-Event": event.kind.value, "X-Dianxiaoer-Event-Id": event.id}  # fmt: skip
        for attempt, pause in enumerate((*self._backoff, None), 1):
            try:
                status = await asyncio.to_thread(_post, hook.url, body, headers)
                if 200 <= status < 300:
                    return
                reason = f"HTTP {status}"
            except (OSError, urllib.error.URLError) as exc:
                reason = type(exc).__name__
            if pause is None:
                log.warning(
                    "webhook %s: event %s given up after %d tries (%s)", hook.url, event.id, attempt, reason
                )
                return
            await asyncio.sleep(pause)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


__all__ = ["BACKOFF", "MissingSecret", "Webhooks", "signature"]
