"""The sessions the bot remembers between turns, behind a small store interface."""

from __future__ import annotations

import threading
from typing import Protocol

from bot.model import Session


class SessionStore(Protocol):
    def get(self, key: str) -> Session: ...

    def put(self, session: Session) -> None: ...


class MemoryStore:
    """Sessions in this process's memory: the embedded default, and what tests use."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._sessions: dict[str, Session] = {}
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key: str) -> Session:
        with self._lock:
            return self._sessions.get(key) or Session(key=key)

    def put(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.key, None)
            self._sessions[session.key] = session
            while len(self._sessions) > self._capacity:  # forget the least recently written
                self._sessions.pop(next(iter(self._sessions)))
