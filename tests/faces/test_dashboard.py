"""A shop's day in numbers: `GET /v1/stats` and the `/dashboard` page, from real turns through the API."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bot.service import Blocking
from bot.storage.sqlite import SQLiteStore
from tests.faces.conftest import Client, Clock


def chat(client: TestClient, message: str, session: str) -> dict[str, Any]:
    response = client.post("/v1/chat", json={"session_id": session, "message": message})
    assert 200 == response.status_code, response.text
    return response.json()


def a_day(client: Client, clock: Clock) -> None:
    """Four buyers: one answered twice, one handed off and answered by 小美 90 s later, two who wrote
    the same thing the bot could not read (with different order numbers)."""
    chat(client, "啥时候发货", "answered")
    chat(client, "能开发票吗", "answered")
    ticket = chat(client, "我要转人工", "handed")["handoff"]["ticket_id"]
    clock.now += 90
    assert 200 == client.post(f"/v1/handoffs/{ticket}/claim").status_code
    assert 200 == client.post(f"/v1/handoffs/{ticket}/messages", json={"text": "您好，我来处理"}).status_code
    chat(client, "订单 12345678901 那个东西咋回事", "lost-1")
    chat(client, "订单 98765432109 那个东西咋回事", "lost-2")


def test_the_days_figures_are_what_the_buyers_and_agents_did(client: Client, clock: Clock) -> None:
    a_day(client, clock)
    stats = client.get("/v1/stats").json()
    assert stats["day"] == "2023-11-15"  # the shop's clock (UTC+8), not UTC's 14 November
    assert (4, 5) == (stats["conversations"], stats["messages"])
    assert (1, 0.25) == (stats["bot_resolved"], stats["bot_resolved_rate"])
    assert (3, 0.75) == (stats["handed_off"], stats["handoff_rate"])
    reasons = {c["name"]: (c["title"], c["count"]) for c in stats["handoffs"]}
    assert {"asked_for_person": ("买家要求转人工", 1), "low_confidence": ("小二没把握", 2)} == reasons
    assert (90.0, 1, 2) == (
        stats["first_response_median_seconds"], stats["tickets_answered"], stats["tickets_unanswered"],
    )  # fmt: skip
    assert {("shipping_time", "发货时间", 1), ("invoice", "发票开具", 1)} == {
        (c["name"], c["title"], c["count"]) for c in stats["intents"]
    }
    assert {("shipping_time.when", "付款后多久发货"), ("invoice.kinds", "能开哪些发票")} == {
        (c["name"], c["title"]) for c in stats["topics"]
    }
    # The two unread messages are one question; their order numbers are neither shown nor telling them apart.
    assert [("订单 ########### 那个东西咋回事", 2)] == [(c["name"], c["count"]) for c in stats["unanswered"]]
    assert 5 == sum(stats["hours"]) == stats["hours"][6]  # 06:13 on the shop's clock
    assert 2 == sum(b["answers"] for b in stats["reliability"])
    assert 2 == sum(b["kept"] for b in stats["reliability"])


def test_an_answer_followed_by_a_handoff_is_not_counted_as_kept(client: Client) -> None:
    chat(client, "啥时候发货", "s")
    chat(client, "我要转人工", "s")
    (band,) = client.get("/v1/stats").json()["reliability"]
    assert (1, 0) == (band["answers"], band["kept"])


def test_days_are_cut_at_midnight_on_the_shops_clock(client: Client, clock: Clock) -> None:
    clock.now = dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()
    chat(client, "啥时候发货", "late")
    clock.now += 120
    chat(client, "能开发票吗", "early")
    first = client.get("/v1/stats", params={"day": "2026-12-01"}).json()
    second = client.get("/v1/stats").json()
    assert ("2026-12-02", 1, 1) == (second["day"], second["messages"], second["hours"][0])
    assert (1, 1) == (first["messages"], first["hours"][23])
    assert 0 == client.get("/v1/stats", params={"day": "2026-11-30"}).json()["conversations"]


def test_stats_need_an_agent_and_a_real_day(client: Client) -> None:
    assert 401 == client.get("/v1/stats", headers={"Authorization": ""}).status_code
    bad = client.get("/v1/stats", params={"day": "2026-13-01"})
    assert (422, "invalid-request") == (bad.status_code, bad.json()["error"]["code"])
    assert 404 == client.get("/v1/stats", params={"shop_id": "nope"}).status_code


def numbers(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_dashboard_shows_the_figures_the_api_gives_without_javascript(
    client: Client, clock: Clock
) -> None:
    a_day(client, clock)
    stats = client.get("/v1/stats").json()
    page = client.get("/dashboard")
    assert 200 == page.status_code and page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text and "http" not in page.text.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    text = numbers(page.text)
    assert f"接待量 {stats['conversations']}" in text
    assert f"机器人独立解决率 {stats['bot_resolved_rate'] * 100:.1f}%" in text
    assert f"转人工率 {stats['handoff_rate'] * 100:.1f}%" in text
    assert "人工首次响应 1.5 分钟" in text
    assert "订单 ########### 那个东西咋回事" in text and "12345678901" not in page.text
    assert page.text.count("<svg") == 5  # per hour, reasons, intents, topics, reliability
    assert "发货时间" in text and "买家要求转人工" in text


def test_a_browser_logs_in_with_a_form_and_a_revoked_token_is_out_at_once(client: Client, shop: Path) -> None:
    browser = TestClient(client.app)
    asked = browser.get("/dashboard")
    assert 401 == asked.status_code and 'action="/dashboard/login"' in asked.text
    wrong = browser.post("/dashboard/login", data={"token": "not-a-token"}, follow_redirects=False)
    assert 401 == wrong.status_code and "令牌不对" in wrong.text
    token = client.hire("小王")["Authorization"].removeprefix("Bearer ")
    logged = browser.post("/dashboard/login", data={"token": token}, follow_redirects=False)
    assert 303 == logged.status_code
    cookie = logged.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    assert 200 == browser.get("/dashboard").status_code
    assert 401 == browser.get("/v1/stats").status_code  # the cookie opens the page, not the API
    assert Blocking.run(SQLiteStore(shop / "data" / "bot.db").revoke_agent("小王", 1.0))
    assert 401 == browser.get("/dashboard").status_code


def test_what_buyers_wrote_is_escaped_on_the_page(client: Client) -> None:
    chat(client, "<script>alert(1)</script> 嗯嗯", "x")
    page = client.get("/dashboard").text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
