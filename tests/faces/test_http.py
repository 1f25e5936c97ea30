"""Through the HTTP face (FastAPI TestClient): every route, every error, one error shape."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.faces.http.app import create_app
from bot.storage.sqlite import SQLiteStore
from tests.faces.conftest import Client, Clock


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
    queue = client.get("/v1/handoffs", params={"status": "open"}).json()["items"]
    assert [ticket_id] == [t["id"] for t in queue]
    assert ["我要转人工", "有人吗"] == [t["message"] for t in queue[0]["transcript"]]
    claimed = client.post(f"/v1/handoffs/{ticket_id}/claim").json()
    assert ("claimed", "小美") == (claimed["status"], claimed["claimed_by"])
    assert "human" == chat(client, "还在吗", session="h1")["action"]
    closed = client.post(f"/v1/handoffs/{ticket_id}/close", json={"note": "已解决"}).json()
    assert "closed" == closed["status"]
    assert "answer" == chat(client, "能开发票吗", session="h1")["action"]


def test_angry_buyer_is_high_priority_and_first_in_the_queue(client: TestClient, clock: Clock) -> None:
    chat(client, "我要转人工", session="calm")
    clock.now += 60
    chat(client, "再不处理就投诉你们!!!", session="angry")
    queue = client.get("/v1/handoffs").json()["items"]
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
        ({"session_id": "a/b", "message": "在吗"}, 422, "invalid-request"),
        ({"session_id": "a\x00b", "message": "在吗"}, 422, "invalid-request"),
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
        ("get", "/v1/handoffs/999", 404, "unknown-ticket"),
        ("get", "/v1/handoffs/9223372036854775808", 422, "invalid-request"),
        ("get", "/v1/handoffs?cursor=abc", 422, "bad-cursor"),
        ("get", "/v1/nothing-here", 404, "http-error"),
    ],
)
def test_unknown_things_are_4xx(client: TestClient, method: str, url: str, status: int, code: str) -> None:
    response = getattr(client, method)(url)
    assert (status, code) == (response.status_code, response.json()["error"]["code"])


def test_claiming_a_closed_ticket_is_a_conflict(client: TestClient) -> None:
    ticket = chat(client, "我要转人工", session="c")["handoff"]["ticket_id"]
    client.post(f"/v1/handoffs/{ticket}/close")
    response = client.post(f"/v1/handoffs/{ticket}/claim")
    assert (409, "ticket-conflict", "closed") == (
        response.status_code,
        response.json()["error"]["code"],
        response.json()["error"]["details"]["status"],
    )


def test_health_readiness_and_metrics(client: TestClient) -> None:
    chat(client, "我要转人工", session="metrics")
    assert {"status": "ok", "worker": os.getpid()} == client.get("/healthz").json()
    ready = client.get("/readyz").json()
    assert ("ready", 16) == (ready["status"], ready["intents"])
    text = client.get("/metrics").text
    assert 'bot_replies_total{action="handoff",intent="human",shop="default"} 1.0' in text
    assert 'bot_handoffs_total{reason="asked_for_person",shop="default"} 1.0' in text
    assert 'bot_http_request_seconds_bucket{le="0.001",route="/v1/chat"}' in text


def test_reload_needs_an_admins_token(client: Client) -> None:
    anonymous = TestClient(client.app).post("/v1/admin/reload")
    assert (401, 'Bearer realm="dianxiaoer"') == (
        anonymous.status_code,
        anonymous.headers["www-authenticate"],
    )
    assert 401 == client.post("/v1/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code
    assert (403, "forbidden") == (
        client.post("/v1/admin/reload").status_code,
        client.post("/v1/admin/reload").json()["error"]["code"],
    )  # 小美 is an agent, not an admin
    ok = client.post("/v1/admin/reload", headers=client.admin)
    assert (200, "reloaded") == (ok.status_code, ok.json()["status"])


def test_broken_reload_keeps_the_old_set_serving(client: TestClient, shop: Path) -> None:
    path = shop / "intents" / "invoice.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("examples:", "exmaples:"), encoding="utf-8")
    response = client.post("/v1/admin/reload", headers=client.admin)
    assert (422, "shop-invalid") == (response.status_code, response.json()["error"]["code"])
    assert any(d["where"].startswith("intents/invoice.yaml:") for d in response.json()["error"]["details"])
    assert "invoice" == chat(client, "能开发票吗", session="after-reload")["intent"]


def test_good_reload_swaps_the_answers(client: TestClient, shop: Path) -> None:
    path = shop / "config.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("小二优选旗舰店", "新名字小店"), encoding="utf-8"
    )
    assert 200 == client.post("/v1/admin/reload", headers=client.admin).status_code
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
    [ticket] = [t for t in client.get("/v1/handoffs").json()["items"] if t["session_id"] == "t3"]
    assert ["什么时候发货"] == ticket["questions"]


def test_the_api_on_postgresql_keeps_turns_and_works_the_queue(
    shop: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str, hire: Any
) -> None:
    """storage.url postgresql://…: chat, handoff, the held buyer, claim and close, all in PostgreSQL."""
    from bot.storage.postgres import PostgresStore

    url = postgres_url
    monkeypatch.setenv("BOT_STORAGE_URL", url)
    agent = hire(PostgresStore(url), "小美")
    with TestClient(create_app(shop / "config.yaml"), headers=agent) as client:
        assert "invoice" == chat(client, "能开发票吗", session="pg")["intent"]
        ticket = chat(client, "我要转人工", session="pg")["handoff"]["ticket_id"]
        assert "human" == chat(client, "在吗", session="pg")["action"]
        claimed = client.post(f"/v1/handoffs/{ticket}/claim", headers=agent).json()
        assert ("claimed", ["在吗"]) == (claimed["status"], claimed["left_messages"])
        assert 3 == len(claimed["transcript"])
        assert 200 == client.post(f"/v1/handoffs/{ticket}/close", json={"note": "好了"}).status_code
        assert "answer" == chat(client, "什么时候发货", session="pg")["action"]
        assert "ready" == client.get("/readyz").json()["status"]


