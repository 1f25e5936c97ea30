"""Turns through a store: concurrent requests of one session never lose or reorder a turn."""

from __future__ import annotations

import threading
from pathlib import Path

from bot import Bot
from bot.conversation import Conversations
from bot.storage.sqlite import SQLiteStore


def test_concurrent_turns_of_one_session_are_all_kept(shipped_bot: Bot, tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "bot.db")
    conversations = Conversations(lambda: shipped_bot, store, idle_seconds=3600)

    def buyer(n: int) -> None:
        for i in range(10):
            conversations.turn("shared", f"{n}-{i} 能开发票吗")

    threads = [threading.Thread(target=buyer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    transcript = store.transcript("shared")
    assert list(range(1, 61)) == [t.turn for t in transcript]
    assert 60 == len({t.message for t in transcript})
    assert 60 == store.session("shared").turns  # type: ignore[union-attr]
