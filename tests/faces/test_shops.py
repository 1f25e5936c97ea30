"""Several shops on one server: requests route by shop_id, and each shop's data and reloads are its own."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.faces.http.app import create_app
from bot.storage.memory import MemoryStore


@pytest.fixture
def server(shop: Path, mini: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped shop as the server's own (`default`), plus a tea shop and a broken one listed in it
    (both copies of the mini shop)."""
    tea = tmp_path / "tea"
    shutil.copytree(mini, tea)
    config = (tea / "config.yaml").read_text(encoding="utf-8")
    (tea / "config.yaml").write_text(config.replace("name: 迷你小店", "name: 清风茶叶店"), encoding="utf-8")
    broken = tmp_path / "broken"
    shutil.copytree(mini, broken)
    (broken / "intents" / "greeting.yaml").write_text("id: greeting\nexamples: [\n", encoding="utf-8")
    own = (shop / "config.yaml").read_text(encoding="utf-8")
    listed = "shops:\n  - {id: tea, folder: ../tea}\n  - {id: broken, folder: ../broken}\n"
    (shop / "config.yaml").write_text(own.replace("shops: []", listed), encoding="utf-8")
    return shop


def chat(client: TestClient, message: str, session: str = "s1", **extra: object) -> tuple[int, dict]:
    response = client.post("/v1/chat", json={"session_id": session, "message": message, **extra})
    return response.status_code, response.json()


def test_each_request_is_answered_by_the_shop_it_names(server: Path) -> None:
    """shop_id picks the shop; without one, the server's own shop answers."""
    client = TestClient(create_app(server / "config.yaml", MemoryStore()))
    assert "清风茶叶店" in chat(client, "在吗", shop_id="tea")[1]["reply"]
    assert "小二优选旗舰店" in chat(client, "在吗", session="s2")[1]["reply"]
    assert "小二优选旗舰店" in chat(client, "在吗", session="s3", shop_id="default")[1]["reply"]


def test_an_unknown_shop_is_a_404_in_the_one_error_shape(server: Path) -> None:
    """A shop_id the server does not host is refused, and nothing is stored."""
    storage = MemoryStore()
    client = TestClient(create_app(server / "config.yaml", storage))
    status, body = chat(client, "在吗", shop_id="nope")
    assert (404, "unknown-shop") == (status, body["error"]["code"])
    assert "nope" in body["error"]["message_zh"]
    assert 404 == client.get("/v1/intents", params={"shop_id": "nope"}).status_code


def test_one_session_id_in_two_shops_is_two_conversations(server: Path, hire: Any) -> None:
    """A handoff in the tea shop holds its buyer there only; each shop's queue shows its own tickets."""
    storage = MemoryStore()
    client = TestClient(create_app(server / "config.yaml", storage), headers=hire(storage))
    assert "handoff" == chat(client, "我要转人工", session="same", shop_id="tea")[1]["action"]
    answered = chat(client, "能开发票吗", session="same")[1]
    assert ("answer", "invoice") == (answered["action"], answered["intent"])
    assert "human" == chat(client, "在吗", session="same", shop_id="tea")[1]["action"]
    assert [] == client.get("/v1/handoffs").json()["items"]
    tea = client.get("/v1/handoffs", params={"shop_id": "tea"}).json()["items"]
    assert ["same"] == [t["session_id"] for t in tea]
    transcript = client.get("/v1/sessions/same", params={"shop_id": "tea"}).json()
    assert ["我要转人工", "在吗"] == [t["message"] for t in transcript["turns"]]


def test_a_broken_shop_never_stops_the_others_and_serves_after_a_good_reload(server: Path, hire: Any) -> None:
    """A listed shop whose files are broken answers 503; the others serve; fixed and reloaded, it answers."""
    storage = MemoryStore()
    client = TestClient(create_app(server / "config.yaml", storage))
    status, body = chat(client, "在吗", shop_id="broken")
    assert (503, "shop-unavailable") == (status, body["error"]["code"])
    assert 200 == chat(client, "在吗", shop_id="tea")[0]
    ready = client.get("/readyz").json()
    assert {"default": "ready", "tea": "ready", "broken": "unavailable"} == {
        k: v["status"] for k, v in ready["shops"].items()
    }
    admin = hire(storage, "店长", admin=True)
    refused = client.post("/v1/admin/reload", params={"shop_id": "broken"}, headers=admin)
    assert (422, "shop-invalid") == (refused.status_code, refused.json()["error"]["code"])
    shutil.copy(
        server.parent / "tea" / "intents" / "greeting.yaml",
        server.parent / "broken" / "intents" / "greeting.yaml",
    )
    reloaded = client.post("/v1/admin/reload", params={"shop_id": "broken"}, headers=admin)
    assert (200, "broken") == (reloaded.status_code, reloaded.json()["shop_id"])
    assert 200 == chat(client, "在吗", shop_id="broken")[0]


def test_a_shop_reloads_on_its_own(server: Path, hire: Any) -> None:
    """Reloading the tea shop swaps only it: the default shop keeps the engine it had."""
    storage = MemoryStore()
    client = TestClient(create_app(server / "config.yaml", storage))
    before = client.get("/readyz").json()["shops"]
    tea = server.parent / "tea" / "intents" / "greeting.yaml"
    tea.write_text(tea.read_text(encoding="utf-8") + "  哈喽: 0.85\n", encoding="utf-8")
    reloaded = client.post(
        "/v1/admin/reload", params={"shop_id": "tea"}, headers=hire(storage, "店长", admin=True)
    )
    assert 200 == reloaded.status_code
    after = client.get("/readyz").json()["shops"]
    assert before["default"]["fingerprint"] == after["default"]["fingerprint"]
    assert before["tea"]["fingerprint"] != after["tea"]["fingerprint"]


def test_a_listed_shop_id_must_be_a_new_lowercase_name(server: Path) -> None:
    """`default` and repeated ids are refused at load, with file:line, before anything serves."""
    from bot.problems import LoadError

    config = server / "config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("{id: broken, folder: ../broken}", "{id: tea, folder: ../broken}"), encoding="utf-8"
    )
    with pytest.raises(LoadError, match="tea"):
        create_app(config, MemoryStore())
