"""Server-Sent Events through the ASGI app: the agents' feed and a buyer's window, resumable."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.faces.http.app import create_app
from bot.service import Blocking
from bot.storage.memory import MemoryStore


class Window:
    """An open event stream on the app, read as its events arrive; closed like a browser tab."""

    def __init__(self, app: Any, path: str, headers: dict[str, str] | None = None) -> None:
        self.app, self.path, self.headers = app, path, headers or {}
        self.events: list[tuple[str, str, dict[str, Any]]] = []  # (id, event, data)
        self.status = 0
        self._gone = asyncio.Event()
        self._buffer = b""
        self._arrived = asyncio.Event()

    async def open(self) -> None:
        path, _, query = self.path.partition("?")
        scope = {
            "type": "http", "http_version": "1.1", "method": "GET", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "scheme": "http", "server": ("testserver", 80),
            "client": ("127.0.0.1", 5000),
            "headers": [(k.lower().encode(), v.encode()) for k, v in self.headers.items()],
        }  # fmt: skip
        sent_request = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self._gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
            self._buffer += message.get("body", b"")
            while b"\n\n" in self._buffer:
                block, self._buffer = self._buffer.split(b"\n\n", 1)
                fields = dict(
                    line.split(": ", 1)
                    for line in block.decode().splitlines()
                    if ": " in line and not line.startswith(":")
                )
                if "data" in fields:
                    self.events.append(
                        (fields.get("id", ""), fields.get("event", ""), json.loads(fields["data"]))
                    )
            self._arrived.set()

        self.task = asyncio.ensure_future(self.app(scope, receive, send))
        while not self.status:
            await asyncio.sleep(0.01)

    async def until(self, count: int) -> list[tuple[str, str, dict[str, Any]]]:
        async def enough() -> None:
            while len(self.events) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(enough(), 5)
        return self.events

    async def close(self) -> None:
        self._gone.set()
        await asyncio.wait_for(self.task, 5)


@pytest.fixture
def app_and_agent(shop: Path, hire: Any) -> tuple[Any, dict[str, str]]:
    storage = MemoryStore()
    return create_app(shop / "config.yaml", storage), hire(storage, "小美")


async def post(
    app: Any, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> Any:
    """POST straight through the ASGI app, on the running loop (where the event streams listen)."""
    data = json.dumps(body or {}).encode()
    all_headers = {"content-type": "application/json", "content-length": str(len(data)), **(headers or {})}
    scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "scheme": "http", "server": ("testserver", 80),
        "client": ("127.0.0.1", 5001), "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
    }  # fmt: skip
    sent: list[bytes] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": data, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message.get("body", b""))

    await app(scope, receive, send)
    return json.loads(b"".join(sent))


def test_an_agent_hears_the_handoff_and_the_buyer_hears_the_agent_without_reloading(
    app_and_agent: tuple[Any, dict[str, str]],
) -> None:
    app, agent = app_and_agent

    async def scenario() -> tuple[list[Any], list[Any], list[Any]]:
        desk = Window(app, "/v1/events", agent)
        await desk.open()
        opened = await post(app, "/v1/chat", {"session_id": "b1", "message": "我要转人工"})
        ticket, token = opened["handoff"]["ticket_id"], opened["session_token"]
        buyer = Window(app, f"/v1/sessions/b1/events?token={token}")
        await buyer.open()
        await post(app, "/v1/chat", {"session_id": "b1", "message": "还在吗"})
        await post(app, f"/v1/handoffs/{ticket}/claim", headers=agent)
        await post(app, f"/v1/handoffs/{ticket}/messages", {"text": "亲，我来帮您"}, headers=agent)
        await post(app, f"/v1/handoffs/{ticket}/close", {"note": "内部备注"}, headers=agent)
        agents_saw = await desk.until(5)
        buyer_saw = await buyer.until(3)
        # A window that comes back with the last id it saw gets what came after it, and only that.
        back = Window(app, "/v1/events", {**agent, "Last-Event-ID": agents_saw[2][0]})
        await back.open()
        resumed = await back.until(2)
        for window in (desk, buyer, back):
            await window.close()
        return agents_saw, buyer_saw, resumed

    agents_saw, buyer_saw, resumed = Blocking.run(scenario())
    assert ["ticket.opened", "buyer.message", "ticket.claimed", "agent.message", "ticket.closed"] == [
        e for _, e, _ in agents_saw
    ]
    assert {"text": "还在吗"}.items() <= agents_saw[1][2].items()
    assert [("ticket.claimed", {"agent": "小美"}), ("agent.message", {"text": "亲，我来帮您", "agent": "小美", "turn": "3"}),
            ("ticket.closed", {})] == [
        (e, {k: v for k, v in d.items() if k not in ("kind", "session_id", "at")}) for _, e, d in buyer_saw
    ]  # fmt: skip
    assert "内部备注" not in json.dumps(buyer_saw, ensure_ascii=False)  # agents' notes stay with agents
    assert [e for _, e, _ in agents_saw[3:]] == [e for _, e, _ in resumed]


def test_no_window_opens_without_the_right_token(app_and_agent: tuple[Any, dict[str, str]]) -> None:
    app, _ = app_and_agent

    async def scenario() -> list[int]:
        other = await post(app, "/v1/chat", {"session_id": "b2", "message": "在吗"})
        statuses = []
        for path in (
            "/v1/events",
            "/v1/sessions/b1/events",
            f"/v1/sessions/b1/events?token={other['session_token']}",
        ):
            window = Window(app, path)
            await window.open()
            statuses.append(window.status)
            await window.close()
        return statuses

    assert [401, 401, 401] == Blocking.run(scenario())


def test_an_agent_on_one_worker_hears_a_handoff_taken_by_another(shop: Path, hire: Any) -> None:
    """`bot serve --workers 2` on SQLite: the agent's feed is open on one worker, the buyer's chat
    lands on the other, and the ticket still shows up in the feed."""
    from bot.storage.sqlite import SQLiteStore

    path = shop / "data" / "bot.db"
    serving, chatting = (create_app(shop / "config.yaml", SQLiteStore(path)) for _ in range(2))
    agent = hire(SQLiteStore(path), "小美")

    async def scenario() -> list[tuple[str, str, dict[str, Any]]]:
        desk = Window(serving, "/v1/events", agent)
        await desk.open()
        await post(chatting, "/v1/chat", {"session_id": "b1", "message": "我要转人工"})
        heard = await desk.until(1)
        await desk.close()
        return heard

    [(event_id, kind, data)] = Blocking.run(scenario())
    assert ("ticket.opened", "b1", "asked_for_person") == (kind, data["session_id"], data["reason"])
    assert event_id


def test_a_window_opened_after_reading_the_transcript_misses_nothing_said_in_between(
    app_and_agent: tuple[Any, dict[str, str]],
) -> None:
    """The widget reads the transcript, then opens its stream from the transcript's last_event_id:
    an agent's message sent in between still arrives, with its turn so that one already shown
    can be told apart."""
    app, agent = app_and_agent

    async def scenario() -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
        handed = await post(app, "/v1/chat", {"session_id": "b1", "message": "我要转人工"})
        token, ticket = handed["session_token"], handed["handoff"]["ticket_id"]
        transcript = await get(app, f"/v1/sessions/b1?token={token}")
        await post(app, f"/v1/handoffs/{ticket}/claim", headers=agent)
        await post(app, f"/v1/handoffs/{ticket}/messages", {"text": "您好，我是小美"}, agent)
        window = Window(app, f"/v1/sessions/b1/events?token={token}&since={transcript['last_event_id']}")
        await window.open()
        heard = await window.until(2)
        await window.close()
        return transcript, heard

    transcript, heard = Blocking.run(scenario())
    assert [t["turn"] for t in transcript["turns"]] == [1]
    assert ["ticket.claimed", "agent.message"] == [kind for _, kind, _ in heard]
    assert {"text": "您好，我是小美", "agent": "小美", "turn": "2"} == {
        k: heard[1][2][k] for k in ("text", "agent", "turn")
    }


async def get(app: Any, path: str) -> Any:
    path, _, query = path.partition("?")
    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "path": path, "raw_path": path.encode(),
        "query_string": query.encode(), "root_path": "", "scheme": "http", "server": ("testserver", 80),
        "client": ("127.0.0.1", 5002), "headers": [],
    }  # fmt: skip
    sent: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message.get("body", b""))

    await app(scope, receive, send)
    return json.loads(b"".join(sent))