@pytest.mark.parametrize("lost", ["PostgreSQL", "Redis"])
def test_a_lost_database_is_a_503_and_the_server_recovers_by_itself(
    lost: str,
    shop: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    cable: Any,
    hire: Any,
) -> None:
    """PostgreSQL (or the Redis in front of it) gone: chat answers 503 storage-unavailable with
    Retry-After (never a 500, never a fake answer from memory) and /readyz names the backend; back:
    the same server answers again, and the transcript holds exactly the acknowledged turns."""
    from bot.storage.postgres import PostgresStore

    postgres_url = request.getfixturevalue("postgres_url")
    redis_url = request.getfixturevalue("redis_url") if lost == "Redis" else None
    agent = hire(PostgresStore(postgres_url))
    wire, through = cable(redis_url or postgres_url)
    monkeypatch.setenv("BOT_STORAGE_URL", postgres_url if redis_url else through)
    if redis_url:
        monkeypatch.setenv("BOT_SESSIONS_URL", through)
    with TestClient(create_app(shop / "config.yaml")) as client:
        assert "invoice" == chat(client, "能开发票吗", session="down")["intent"]
        wire.cut()
        gone = client.post("/v1/chat", json={"session_id": "down", "message": "什么时候发货"})
        assert (503, "storage-unavailable", "1") == (
            gone.status_code,
            gone.json()["error"]["code"],
            gone.headers.get("retry-after"),
        )
        ready = client.get("/readyz")
        assert 503 == ready.status_code and lost in ready.text
        wire.mend()
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
            t["message"] for t in client.get("/v1/sessions/down", headers=agent).json()["turns"]
        ]


def test_a_message_sent_again_with_its_id_gets_the_same_reply_and_is_stored_once(client: TestClient) -> None:
    """A client whose reply was lost sends the message again with the same message_id: it gets the
    reply already given (replayed), the transcript keeps one turn, and a handoff is not opened twice."""
    first = chat(client, "我要转人工", session="retry", message_id="m-1")
    again = chat(client, "我要转人工", session="retry", message_id="m-1")
    assert (False, True) == (first["replayed"], again["replayed"])
    assert {k: first[k] for k in ("turn_id", "reply", "action", "intent", "handoff")} == {
        k: again[k] for k in ("turn_id", "reply", "action", "intent", "handoff")
    }
    assert first["handoff"] is not None
    turns = client.get("/v1/sessions/retry").json()["turns"]
    assert [("我要转人工", "m-1")] == [(t["message"], t["message_id"]) for t in turns]
    assert 1 == len(client.get("/v1/handoffs").json()["items"])
    chat(client, "还有人吗", session="retry", message_id="m-2")
    assert 2 == len(client.get("/v1/sessions/retry").json()["turns"])


