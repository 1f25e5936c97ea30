"""Mined questions on the dashboard (`GET /v1/mining`, `/dashboard/mining`): agents read them, an admin
accepts a proposal (checked, written to the shop's files, reloaded at once) or leaves a question to
people; a verdict holds until buyers miss the question again."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bot import Action, Bot
from tests.faces.conftest import Client, Clock
from tests.faces.test_dashboard import chat

# Buyers asking what the shipped shop cannot answer: what the goods are made of.
FABRIC = [
    "这件衣服什么面料",
    "面料成分是啥",
    "面料是纯棉的吗 贴身穿",
    "什么面料的呀 亲",
    "亲 面料透气不",
    "面料会扎人吗",
]
SHELF = ["保质期多久", "保质期是多长时间呀", "请问保质期几个月"]


def asked(client: Client, clock: Clock, texts: list[str], prefix: str) -> None:
    for i, text in enumerate(texts):
        chat(client, text, f"{prefix}-{i}")
        clock.now += 60


def cluster(client: Client, word: str) -> dict[str, Any] | None:
    listed = client.get("/v1/mining")
    assert 200 == listed.status_code, listed.text
    return next((c for c in listed.json()["clusters"] if c["key"] == f"w:{word}"), None)


def test_an_admin_accepts_a_mined_question_and_the_next_buyer_is_answered(
    client: Client, clock: Clock, shop: Path
) -> None:
    held_out = "面料是啥做的"  # a phrasing no buyer of the month used
    assert Action.ANSWER is not Bot.from_config(shop / "config.yaml").reply("probe", held_out).action
    asked(client, clock, FABRIC, "fabric")
    found = cluster(client, "面料")
    assert found is not None and found["count"] == len(FABRIC)
    proposal = found["proposal"]
    assert proposal["kind"] == "new_topic" and "+" in proposal["patch"]
    assert 403 == client.post(f"/v1/mining/{proposal['id']}/accept").status_code  # an agent reads, no more
    files = {p: p.read_text(encoding="utf-8") for p in (shop / "intents").glob("*.yaml")}
    # No agent answered these buyers: a new topic is not written without an answer a person gave.
    unanswered = client.post(f"/v1/mining/{proposal['id']}/accept", headers=client.admin)
    assert 409 == unanswered.status_code and "请写上本店的回答" in unanswered.json()["error"]["message_zh"]
    ours = "亲，这款是纯棉面料，亲肤透气不闷汗~"

    done = client.post(f"/v1/mining/{proposal['id']}/accept", headers=client.admin, json={"answer": ours})

    assert 200 == done.status_code, done.text
    body = done.json()
    assert body["accepted"] and body["after"]["lint_errors"] == []
    changed = [p.name for p, text in files.items() if p.read_text(encoding="utf-8") != text]
    assert [f"{proposal['intent']}.yaml"] == changed
    reply = chat(client, held_out, "after")
    assert ("answer", proposal["topic"]) == (reply["action"], reply["topic"]) and reply["reply"].endswith(ours)
    assert cluster(client, "面料") is None  # done with: not proposed again
    again = client.post(f"/v1/mining/{proposal['id']}/accept", headers=client.admin)
    assert 404 == again.status_code and "没有这个建议" in again.json()["error"]["message_zh"]


def test_a_proposal_that_breaks_a_dialogue_is_refused_and_nothing_changes(
    client: Client, clock: Clock, shop: Path
) -> None:
    # This owner pinned that the goods' material goes to a person.
    (shop / "tests" / "dialogues").mkdir(parents=True)
    (shop / "tests" / "dialogues" / "pinned.yaml").write_text(
        "dialogues:\n  - name: 面料转人工\n    turns:\n      - buyer: 这件衣服什么面料\n        action: handoff\n",
        encoding="utf-8",
    )
    asked(client, clock, FABRIC, "fabric")
    proposal = cluster(client, "面料")["proposal"]  # type: ignore[index]
    before = {p: p.read_text(encoding="utf-8") for p in shop.rglob("*.yaml")}

    refused = client.post(f"/v1/mining/{proposal['id']}/accept", headers=client.admin, json={"answer": "亲，纯棉的~"})

    assert 409 == refused.status_code, refused.text
    error = refused.json()["error"]
    assert error["code"] == "proposal-refused" and "面料转人工" in error["message_zh"]
    assert before == {p: p.read_text(encoding="utf-8") for p in shop.rglob("*.yaml")}
    assert cluster(client, "面料") is not None  # still proposed: nothing was decided


def test_an_ignored_question_stays_away_until_a_buyer_misses_it_again(client: Client, clock: Clock) -> None:
    asked(client, clock, SHELF, "shelf")
    proposal = cluster(client, "保质期")["proposal"]  # type: ignore[index]
    assert 403 == client.post(f"/v1/mining/{proposal['id']}/ignore").status_code

    ignored = client.post(f"/v1/mining/{proposal['id']}/ignore", headers=client.admin)

    assert 200 == ignored.status_code and ignored.json()["verdict"] == "ignored"
    assert ignored.json()["by"] == "店长"
    assert cluster(client, "保质期") is None
    clock.now += 3600
    chat(client, "保质期到什么时候", "later")
    back = cluster(client, "保质期")
    assert back is not None and back["count"] == 1 and back["messages"] == ["保质期到什么时候"]


def login(client: Client, headers: dict[str, str]) -> TestClient:
    browser = TestClient(client.app)
    token = headers["Authorization"].removeprefix("Bearer ")
    assert 303 == browser.post("/dashboard/login", data={"token": token}, follow_redirects=False).status_code
    return browser


def test_the_page_lists_the_questions_and_only_an_admin_gets_the_buttons(
    client: Client, clock: Clock
) -> None:
    asked(client, clock, SHELF, "shelf")
    chat(client, "<b>保质期</b>呢", "hostile")
    agent = login(client, {"Authorization": client.headers["Authorization"]})
    page = agent.get("/dashboard/mining")
    assert 200 == page.status_code and "<script" not in page.text
    assert "保质期多久" in page.text and "3 位买家问过" in page.text.replace("4 位", "3 位")
    assert "<b>保质期</b>" not in page.text and "&lt;b&gt;" in page.text  # what buyers wrote is escaped
    assert "采纳并检查" not in page.text and "只有管理员可以采纳或忽略" in page.text
    refused = agent.post("/dashboard/mining/ignore", data={"proposal": "p0", "shop_id": "default"})
    assert 403 == refused.status_code

    admin = login(client, client.admin)
    page = admin.get("/dashboard/mining")
    assert "采纳并检查" in page.text and "忽略" in page.text
    proposal = re.search(r'name="proposal" value="(p[0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = admin.post(
        "/dashboard/mining/ignore", data={"proposal": proposal, "shop_id": "default", "days": "30"}
    )
    assert 200 == done.status_code and f"已忽略 {proposal}" in done.text
    assert proposal not in admin.get("/dashboard/mining").text
    assert 401 == TestClient(client.app).get("/dashboard/mining").status_code  # no cookie, no page
