"""Through the HTTP face (FastAPI TestClient): every route, every error, one error shape."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.faces.http.app import create_app
from bot.storage.sqlite import SQLiteStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(shop: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("BOT_ADMIN_TOKEN", "s3cret")
    return TestClient(create_app(shop / "config.yaml", SQLiteStore(shop / "data" / "bot.db"), clock=clock))


def chat(client: TestClient, message: str, session: str = "s1", **extra: object) -> dict:
    response = client.post("/v1/chat", json={"session_id": session, "message": message, **extra})
    assert 200 == response.status_code, response.text
    return response.json()


def test_chat_answers_and_counts_turns(client: TestClient) -> None:
    first = chat(client, "啥时候发货")
    second = chat(client, "能开发票吗")
    assert ("answer", "shipping_time") == (first["action"], first["intent"])
    assert "48小时" in first["reply"]
    assert second["turn_id"] > first["turn_id"]
    assert {"intent", "score", "topic"} == set(first["candidates"][0])


def test_order_context_is_used_and_nothing_is_invented(client: TestClient) -> None:
    order = {
        "order": {"status": "shipped", "shipped_at": "11月20日", "courier": "中通", "tracking_no": "ZT9"}
    }
    with_order = chat(client, "快递到哪了", session="o1", context=order)
    without = chat(client, "快递到哪了", session="o2")
    assert "ZT9" in with_order["reply"] and "中通" in with_order["reply"]
    assert "运单号" not in without["reply"]


def test_handoff_opens_a_ticket_and_holds_the_session_until_closed(client: TestClient) -> None:
    handoff = chat(client, "我要转人工", session="h1", buyer_id="b1")
    assert ("handoff", "asked_for_person") == (handoff["action"], handoff["handoff"]["reason"])
    ticket_id = handoff["handoff"]["ticket_id"]
    held = chat(client, "有人吗", session="h1")
    assert ("human", None) == (held["action"], held["handoff"])
    queue = client.get("/v1/handoffs", params={"status": "open"}).json()
    assert [ticket_id] == [t["id"] for t in queue]
    assert ["我要转人工", "有人吗"] == [t["message"] for t in queue[0]["transcript"]]
    claimed = client.post(f"/v1/handoffs/{ticket_id}/claim", json={"agent": "小美"}).json()
    assert ("claimed", "小美") == (claimed["status"], claimed["claimed_by"])
    assert "human" == chat(client, "还在吗", session="h1")["action"]
    closed = client.post(f"/v1/handoffs/{ticket_id}/close", json={"note": "已解决"}).json()
    assert "closed" == closed["status"]
    assert "answer" == chat(client, "能开发票吗", session="h1")["action"]


def test_angry_buyer_is_high_priority_and_first_in_the_queue(client: TestClient, clock: Clock) -> None:
    chat(client, "我要转人工", session="calm")
    clock.now += 60
    chat(client, "再不处理就投诉你们!!!", session="angry")
    queue = client.get("/v1/handoffs").json()
    assert [("angry", "high"), ("calm", "normal")] == [(t["session_id"], t["priority"]) for t in queue]


def test_repeated_misses_open_a_ticket(client: TestClient) -> None:
    chat(client, "坏了能退吗", session="m")
    second = chat(client, "坏了能退吗", session="m")
    assert "repeated_misses" == second["handoff"]["reason"]


def test_session_expires_after_idle_time(client: TestClient, clock: Clock) -> None:
    """An unclear message after a long pause is a new start, not a second miss."""
    chat(client, "坏了能退吗", session="idle")
    clock.now += 31 * 60
    assert "clarify" == chat(client, "坏了能退吗", session="idle")["action"]


def test_transcript(client: TestClient) -> None:
    chat(client, "在吗", session="t")
    chat(client, "谢谢", session="t")
    body = client.get("/v1/sessions/t").json()
    assert ["在吗", "谢谢"] == [t["message"] for t in body["turns"]]
    assert [1, 2] == [t["turn"] for t in body["turns"]]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"session_id": "e", "message": "   "}, 422, "empty-message"),
        ({"session_id": "e", "message": "发" * 501}, 413, "message-too-long"),
        ({"session_id": "e", "message": 42}, 422, "invalid-request"),
        ({"session_id": "", "message": "在吗"}, 422, "invalid-request"),
        ({"message": "在吗"}, 422, "invalid-request"),
        ({"session_id": "e", "message": "在吗", "extra": 1}, 422, "invalid-request"),
        ({"session_id": "e", "message": "a\x00b"}, 422, "bad-characters"),
        (
            {"session_id": "e", "message": "在吗", "context": {"order": {"color": "red"}}},
            422,
            "invalid-request",
        ),
    ],
)
def test_bad_chat_input_is_a_clear_4xx(client: TestClient, body: dict, status: int, code: str) -> None:
    response = client.post("/v1/chat", json=body)
    assert (status, code) == (response.status_code, response.json()["error"]["code"])
    assert response.json()["error"]["message_zh"]


def test_invalid_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/v1/chat", content=b'{"session_id": ', headers={"content-type": "application/json"}
    )
    assert (400, "invalid-json") == (response.status_code, response.json()["error"]["code"])


@pytest.mark.parametrize(
    ("method", "url", "status", "code"),
    [
        ("get", "/v1/sessions/nobody", 404, "unknown-session"),
        ("post", "/v1/handoffs/999/claim", 404, "unknown-ticket"),
        ("post", "/v1/handoffs/999/close", 404, "unknown-ticket"),
        ("get", "/v1/handoffs?status=lost", 422, "invalid-request"),
        ("get", "/v1/nothing-here", 404, "http-error"),
    ],
)
def test_unknown_things_are_4xx(client: TestClient, method: str, url: str, status: int, code: str) -> None:
    kwargs = {"json": {"agent": "x"}} if url.endswith("claim") else {}
    response = getattr(client, method)(url, **kwargs)
    assert (status, code) == (response.status_code, response.json()["error"]["code"])


def test_claiming_a_closed_ticket_is_a_conflict(client: TestClient) -> None:
    ticket = chat(client, "我要转人工", session="c")["handoff"]["ticket_id"]
    client.post(f"/v1/handoffs/{ticket}/close")
    response = client.post(f"/v1/handoffs/{ticket}/claim", json={"agent": "x"})
    assert (409, "ticket-closed") == (response.status_code, response.json()["error"]["code"])


def test_health_readiness_and_metrics(client: TestClient) -> None:
    chat(client, "我要转人工", session="metrics")
    assert {"status": "ok", "worker": os.getpid()} == client.get("/healthz").json()
    ready = client.get("/readyz").json()
    assert ("ready", 16) == (ready["status"], ready["intents"])
    text = client.get("/metrics").text
    assert 'bot_replies_total{action="handoff",intent="human",shop="default"} 1.0' in text
    assert 'bot_handoffs_total{reason="asked_for_person",shop="default"} 1.0' in text
    assert 'bot_http_request_seconds_bucket{le="0.001",route="/v1/chat"}' in text


def test_reload_needs_the_token(client: TestClient) -> None:
    assert 401 == client.post("/v1/admin/reload").status_code
    assert 401 == client.post("/v1/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code
    ok = client.post("/v1/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert (200, "reloaded") == (ok.status_code, ok.json()["status"])


def test_admin_is_disabled_without_a_token(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_ADMIN_TOKEN", raising=False)
    client = TestClient(create_app(shop / "config.yaml", SQLiteStore(shop / "db.sqlite")))
    response = client.post("/v1/admin/reload", headers={"Authorization": "Bearer anything"})
    assert (404, "admin-disabled") == (response.status_code, response.json()["error"]["code"])


def test_broken_reload_keeps_the_old_set_serving(client: TestClient, shop: Path) -> None:
    path = shop / "intents" / "invoice.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("examples:", "exmaples:"), encoding="utf-8")
    response = client.post("/v1/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert (422, "shop-invalid") == (response.status_code, response.json()["error"]["code"])
    assert any(d["where"].startswith("intents/invoice.yaml:") for d in response.json()["error"]["details"])
    assert "invoice" == chat(client, "能开发票吗", session="after-reload")["intent"]


def test_good_reload_swaps_the_answers(client: TestClient, shop: Path) -> None:
    path = shop / "config.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("小二优选旗舰店", "新名字小店"), encoding="utf-8"
    )
    assert 200 == client.post("/v1/admin/reload", headers={"Authorization": "Bearer s3cret"}).status_code
    assert "新名字小店" in chat(client, "在吗", session="renamed")["reply"]


def test_cors_origins_from_config(shop: Path) -> None:
    config = shop / "config.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "cors_origins: []", "cors_origins: [https://shop.example]"
        ),
        encoding="utf-8",
    )
    client = TestClient(create_app(config, SQLiteStore(shop / "db.sqlite")))
    preflight = client.options(
        "/v1/chat", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    )
    assert "https://shop.example" == preflight.headers.get("access-control-allow-origin")


def test_openapi_page_has_the_chat_example(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/chat" in spec["paths"]
    assert "亲，啥时候发货呀？" in str(spec["components"]["schemas"]["ChatRequest"])


def test_the_reply_names_its_topic_and_each_part_of_a_two_question_message(client: TestClient) -> None:
    fee = chat(client, "退货运费谁出", session="t1")
    assert ("returns", "returns.shipping_fee") == (fee["intent"], fee["topic"])
    two = chat(client, "有货吗 包邮吗", session="t2")
    assert [("stock", "answer"), ("promotion", "answer")] == [
        (p["intent"], p["action"]) for p in two["parts"]
    ]
    transcript = client.get("/v1/sessions/t1").json()["turns"]
    assert "returns.shipping_fee" == transcript[-1]["topic"]
    shop = {i["id"]: i for i in client.get("/v1/intents").json()}
    assert {"id": "returns.shipping_fee", "title": "退货运费谁出"} in shop["returns"]["topics"]


def test_a_handoff_keeps_the_other_question_in_the_ticket(client: TestClient) -> None:
    handoff = chat(client, "什么时候发货 转人工", session="t3")
    assert "handoff" == handoff["action"]
    [ticket] = [t for t in client.get("/v1/handoffs").json() if t["session_id"] == "t3"]
    assert ["什么时候发货"] == ticket["questions"]


def test_the_api_on_postgresql_keeps_turns_and_works_the_queue(
    shop: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    """storage.url postgresql://…: chat, handoff, the held buyer, claim and close, all in PostgreSQL."""
    url = postgres_url
    monkeypatch.setenv("BOT_STORAGE_URL", url)
    with TestClient(create_app(shop / "config.yaml")) as client:
        assert "invoice" == chat(client, "能开发票吗", session="pg")["intent"]
        ticket = chat(client, "我要转人工", session="pg")["handoff"]["ticket_id"]
        assert "human" == chat(client, "在吗", session="pg")["action"]
        claimed = client.post(f"/v1/handoffs/{ticket}/claim", json={"agent": "小美"}).json()
        assert ("claimed", ["在吗"]) == (claimed["status"], claimed["left_messages"])
        assert 3 == len(claimed["transcript"])
        assert 200 == client.post(f"/v1/handoffs/{ticket}/close", json={"note": "好了"}).status_code
        assert "answer" == chat(client, "什么时候发货", session="pg")["action"]
        assert "ready" == client.get("/readyz").json()["status"]


