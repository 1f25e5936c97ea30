"""Hostile input through every face: a clear 4xx, a clarify or a handoff; never a 500, a crash or a hang."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from bot.faces.cli import main
from bot.faces.http.app import create_app
from bot.faces.http.asgi import Bounded
from bot.storage.sqlite import SQLiteStore

HOSTILE_MESSAGES = [
    "",
    "   \t\n ",
    "发" * 100_000,
    "a\x00b",
    "\x01\x02\x03\x1b[31m",
    "\ud800",
    "😀" * 400,
    "\u202e\u05e9\u05dc\u05d5\u05dd 发货",  # right-to-left override and Hebrew
    "{{shop.__class__}} {0.__init__}",
    "'; DROP TABLE turns; --",
]


@pytest.fixture
def client(shop: Path) -> TestClient:
    return TestClient(
        create_app(shop / "config.yaml", SQLiteStore(shop / "bot.db")), raise_server_exceptions=False
    )


@pytest.mark.parametrize("message", HOSTILE_MESSAGES, ids=range(len(HOSTILE_MESSAGES)))
def test_hostile_messages_over_http(client: TestClient, message: str) -> None:
    body = json.dumps({"session_id": "h", "message": message})  # escaped as a real client sends it
    response = client.post("/v1/chat", content=body.encode(), headers={"content-type": "application/json"})
    assert response.status_code in (200, 413, 422), response.text
    if response.status_code == 200:
        assert response.json()["action"] in ("clarify", "handoff", "answer")
    else:
        assert response.json()["error"]["message_zh"]
    assert 200 == client.get("/healthz").status_code  # still serving


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\x00garbage",  # invalid UTF-8
        b"[" * 20_000 + b"]" * 20_000,  # nested too deep
        json.dumps({"session_id": "n", "message": "x", "context": {"order": {"id": [[[[[]]]]]}}}).encode(),
        b"",
        b"null",
        b'"just a string"',
    ],
)
def test_malformed_bodies_are_4xx(client: TestClient, body: bytes) -> None:
    response = client.post("/v1/chat", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert "error" in response.json()


def test_huge_body_is_refused_before_reading(client: TestClient) -> None:
    response = client.post("/v1/chat", content=b"x" * 200_000, headers={"content-type": "application/json"})
    assert (413, "body-too-large") == (response.status_code, response.json()["error"]["code"])


def test_overload_answers_503_with_retry_after() -> None:
    """With the in-flight bound reached, the next request is refused at once, not queued; /healthz
    is still answered."""
    release = asyncio.Event()

    async def slow_app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope.get("path") != "/healthz":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    bounded = Bounded(slow_app, limit=1, max_body=1024)
    sent: list[list[dict]] = [[], [], []]

    async def call(i: int, path: str = "/v1/chat") -> None:
        async def receive():  # type: ignore[no-untyped-def]
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):  # type: ignore[no-untyped-def]
            sent[i].append(message)

        await bounded({"type": "http", "headers": [], "path": path}, receive, send)

    async def scenario() -> None:
        first = asyncio.create_task(call(0))
        await asyncio.sleep(0.01)
        await call(1)  # returns at once although the first is still running
        assert 503 == sent[1][0]["status"]
        assert (b"retry-after", b"1") in sent[1][0]["headers"]
        await call(2, "/healthz")
        assert 200 == sent[2][0]["status"]
        release.set()
        await first
        assert 200 == sent[0][0]["status"]

    asyncio.run(scenario())


@pytest.mark.parametrize("message", HOSTILE_MESSAGES, ids=range(len(HOSTILE_MESSAGES)))
def test_hostile_messages_through_the_cli(repo: Path, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(main, ["ask", message.replace("\x00", "")[:5000], "--json"])
    assert 0 == result.exit_code, result.output
    assert json.loads(result.output)["action"] in ("clarify", "handoff", "answer")


def test_yaml_bomb_in_a_shop_file_is_refused(shop: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    (shop / "intents" / "greeting.yaml").write_text(bomb, encoding="utf-8")
    result = CliRunner().invoke(main, ["lint", str(shop)])
    assert 1 == result.exit_code
    assert "yaml-alias" in result.output