@pytest.mark.parametrize("message_id", ["", "含中文", "a b", "x" * 129])
def test_a_message_id_that_is_not_printable_ascii_is_refused(client: TestClient, message_id: str) -> None:
    response = client.post("/v1/chat", json={"session_id": "s", "message": "在吗", "message_id": message_id})
    assert 422 == response.status_code and "message_id" in response.text


def handed_off(client: TestClient, session: str, message: str = "我要转人工") -> int:
    return int(chat(client, message, session=session)["handoff"]["ticket_id"])


def code_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json().get("error", {}).get("code", "")


def test_two_agents_race_for_one_ticket_and_only_one_wins(client: Client) -> None:
    """The second claim answers 409 with who has it; the winner claiming again changes nothing."""
    ticket = handed_off(client, "race")
    wang = client.hire("小王")
    assert 200 == client.post(f"/v1/handoffs/{ticket}/claim").status_code
    lost = client.post(f"/v1/handoffs/{ticket}/claim", headers=wang)
    assert (409, "ticket-conflict") == code_of(lost)
    assert {"status": "claimed", "claimed_by": "小美"} == lost.json()["error"]["details"]
    assert "小美" in lost.json()["error"]["message_zh"]
    again = client.post(f"/v1/handoffs/{ticket}/claim")
    assert (200, "小美") == (again.status_code, again.json()["claimed_by"])


def test_the_agent_who_holds_a_ticket_writes_to_the_buyer_and_it_is_in_the_transcript(client: Client) -> None:
    ticket = handed_off(client, "talk")
    wang = client.hire("小王")
    assert (409, "ticket-conflict") == code_of(
        client.post(f"/v1/handoffs/{ticket}/messages", json={"text": "在的"})
    )
    client.post(f"/v1/handoffs/{ticket}/claim")
    assert (409, "ticket-conflict") == code_of(
        client.post(f"/v1/handoffs/{ticket}/messages", json={"text": "我来"}, headers=wang)
    )  # only the holder writes
    sent = client.post(f"/v1/handoffs/{ticket}/messages", json={"text": "亲，已经帮您补发了"})
    assert (200, "小美", 2) == (sent.status_code, sent.json()["agent"], sent.json()["turn"])
    assert "human" == chat(client, "好的谢谢", session="talk")["action"]  # still with the person
    turns = client.get("/v1/sessions/talk").json()["turns"]
    assert [("我要转人工", None), ("", "小美"), ("好的谢谢", None)] == [
        (t["message"], t["agent"]) for t in turns
    ]
    assert ("agent", "亲，已经帮您补发了") == (turns[1]["action"], turns[1]["reply"])
    assert 422 == client.post(f"/v1/handoffs/{ticket}/messages", json={"text": ""}).status_code


def test_transfer_release_and_close_follow_the_state_machine(client: Client) -> None:
    ticket = handed_off(client, "life")
    wang = client.hire("小王")
    client.post(f"/v1/handoffs/{ticket}/claim")
    assert (404, "unknown-agent") == code_of(
        client.post(f"/v1/handoffs/{ticket}/transfer", json={"to": "nobody"})
    )
    moved = client.post(f"/v1/handoffs/{ticket}/transfer", json={"to": "小王", "note": "要换货"}).json()
    assert ("claimed", "小王", "要换货") == (moved["status"], moved["claimed_by"], moved["note"])
    assert (409, "ticket-conflict") == code_of(
        client.post(f"/v1/handoffs/{ticket}/release")
    )  # no longer hers
    released = client.post(f"/v1/handoffs/{ticket}/release", headers=wang).json()
    assert ("open", None) == (released["status"], released["claimed_by"])
    closed = client.post(f"/v1/handoffs/{ticket}/close", json={"note": "已解决"}).json()
    assert ("closed", "已解决") == (closed["status"], closed["note"])
    again = client.post(f"/v1/handoffs/{ticket}/close", json={"note": "别的"})
    assert (200, "已解决") == (again.status_code, again.json()["note"])  # idempotent, the note kept
    assert (409, "ticket-conflict") == code_of(
        client.post(f"/v1/handoffs/{ticket}/messages", json={"text": "hi"})
    )
    assert "answer" == chat(client, "能开发票吗", session="life")["action"]


