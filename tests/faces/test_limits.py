"""Fairness (`server.rate_limit`): each client has its own budget; a client over it gets 429 with
Retry-After at once and nobody else notices; counted in Redis when replicas share one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.faces.http.app import create_app
from bot.faces.http.limits import MemoryBuckets
from bot.settings import RateLimitSettings
from bot.storage.memory import MemoryStore


def limited(shop: Path, per_second: float = 0.5, burst: int = 3, exempt: str = "[]") -> Path:
    config = shop / "config.yaml"
    rule = f"server:\n  rate_limit: {{per_second: {per_second}, burst: {burst}, exempt: {exempt}}}"
    config.write_text(re.sub(r"^server:.*$", rule, config.read_text(encoding="utf-8"), count=1, flags=re.M),
                      encoding="utf-8")  # fmt: skip
    return config


def chat(client: TestClient, session: str) -> Any:
    return client.post("/v1/chat", json={"session_id": session, "message": "在吗"})


def test_a_client_over_its_budget_gets_429_and_another_client_is_served(shop: Path) -> None:
    app = create_app(limited(shop), MemoryStore())
    flood, other = TestClient(app, client=("203.0.113.7", 4000)), TestClient(app, client=("198.51.100.2", 4000))
    assert [200, 200, 200] == [chat(flood, f"f{i}").status_code for i in range(3)]
    refused = chat(flood, "f3")
    assert 429 == refused.status_code and int(refused.headers["retry-after"]) >= 1
    assert "rate-limited" == refused.json()["error"]["code"] and "秒后再试" in refused.json()["error"]["message_zh"]
    assert 200 == chat(other, "o1").status_code  # its own budget
    assert 200 == flood.get("/healthz").status_code and 200 == flood.get("/readyz").status_code


def test_an_exempt_address_is_never_limited(shop: Path) -> None:
    app = create_app(limited(shop, exempt='["10.0.0.9"]'), MemoryStore())
    monitor = TestClient(app, client=("10.0.0.9", 1))
    assert {200} == {chat(monitor, f"m{i}").status_code for i in range(8)}


def test_a_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    buckets = MemoryBuckets(RateLimitSettings(per_second=2, burst=2), clock=lambda: now[0])

    async def takes() -> list[float]:
        return [await buckets.take("a") for _ in range(3)]

    import asyncio

    assert [0.0, 0.0, 0.5] == asyncio.run(takes())
    now[0] += 0.5  # one token back
    assert 0.0 == asyncio.run(buckets.take("a"))
    assert asyncio.run(buckets.take("a")) > 0
    assert 0.0 == asyncio.run(buckets.take("b"))


def test_replicas_sharing_redis_share_each_clients_budget(
    shop: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    redis.Redis.from_url(redis_url).delete("bot:rate:a:203.0.113.8")
    monkeypatch.setenv("BOT_SESSIONS_URL", redis_url)
    config = limited(shop, per_second=0.1, burst=4)
    with (
        TestClient(create_app(config, MemoryStore()), client=("203.0.113.8", 1)) as one,
        TestClient(create_app(config, MemoryStore()), client=("203.0.113.8", 2)) as two,
    ):
        statuses = [chat(c, f"r{i}").status_code for i, c in enumerate([one, two, one, two, one, two])]
    assert [200, 200, 200, 200, 429, 429] == statuses
