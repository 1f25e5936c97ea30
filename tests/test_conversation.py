"""Turns through a store: concurrent requests of one session never lose or reorder a turn."""

from __future__ import annotations

import threading
from pathlib import Path

from bot import Bot
from bot.service import Conversations
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


def test_a_session_moved_on_by_another_process_is_read_again(shipped_bot: Bot, tmp_path: Path) -> None:
    # Two processes' worth of Conversations on one database: each remembers the sessions it wrote.
    first = Conversations(lambda: shipped_bot, SQLiteStore(tmp_path / "bot.db"), idle_seconds=3600)
    second = Conversations(lambda: shipped_bot, SQLiteStore(tmp_path / "bot.db"), idle_seconds=3600)
    assert 1 == first.turn("s", "能开发票吗").reply.turn
    assert 2 == second.turn("s", "我要转人工").reply.turn  # `first` still remembers turn 1
    third = first.turn("s", "还在吗")
    assert (3, "human") == (third.reply.turn, third.reply.action.value)  # held, as the store says
    assert 4 == first.turn("s", "好的").reply.turn
    store = SQLiteStore(tmp_path / "bot.db")
    assert ["能开发票吗", "我要转人工", "还在吗", "好的"] == [t.message for t in store.transcript("s")]
    assert ("还在吗", "好的") == store.open_ticket("s").left_messages  # type: ignore[union-attr]


def test_a_held_session_stays_held_after_the_idle_time(shipped_bot: Bot, tmp_path: Path) -> None:
    now = [1_700_000_000.0]
    store = SQLiteStore(tmp_path / "bot.db")
    conversations = Conversations(lambda: shipped_bot, store, idle_seconds=60, clock=lambda: now[0])
    assert "handoff" == conversations.turn("s", "我要转人工").reply.action.value
    now[0] += 3600  # the buyer comes back an hour later; nobody has closed the ticket yet
    assert "human" == conversations.turn("s", "还有人吗").reply.action.value