def test_a_ticket_held_by_another_is_closed_only_by_its_holder_or_an_admin(client: Client) -> None:
    ticket = handed_off(client, "boss")
    client.post(f"/v1/handoffs/{ticket}/claim", headers=client.hire("小王"))
    assert (409, "ticket-conflict") == code_of(client.post(f"/v1/handoffs/{ticket}/close"))
    assert "closed" == client.post(f"/v1/handoffs/{ticket}/close", headers=client.admin).json()["status"]


def test_the_queue_pages_filters_and_gives_times_with_their_zone(client: Client, clock: Clock) -> None:
    for n in range(5):
        handed_off(client, f"q{n}")
        clock.now += 60
    handed_off(client, "angry", "再不处理就投诉你们!!!")
    seen, cursor, pages = [], None, 0
    while True:
        page = client.get(
            "/v1/handoffs", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [t["session_id"] for t in page["items"]]
        pages, cursor = pages + 1, page["next_cursor"]
        if cursor is None:
            break
    assert (3, ["angry", "q0", "q1", "q2", "q3", "q4"]) == (pages, seen)
    high = client.get("/v1/handoffs", params={"priority": "high"}).json()["items"]
    assert ["angry"] == [t["session_id"] for t in high]
    client.post(f"/v1/handoffs/{high[0]['id']}/claim")
    mine = client.get("/v1/handoffs", params={"agent": "小美"}).json()["items"]
    assert ["angry"] == [t["session_id"] for t in mine]
    one = client.get(f"/v1/handoffs/{high[0]['id']}").json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", one["created_at"])
    assert re.fullmatch(r".*\+08:00", one["claimed_at"]) and one["waited_seconds"] >= 0


def test_a_buyer_reads_only_their_own_conversation_and_nobody_reads_without_a_token(client: Client) -> None:
    mine = chat(client, "在吗", session="buyer-a")
    chat(client, "在吗", session="buyer-b")
    anonymous = TestClient(client.app)
    own = anonymous.get("/v1/sessions/buyer-a", params={"token": mine["session_token"]})
    assert (200, ["在吗"]) == (own.status_code, [t["message"] for t in own.json()["turns"]])
    assert (401, "unauthorized") == code_of(
        anonymous.get("/v1/sessions/buyer-b", params={"token": mine["session_token"]})
    )
    assert (401, "unauthorized") == code_of(anonymous.get("/v1/sessions/buyer-b"))
    for route in ("/v1/handoffs", "/v1/handoffs/1"):
        assert (401, "unauthorized") == code_of(anonymous.get(route))
    assert (401, "unauthorized") == code_of(anonymous.post("/v1/handoffs/1/claim"))


def test_a_revoked_token_stops_working_at_once(client: Client, shop: Path) -> None:
    from bot.service import Blocking

    token = client.hire("临时工")
    assert 200 == client.get("/v1/handoffs", headers=token).status_code
    assert Blocking.run(SQLiteStore(shop / "data" / "bot.db").revoke_agent("临时工", 1.0))
    assert (401, "unauthorized") == code_of(client.get("/v1/handoffs", headers=token))


def test_an_order_number_left_while_waiting_is_put_on_the_ticket(client: Client) -> None:
    ticket = handed_off(client, "order")
    chat(client, "我的电话13812345678 订单号是 2024051233871234", session="order")
    chat(client, "还有一个单 2024051233879999", session="order")
    got = client.get(f"/v1/handoffs/{ticket}").json()
    assert "2024051233871234" == got["order_number"]  # the first one given, not a phone number


def test_agents_get_the_shops_canned_replies_with_its_facts_filled_in(client: Client) -> None:
    canned = client.get("/v1/canned").json()
    assert 5 == len(canned) and "7天无理由退换" in canned[3] and "{" not in "".join(canned)
    assert (401, "unauthorized") == code_of(TestClient(client.app).get("/v1/canned"))


def test_a_canned_reply_with_an_unknown_fact_is_a_lint_error(shop: Path) -> None:
    from bot.problems import LoadError
    from bot.service import Bot

    config = shop / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("{shop.return_days}天无理由", "{shop.nope}天"),
                      encoding="utf-8")  # fmt: skip
    with pytest.raises(LoadError) as caught:
        Bot.from_config(config)
    assert "service.canned[3]" in caught.value.render()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_pages_load_everything_from_the_server_itself(client: Client, page: str) -> None:
    """No CDN: every script, style and icon the page names is served by the app (works offline)."""
    html = client.get(page).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/static/docs/") for a in assets), assets
    assert "cdn" not in html and "googleapis" not in html
    for asset in assets:
        assert 200 == client.get(asset).status_code, asset


