"""`bot serve --watch`: a valid change goes live without a restart; a broken one is logged, the old set serves."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.faces.http.app import create_app
from bot.storage.memory import MemoryStore

# How long to wait for the watcher (a wait, not a speed claim: reload time is in benchmarks/).
WAIT = 30.0


def greeting(client: TestClient, session: str) -> str:
    """A reply that always names the shop: the apology to an angry buyer."""
    response = client.post("/v1/chat", json={"session_id": session, "message": "你们就是骗子"})
    return str(response.json()["reply"])


def test_valid_change_goes_live_and_broken_change_does_not(
    shop: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = shop / "config.yaml"
    with TestClient(create_app(config, MemoryStore(), watch=True)) as client:
        assert "小二优选旗舰店" in greeting(client, "w0")
        config.write_text(
            config.read_text(encoding="utf-8").replace("小二优选旗舰店", "新店名"), encoding="utf-8"
        )
        deadline = time.monotonic() + WAIT
        while "新店名" not in greeting(client, f"w{time.monotonic()}") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "新店名" in greeting(client, "w1")

        fingerprint = client.get("/readyz").json()["fingerprint"]
        caplog.set_level(logging.ERROR, logger="bot")
        intent = shop / "intents" / "greeting.yaml"
        intent.write_text(
            intent.read_text(encoding="utf-8").replace("examples:", "exmaples:"), encoding="utf-8"
        )
        deadline = time.monotonic() + WAIT
        while "intents/greeting.yaml" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "intents/greeting.yaml:" in caplog.text and "exmaples" in caplog.text
        assert "新店名" in greeting(client, "w2")  # the last good set keeps serving
        assert fingerprint == client.get("/readyz").json()["fingerprint"]
