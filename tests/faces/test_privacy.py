"""A buyer's personal data: never in a log line, masked in stored transcripts when the shop says so,
erased on request (admin) and after the retention period."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from bot.faces.http.app import create_app
from bot.service import Blocking
from bot.storage.sqlite import SQLiteStore
from tests.faces.conftest import Client, Clock


def chat(client: TestClient, message: str, session: str = "s") -> dict:
    answered = client.post("/v1/chat", json={"session_id": session, "message": message})
    assert 200 == answered.status_code, answered.text
    return answered.json()


def privacy(shop: Path, lines: str) -> None:
    """The shop's privacy: section replaced by `lines`."""
    config = shop / "config.yaml"
    text = re.sub(r"^privacy:.*\n(?:[ #].*\n)*", f"privacy:\n{lines}\n", config.read_text(encoding="utf-8"), count=1,
                  flags=re.M)  # fmt: skip
    config.write_text(text, encoding="utf-8")


def test_a_phone_number_used_as_session_id_never_reaches_the_log(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.turns")
    chat(client, "我的手机13812345678 什么时候发货", session="13812345678")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert '"session": "h:' in logged and "13812345678" not in logged


def test_transcripts_keep_personal_data_masked_when_the_shop_says_so(shop: Path, hire: object) -> None:
    privacy(shop, "  mask_transcripts: true")
    store = SQLiteStore(shop / "data" / "bot.db")
    agent = hire(store, "小美")  # type: ignore[operator]
    client = TestClient(create_app(shop / "config.yaml", store), headers=agent)
    chat(client, "我要转人工")
    chat(client, "订单号 123456789012345 收件人张三 电话 13812345678 身份证11010519491231002X")
    turns = client.get("/v1/sessions/s").json()["turns"]
    stored = " ".join(t["message"] for t in turns)
    assert "[电话]" in stored and "[身份证号]" in stored and "[订单号]" in stored
    assert not re.search(r"\d{6,}", stored) and "张三" not in stored
    [ticket] = client.get("/v1/handoffs").json()["items"]
    assert ticket["order_number"] == "123456789012345"  # the agent still looks the order up


def test_an_admin_erases_a_buyers_conversation_and_no_one_else_can(client: Client) -> None:
    chat(client, "我要转人工", session="erase-me")
    chat(client, "什么时候发货", session="stays")
    assert 403 == client.delete("/v1/sessions/erase-me").status_code  # an agent, not an admin
    assert 401 == TestClient(client.app).delete("/v1/sessions/erase-me").status_code
    erased = client.delete("/v1/sessions/erase-me", headers=client.admin)
    assert 200 == erased.status_code and (1, 1) == (erased.json()["turns"], erased.json()["tickets"])
    assert 404 == client.get("/v1/sessions/erase-me").status_code
    assert [] == client.get("/v1/handoffs").json()["items"]
    assert 200 == client.get("/v1/sessions/stays").status_code
    assert 404 == client.delete("/v1/sessions/erase-me", headers=client.admin).status_code


def test_bot_db_purge_erases_what_is_older_than_the_day(shop: Path) -> None:
    from bot.faces.cli import main

    store = SQLiteStore(shop / "data" / "dianxiaoer.db")
    old = TestClient(create_app(shop / "config.yaml", store, clock=lambda: 1_700_000_000.0))  # 2023-11-14
    chat(old, "什么时候发货", session="old")
    new = TestClient(create_app(shop / "config.yaml", store, clock=lambda: 1_900_000_000.0))  # 2030
    chat(new, "什么时候发货", session="new")
    done = CliRunner().invoke(main, ["db", "purge", "--before", "2025-01-01", "--config", str(shop / "config.yaml")])
    assert 0 == done.exit_code and "删除了 1 个会话" in done.output, done.output
    assert [] == Blocking.run(store.transcript("default", "old"))
    assert 1 == len(Blocking.run(store.transcript("default", "new")))
    bad = CliRunner().invoke(main, ["db", "purge", "--before", "last year", "--config", str(shop / "config.yaml")])
    assert bad.exit_code != 0 and "--before 要写成 YYYY-MM-DD" in bad.output


def test_the_retention_period_erases_old_conversations_by_itself(
    shop: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.faces.http import app as http_app

    monkeypatch.setattr(http_app, "_RETENTION_FIRST", 0.0)
    privacy(shop, "  retention_days: 30")
    store = SQLiteStore(shop / "data" / "bot.db")
    chat(TestClient(create_app(shop / "config.yaml", store, clock=clock)), "什么时候发货", session="old")
    clock.now += 31 * 86400
    with TestClient(create_app(shop / "config.yaml", store, clock=clock)) as client:  # the server starts
        chat(client, "什么时候发货", session="new")
        deadline = time.monotonic() + 5
        while Blocking.run(store.transcript("default", "old")) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert [] == Blocking.run(store.transcript("default", "old"))
    assert 1 == len(Blocking.run(store.transcript("default", "new")))