def test_openapi_declares_the_bearer_scheme_on_the_agent_routes(client: Client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"type": "http", "scheme": "bearer"}.items() <= spec["components"]["securitySchemes"][
        "HTTPBearer"
    ].items()
    assert spec["paths"]["/v1/handoffs/{ticket_id}/claim"]["post"]["security"] == [{"HTTPBearer": []}]


def add_key(store: Any, kind: str, shop: str = "default", name: str | None = None) -> str:
    import time

    from bot.credentials import KEY_PREFIX, new_token, token_hash
    from bot.model import ApiKey, KeyKind
    from bot.service import Blocking

    token = new_token(KEY_PREFIX[KeyKind(kind)])
    key = ApiKey(shop=shop, name=name or kind, kind=KeyKind(kind), created_at=time.time())
    Blocking.run(store.add_key(key, token_hash(token)))
    return token


def test_once_a_shop_has_keys_every_chat_needs_one_and_a_widget_only_its_own_conversation(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.faces.http.auth import KeyGate
    from bot.service import Blocking

    monkeypatch.setattr(KeyGate, "CACHE_SECONDS", 0.0)
    store = SQLiteStore(shop / "data" / "bot.db")
    client = TestClient(create_app(shop / "config.yaml", store))
    body = {"session_id": "k1", "message": "在吗"}
    assert 200 == client.post("/v1/chat", json=body).status_code  # no key yet: the open demo
    server, widget = add_key(store, "server"), add_key(store, "widget")
    other_shop = add_key(store, "server", shop="tea")
    assert (401, "key-required") == code_of(client.post("/v1/chat", json=body))
    assert (401, "bad-key") == code_of(
        client.post("/v1/chat", json=body, headers={"X-Api-Key": "dxe_server_nope"})
    )
    assert (401, "bad-key") == code_of(client.post("/v1/chat", json=body, headers={"X-Api-Key": other_shop}))
    assert 200 == client.post("/v1/chat", json=body, headers={"X-Api-Key": server}).status_code
    # A widget starts its own conversation, gets its token, and goes on with it; nobody else's.
    started = client.post(
        "/v1/chat", json={"session_id": "w1", "message": "在吗"}, headers={"X-Api-Key": widget}
    )
    assert 200 == started.status_code
    token = started.json()["session_token"]
    mine = {"X-Api-Key": widget, "X-Session-Token": token}
    assert (
        200
        == client.post("/v1/chat", json={"session_id": "w1", "message": "发货了吗"}, headers=mine).status_code
    )
    assert (403, "not-your-session") == code_of(
        client.post(
            "/v1/chat", json={"session_id": "w1", "message": "我是别人"}, headers={"X-Api-Key": widget}
        )
    )
    assert (403, "not-your-session") == code_of(
        client.post("/v1/chat", json=body, headers=mine)
    )  # k1 is not w1
    assert Blocking.run(store.revoke_key("default", "server", 1.0))
    assert (401, "bad-key") == code_of(client.post("/v1/chat", json=body, headers={"X-Api-Key": server}))


def test_openapi_lists_every_error_a_route_answers_in_the_one_shape(client: Client) -> None:
    spec = client.get("/openapi.json").json()
    claim = spec["paths"]["/v1/handoffs/{ticket_id}/claim"]["post"]["responses"]
    assert {"200", "401", "404", "409", "422"} <= set(claim)
    assert "ticket-conflict" in claim["409"]["description"]
    assert claim["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    chat = spec["paths"]["/v1/chat"]["post"]["responses"]
    assert {"401", "403", "413", "503"} <= set(chat)


def test_openapi_shows_an_example_for_every_route_that_still_fits_its_model(client: Client) -> None:
    """Every route's answer has an example on /docs (a body it takes, too), and each example of a
    route with a response model is one that model accepts: the page shows what the API gives."""
    from bot.faces.http import bodies

    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            answer = operation["responses"]["200"].get("content", {})
            if not any("example" in media for media in answer.values()):
                missing.append(f"{method.upper()} {path} answer")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                ref = next(
                    r["$ref"] for r in [body["schema"], *body["schema"].get("anyOf", [])] if "$ref" in r
                )
                named = schemas[ref.rsplit("/", 1)[-1]]["properties"].values()
                if not any("examples" in field or "example" in field for field in named):
                    missing.append(f"{method.upper()} {path} body")
            model = answer.get("application/json", {}).get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
            if model and hasattr(bodies, model):
                getattr(bodies, model).model_validate(answer["application/json"]["example"])
    assert [] == missing


def test_a_chat_not_sent_as_json_is_refused_so_a_cross_site_form_cannot_post(client: Client) -> None:
    form = client.post(
        "/v1/chat", content='{"session_id": "x", "message": "在吗"}', headers={"Content-Type": "text/plain"}
    )
    assert (415, "not-json") == code_of(form)
    assert 404 == client.get("/v1/sessions/x").status_code  # nothing was stored


def test_agents_see_who_they_can_transfer_to_and_never_a_token(client: Client, shop: Path) -> None:
    client.hire("阿强")
    from bot.service import Blocking

    assert Blocking.run(SQLiteStore(shop / "data" / "bot.db").revoke_agent("阿强", 1.0))
    listed = client.get("/v1/agents")
    assert 200 == listed.status_code
    assert {("小美", False), ("店长", True)} == {(a["name"], a["admin"]) for a in listed.json()}  # not 阿强
    assert "token" not in listed.text and "hash" not in listed.text
    assert 401 == client.get("/v1/agents", headers={"Authorization": ""}).status_code


def test_an_agent_learns_who_the_token_belongs_to(client: Client) -> None:
    assert {"name": "小美", "admin": False} == client.get("/v1/me").json()
    assert {"name": "店长", "admin": True} == client.get("/v1/me", headers=client.admin).json()
    assert (401, "unauthorized") == code_of(TestClient(client.app).get("/v1/me"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A 2 MB file system of its own (tmpfs), unmounted after the test; skipped loudly where this
    process may not mount (not root)."""
    import subprocess

    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"SKIPPED LOUDLY: cannot mount a small tmpfs to fill (needs root): {mounted.stderr!r}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_readyz_writes_so_a_full_disk_is_not_ready_and_each_failure_is_not_a_traceback(
    shop: Path, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A disk that fills after the server started: /readyz fails with the store named (it writes; a
    lock taken and let go would still pass), chats answer 503, the log holds one line with a count
    and no traceback; space freed, ready again."""
    store = SQLiteStore(small_disk / "bot.db")
    client = TestClient(create_app(shop / "config.yaml", store))
    assert 200 == client.get("/readyz").status_code
    assert 200 == client.post("/v1/chat", json={"session_id": "a", "message": "在吗"}).status_code
    filler = small_disk / "filler"
    with filler.open("wb") as f, pytest.raises(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    caplog.clear()
    ready = client.get("/readyz")
    assert 503 == ready.status_code and {"store": "sqlite"} == ready.json()["error"]["details"]
    for i in range(20):
        full = client.post("/v1/chat", json={"session_id": f"full-{i}", "message": f"什么时候发货 {'啊' * 300}"})
        assert 503 == full.status_code and "storage-unavailable" == full.json()["error"]["code"]
    failed = [r for r in caplog.records if "storage_failed" in r.getMessage()]
    assert 1 <= len(failed) <= 2 and not any(r.exc_info for r in caplog.records), caplog.text
    filler.unlink()
    assert 200 == client.get("/readyz").status_code
    assert 200 == client.post("/v1/chat", json={"session_id": "b", "message": "在吗"}).status_code
