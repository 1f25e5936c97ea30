"""Fixtures named for what they give: the repo, the shipped bot, a writable copy of the shop."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot import Bot, Reply
from bot.model import Session

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shipped_bot() -> Bot:
    """The shipped demo shop, loaded once for the whole run (tests use distinct session ids)."""
    return Bot.from_config(REPO / "config.yaml")


@pytest.fixture
def play(shipped_bot: Bot) -> Callable[..., list[Reply]]:
    """Plays buyer messages in one fresh, unstored session of the shipped shop, 20 s apart on a fixed
    Monday morning; returns the replies."""

    def turns(*texts: str) -> list[Reply]:
        session, replies = Session(key="play"), []
        for i, text in enumerate(texts):
            reply, session = shipped_bot.respond(session, text, now=1_767_578_400 + 20 * i)
            replies.append(reply)
        return replies

    return turns


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A writable copy of the shipped shop; returns its folder (config.yaml inside)."""
    target = tmp_path / "shop"
    target.mkdir()
    shutil.copy(REPO / "config.yaml", target / "config.yaml")
    shutil.copytree(REPO / "intents", target / "intents")
    shutil.copytree(REPO / "responses", target / "responses")
    shutil.copytree(REPO / "concepts", target / "concepts")
    return target


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    """A writable copy of tests/shops/mini, the smallest complete shop; returns its folder."""
    target = tmp_path / "mini"
    shutil.copytree(REPO / "tests" / "shops" / "mini", target)
    return target


@pytest.fixture
def postgres_url() -> str:
    """A PostgreSQL database emptied and upgraded to the latest schema. `.ci/run` starts a server and
    sets BOT_TEST_POSTGRES_URL; elsewhere every test that needs one is skipped, saying why."""
    import os

    url = os.environ.get("BOT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PostgreSQL NOT TESTED: set BOT_TEST_POSTGRES_URL (bash .ci/postgres starts a server)")
    import psycopg

    from bot.service import Blocking
    from bot.storage import postgres

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {', '.join(postgres.TABLES)}")
    Blocking.run(postgres.upgrade(url))
    return url


@pytest.fixture
def redis_url() -> str:
    """An emptied Redis database. `.ci/run` starts a server and sets BOT_TEST_REDIS_URL; elsewhere
    every test that needs one is skipped, saying why."""
    import os

    url = os.environ.get("BOT_TEST_REDIS_URL")
    if not url:
        pytest.skip("Redis NOT TESTED: set BOT_TEST_REDIS_URL (bash .ci/redis starts a server)")
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def hire() -> Callable[..., dict[str, str]]:
    """`hire(storage, name, admin=False)`: an agent in that storage; returns the headers that carry
    the agent's token."""
    import time

    from bot.credentials import new_token, token_hash
    from bot.model import Agent
    from bot.service import Blocking

    def headers(storage: Any, name: str = "小美", admin: bool = False) -> dict[str, str]:
        token = new_token()
        Blocking.run(storage.add_agent(Agent(name=name, admin=admin, created_at=time.time()), token_hash(token)))
        return {"Authorization": f"Bearer {token}"}

    return headers
