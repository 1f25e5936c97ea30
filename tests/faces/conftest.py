"""Fixtures of the faces' tests: the app on SQLite with an agent's client and a clock the test
moves, and a cable to a database that a test can cut."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from bot.faces.http.app import create_app
from bot.storage.sqlite import SQLiteStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Client(TestClient):
    """A TestClient that calls as agent 小美 (not an admin); `admin` holds an admin's headers and
    `hire(name)` makes another agent."""

    admin: dict[str, str]
    hire: Any


@pytest.fixture
def client(shop: Path, clock: Clock, hire: Any) -> Client:
    store = SQLiteStore(shop / "data" / "bot.db")
    made = Client(create_app(shop / "config.yaml", store, clock=clock), headers=hire(store, "小美"))
    made.admin = hire(store, "店长", admin=True)
    made.hire = lambda name: hire(store, name)
    return made


class Cable:
    """A TCP forwarder between the app and a database that the test can cut and mend: the database
    goes away (every connection dropped, new ones refused) and comes back on the same address."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.pairs: list[tuple[Any, Any]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.pairs.append((client, server))
            if not self.open:  # cut while this one was being connected
                self.cut()
                continue
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: Any, b: Any) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        """Both ends of every connection see it end (a FIN), as when the server restarts: shutdown,
        not close, since a close does not end a connection another thread is reading."""
        self.open = False
        for pair in self.pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
        self.pairs.clear()

    def mend(self) -> None:
        self.open = True


@pytest.fixture
def cable() -> Callable[[str], tuple[Cable, str]]:
    """`cable(url)`: a Cable to the server of `url`, and the same URL going through it."""

    def through(url: str) -> tuple[Cable, str]:
        where = urlsplit(url)
        wire = Cable((where.hostname or "127.0.0.1", where.port or 5432))
        return wire, url.replace(f":{where.port}/", f":{wire.port}/")

    return through
