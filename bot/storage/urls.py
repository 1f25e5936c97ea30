"""A store from a URL (`storage.url` in config.yaml, or `BOT_STORAGE_URL`).

    sqlite:///data/bot.db        SQLite, relative to the shop's folder (the default)
    sqlite:////var/lib/bot.db    SQLite, an absolute path
    memory://                    this process's memory: lost on exit, for trying things out
    postgresql://user@host/db    PostgreSQL (pip install 'dianxiaoer[postgres]'; bot db upgrade first)

`storage.sessions_url: redis://host:6379/0` (or `BOT_SESSIONS_URL`) puts Redis in front of it:
session state and a lock per conversation shared by every replica (`bot.storage.rediscache`).

Implementations are imported only when their scheme is used, so a new backend is one line here and
one module beside this one: the service and the faces do not change.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from urllib.parse import urlsplit

from bot.storage import Storage

# scheme → the module whose `from_url(url, root)` opens that store
SCHEMES = {
    "sqlite": "bot.storage.sqlite",
    "memory": "bot.storage.memory",
    "postgresql": "bot.storage.postgres",
    "postgres": "bot.storage.postgres",
}


class BadStorageUrl(ValueError):
    """The storage URL names no backend we have, or is malformed."""

    def __init__(self, url: str, why_zh: str, why_en: str) -> None:
        super().__init__(f"storage.url {shown(url)!r}: {why_zh}（{why_en}）")


def open_store(url: str, root: Path, sessions_url: str | None = None, ttl_seconds: float = 1800) -> Storage:
    """The storage of `url`; with `sessions_url` (redis://…), Redis in front of it for sessions and
    conversation locks, session state kept for `ttl_seconds` (the idle expiry)."""
    store = _backend(url, root)
    if not sessions_url:
        return store
    if urlsplit(sessions_url).scheme not in ("redis", "rediss"):
        raise BadStorageUrl(
            sessions_url, "会话存储只支持 redis://", "sessions_url must be redis:// or rediss://"
        )
    from bot.storage.rediscache import RedisFront

    return RedisFront(store, sessions_url, ttl_seconds)


def _backend(url: str, root: Path) -> Storage:
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        known = "、".join(f"{s}://" for s in SCHEMES)
        raise BadStorageUrl(
            url, f"不认识的存储类型，可用：{known}", f"unknown scheme; known: {', '.join(SCHEMES)}"
        )
    module = importlib.import_module(SCHEMES[scheme])
    store: Storage = module.from_url(url, root)
    return store


def sqlite_path(url: str, root: Path) -> Path:
    """sqlite:///relative.db → root/relative.db; sqlite:////absolute.db → /absolute.db."""
    path = url.removeprefix("sqlite://")
    if not path.startswith("/") or path == "/":
        raise BadStorageUrl(url, "应写成 sqlite:///相对路径.db 或 sqlite:////绝对路径.db",
                            "write sqlite:///relative.db or sqlite:////absolute.db")  # fmt: skip
    path = path[1:]
    return Path(path) if path.startswith("/") else root / path


def shown(url: str) -> str:
    """The URL as it may be printed: a password in it is replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