class Cable:
    """A TCP forwarder between the app and PostgreSQL that the test can cut and mend: the database
    goes away (every connection dropped, new ones refused) and comes back on the same address."""

    def __init__(self, target: tuple[str, int]) -> None:
        import socket

        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.pairs: list[tuple[Any, Any]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: Any, b: Any) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        self.open = False
        for pair in self.pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.close()
        self.pairs.clear()

    def mend(self) -> None:
        self.open = True


@pytest.mark.parametrize("lost", ["PostgreSQL", "Redis"])
def test_a_lost_database_is_a_503_and_the_server_recovers_by_itself(
    lost: str, shop: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """PostgreSQL (or the Redis in front of it) gone: chat answers 503 storage-unavailable with
    Retry-After (never a 500, never a fake answer from memory) and /readyz names the backend; back:
    the same server answers again, and the transcript holds exactly the acknowledged turns."""
    from urllib.parse import urlsplit

    postgres_url = request.getfixturevalue("postgres_url")
    redis_url = request.getfixturevalue("redis_url") if lost == "Redis" else None
    url = redis_url or postgres_url
    where = urlsplit(url)
    cable = Cable((where.hostname or "127.0.0.1", where.port or 5432))
    through = url.replace(f":{where.port}/", f":{cable.port}/")
    monkeypatch.setenv("BOT_STORAGE_URL", postgres_url if redis_url else through)
    if redis_url:
        monkeypatch.setenv("BOT_SESSIONS_URL", through)
    with TestClient(create_app(shop / "config.yaml")) as client:
        assert "invoice" == chat(client, "能开发票吗", session="down")["intent"]
        cable.cut()
        gone = client.post("/v1/chat", json={"session_id": "down", "message": "什么时候发货"})
        assert (503, "storage-unavailable", "1") == (
            gone.status_code,
            gone.json()["error"]["code"],
            gone.headers.get("retry-after"),
        )
        ready = client.get("/readyz")
        assert 503 == ready.status_code and lost in ready.text
        cable.mend()
        statuses, deadline = [], time.monotonic() + 30  # the pools reconnect with backoff
        while time.monotonic() < deadline:
            back = client.post("/v1/chat", json={"session_id": "down", "message": "什么时候发货"})
            statuses.append(back.status_code)
            if back.status_code == 200:
                break
            time.sleep(0.5)
        assert 200 == statuses[-1] and set(statuses) <= {200, 503}, statuses
        assert ("answer", "shipping_time") == (back.json()["action"], back.json()["intent"])
        assert ["能开发票吗", "什么时候发货"] == [
            t["message"] for t in client.get("/v1/sessions/down").json()["turns"]
        ]
