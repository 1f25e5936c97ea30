"""Webhooks against a receiver on 127.0.0.1: signed, retried with the same id, never blocking a turn."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.faces.http import webhooks
from bot.faces.http.app import create_app
from bot.storage.memory import MemoryStore


class Receiver:
    """Answers 500 to the first delivery of each event and 200 after; can hold every reply."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.hold = threading.Event()
        self.hold.set()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hold.wait(10)
                first = not any(
                    h["X-Dianxiaoer-Event-Id"] == self.headers["X-Dianxiaoer-Event-Id"]
                    for h, _ in receiver.got
                )
                receiver.got.append((dict(self.headers), body))
                self.send_response(500 if first else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver(shop: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    got = Receiver()
    config = shop / "config.yaml"
    hook = f"webhooks:\n  - {{url: '{got.url}', secret_env: BOT_TEST_HOOK, events: [ticket.opened, buyer.message]}}\n"
    config.write_text(config.read_text(encoding="utf-8").replace("webhooks: []", hook), encoding="utf-8")
    monkeypatch.setenv("BOT_TEST_HOOK", "a-shared-secret")
    monkeypatch.setattr(webhooks, "BACKOFF", (0.05, 0.05))
    yield got
    got.server.shutdown()
    got.server.server_close()


def wait_for(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the webhook"
        time.sleep(0.02)


def test_a_handoff_is_posted_signed_and_retried_with_the_same_id(receiver: Receiver, shop: Path) -> None:
    with TestClient(create_app(shop / "config.yaml", MemoryStore())) as client:
        client.post("/v1/chat", json={"session_id": "w", "message": "能开发票吗"})  # an answer: no event
        client.post("/v1/chat", json={"session_id": "w", "message": "我要转人工"})
        client.post("/v1/chat", json={"session_id": "w", "message": "还在吗"})
        wait_for(lambda: len(receiver.got) == 4)  # two events, each refused once, then taken
    tries: dict[str, list[str]] = {}  # event id → the kinds delivered under it (deliveries run side by side)
    for headers, _ in receiver.got:
        tries.setdefault(headers["X-Dianxiaoer-Event-Id"], []).append(headers["X-Dianxiaoer-Event"])
    assert sorted(tries.values()) == [["buyer.message"] * 2, ["ticket.opened"] * 2]
    for headers, body in receiver.got:
        expected = "sha256=" + hmac.new(b"a-shared-secret", body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, headers["X-Dianxiaoer-Signature"])
    [event] = {b: json.loads(b) for _, b in receiver.got if b"buyer.message" in b}.values()
    assert ("buyer.message", "w", {"text": "还在吗"}) == (event["kind"], event["session_id"], event["data"])


def test_a_slow_receiver_never_holds_up_a_turn(receiver: Receiver, shop: Path) -> None:
    receiver.hold.clear()  # the receiver takes no delivery until told
    with TestClient(create_app(shop / "config.yaml", MemoryStore())) as client:
        handoff = client.post("/v1/chat", json={"session_id": "slow", "message": "我要转人工"})
        assert (200, "handoff") == (handoff.status_code, handoff.json()["action"])
        assert [] == receiver.got  # answered while the webhook still waits
        receiver.hold.set()
        wait_for(lambda: len(receiver.got) >= 1)


def test_a_webhook_whose_secret_is_not_set_stops_the_server_from_starting(
    receiver: Receiver, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOT_TEST_HOOK")
    with pytest.raises(webhooks.MissingSecret, match="BOT_TEST_HOOK"):
        create_app(shop / "config.yaml", MemoryStore())
