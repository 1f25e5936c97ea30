"""Turns through the turn service: concurrent turns of one session never lose or reorder one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from bot import Bot
from bot.desk import Desk
from bot.model import Agent, Event
from bot.service import Blocking, Conversations
from bot.storage.sqlite import SQLiteStore


def test_concurrent_turns_of_one_session_are_all_kept(shipped_bot: Bot, tmp_path: Path) -> None:
    """60 turns sent at once on one session are stored as turns 1..60, none twice, none lost."""
    store = SQLiteStore(tmp_path / "bot.db")
    conversations = Conversations(lambda shop: shipped_bot, store)

    async def everyone() -> None:
        await asyncio.gather(*(conversations.turn("shared", f"{n} 能开发票吗") for n in range(60)))

    asyncio.run(everyone())
    transcript = asyncio.run(store.transcript("default", "shared"))
    assert list(range(1, 61)) == [t.turn for t in transcript]
    assert 60 == len({t.message for t in transcript})
    assert 60 == asyncio.run(store.session("default", "shared")).turns  # type: ignore[union-attr]


def test_threads_of_a_library_user_share_one_turn_service(shipped_bot: Bot, tmp_path: Path) -> None:
    """Bot.reply from six threads at once: every turn of the shared session is kept, in order."""
    bot = Bot(shipped_bot.shop, SQLiteStore(tmp_path / "bot.db"))

    def buyer(n: int) -> None:
        for i in range(10):
            bot.reply("shared", f"{n}-{i} 能开发票吗")

    threads = [threading.Thread(target=buyer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    transcript = Blocking.run(bot.conversations.storage.transcript("default", "shared"))
    assert list(range(1, 61)) == [t.turn for t in transcript]
    assert 60 == len({t.message for t in transcript})


def test_a_session_moved_on_by_another_process_is_read_again(shipped_bot: Bot, tmp_path: Path) -> None:
    """Two processes' worth of services on one file: each reads what the other stored."""
    first = Blocking(Conversations(lambda shop: shipped_bot, SQLiteStore(tmp_path / "bot.db")))
    second = Blocking(Conversations(lambda shop: shipped_bot, SQLiteStore(tmp_path / "bot.db")))
    assert 1 == first.turn("s", "能开发票吗").reply.turn
    assert 2 == second.turn("s", "我要转人工").reply.turn  # `first` still remembers turn 1
    third = first.turn("s", "还在吗")
    assert (3, "human") == (third.reply.turn, third.reply.action.value)  # held, as the file says
    assert 4 == first.turn("s", "好的").reply.turn
    store = SQLiteStore(tmp_path / "bot.db")
    assert ["能开发票吗", "我要转人工", "还在吗", "好的"] == [
        t.message for t in Blocking.run(store.transcript("default", "s"))
    ]
    assert ("还在吗", "好的") == Blocking.run(store.open_ticket("default", "s")).left_messages  # type: ignore[union-attr]


def test_a_held_session_stays_held_after_the_idle_time(shipped_bot: Bot, tmp_path: Path) -> None:
    """A buyer who comes back after the idle time to an open ticket still waits for the person."""
    now = [1_700_000_000.0]
    conversations = Blocking(
        Conversations(lambda shop: shipped_bot, SQLiteStore(tmp_path / "bot.db"), clock=lambda: now[0])
    )
    assert "handoff" == conversations.turn("s", "我要转人工").reply.action.value
    now[0] += 3 * 3600  # the buyer comes back hours later; nobody has closed the ticket yet
    assert "human" == conversations.turn("s", "还有人吗").reply.action.value


def test_sessions_of_two_shops_with_one_id_are_two_conversations(shipped_bot: Bot, tmp_path: Path) -> None:
    """A handoff in one shop does not hold the buyer of the same session id in another."""
    conversations = Blocking(Conversations(lambda shop: shipped_bot, SQLiteStore(tmp_path / "bot.db")))
    assert "handoff" == conversations.turn("s", "我要转人工", shop="tea").reply.action.value
    other = conversations.turn("s", "能开发票吗", shop="default")
    assert ("answer", 1) == (other.reply.action.value, other.reply.turn)


def test_two_replicas_on_postgresql_agree_on_every_turn(shipped_bot: Bot, postgres_url: str) -> None:
    """Two services on one PostgreSQL, a session's turns alternating between them: turns 1..N in
    order, none twice, and a handoff made on one holds the buyer on the other."""

    from bot.storage import postgres

    url = postgres_url
    one, two = (Conversations(lambda shop: shipped_bot, postgres.PostgresStore(url)) for _ in range(2))

    async def traffic() -> None:
        for i in range(10):
            await asyncio.gather(one.turn("r", f"{i} 能开发票吗"), two.turn("r", f"{i} 什么时候发货"))

    Blocking.run(traffic())
    turns = Blocking.run(one.storage.transcript("default", "r"))
    assert list(range(1, 21)) == [t.turn for t in turns]
    assert 20 == len({t.message for t in turns})
    assert "handoff" == Blocking(one).turn("h", "我要转人工").reply.action.value
    assert "human" == Blocking(two).turn("h", "还在吗").reply.action.value
    for replica in (one, two):
        Blocking.run(replica.storage.disconnect())  # type: ignore[attr-defined]


def test_a_handoff_its_held_messages_and_the_agents_moves_are_heard_as_events(shipped_bot: Bot) -> None:
    """Whoever listens (an agent's queue) hears, in order: the ticket opened by the turn that
    handed off, what the buyer wrote while waiting, the claim and the close; a plain answer is no event."""
    from bot.storage.memory import MemoryStore

    conversations = Conversations(lambda shop: shipped_bot, MemoryStore())

    async def scenario() -> list[tuple[str, object, dict[str, str]]]:
        listener = conversations.storage.events.follow("default")
        heard = asyncio.ensure_future(_take(listener, 4))
        await asyncio.sleep(0.05)
        await conversations.turn("s", "能开发票吗")
        opened = await conversations.turn("s", "我要转人工")
        assert opened.ticket is not None and opened.ticket.id is not None
        await conversations.turn("s", "还在吗 订单号是 2024051233871234")
        desk, me = Desk(conversations), Agent(name="小王")
        await desk.claim("default", opened.ticket.id, me)
        await desk.close("default", opened.ticket.id, me, "已补发")
        return [(e.kind.value, e.ticket_id, dict(e.data)) for e in await asyncio.wait_for(heard, 5)]

    events = Blocking.run(scenario())
    ticket_id = events[0][1]
    assert [
        ("ticket.opened", ticket_id, {"reason": "asked_for_person"}),
        ("buyer.message", ticket_id, {"text": "还在吗 订单号是 2024051233871234"}),
        ("ticket.claimed", ticket_id, {"agent": "小王"}),
        ("ticket.closed", ticket_id, {"agent": "小王", "note": "已补发"}),
    ] == events


async def _take(listener: AsyncIterator[Event], count: int) -> list[Event]:
    got = []
    async for event in listener:
        got.append(event)
        if len(got) == count:
            break
    return got
