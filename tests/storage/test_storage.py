"""Every storage keeps the same promises: the in-memory one used in tests and the SQLite default."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.model import Action, HandoffReason, Review, Session, Ticket, TicketStatus, TurnRecord, Verdict
from bot.service import Blocking
from bot.storage import Storage, TicketMove, TicketMoved, TurnConflict, TurnWrite, UnknownTicket, postgres
from bot.storage.memory import MemoryStore
from bot.storage.rediscache import RedisFront
from bot.storage.sqlite import SQLiteStore
from bot.storage.urls import BadStorageUrl, open_store

T = TypeVar("T")


def run(work: Coroutine[Any, Any, T]) -> T:
    """On the library's own event loop (`Blocking`): one loop for the whole run, as in a server."""
    return Blocking.run(work)


@pytest.fixture(params=["memory", "sqlite", "postgres", "postgres+redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param.startswith("postgres"):
        pg: Storage = postgres.PostgresStore(request.getfixturevalue("postgres_url"))
        if request.param.endswith("redis"):
            pg = RedisFront(pg, request.getfixturevalue("redis_url"), ttl_seconds=60)
        yield pg
        run(pg.disconnect())  # its pool's connections and workers end with the test
        return
    yield MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "sub" / "bot.db")


def turn(session: str, n: int, message: str = "在吗", shop: str = "default") -> TurnRecord:
    return TurnRecord(
        session_id=session, shop=shop, turn=n, at=float(n), message=message, reply="亲", action=Action.ANSWER
    )


def ticket(session: str, priority: str = "normal", at: float = 1.0, shop: str = "default") -> Ticket:
    return Ticket(
        session_id=session, shop=shop, reason=HandoffReason.ASKED_FOR_PERSON, priority=priority, created_at=at
    )


def write(
    session: str, n: int, message: str = "在吗", with_ticket: bool = False, **session_fields: Any
) -> TurnWrite:
    return TurnWrite(
        turn=turn(session, n, message),
        session=Session(key=session, turns=n, **session_fields),
        ticket=ticket(session) if with_ticket else None,
    )


def test_turn_session_and_ticket_are_written_together(store: Storage) -> None:
    """One record stores the turn, the session after it and the ticket it opened."""
    after = Session(key="s", turns=1, misses=1, slots={"choice.1": "invoice"}, updated_at=5.0)
    written = run(store.record(TurnWrite(turn=turn("s", 1), session=after, ticket=ticket("s"))))
    assert written.turn_id >= 1 and written.ticket_id is not None
    assert after == run(store.session("default", "s"))
    assert ["在吗"] == [t.message for t in run(store.transcript("default", "s"))]
    assert TicketStatus.OPEN == run(store.open_ticket("default", "s")).status  # type: ignore[union-attr]


def test_the_same_turn_twice_is_a_conflict_and_changes_nothing(store: Storage) -> None:
    """A turn already stored is refused whole: no second message, session or ticket."""
    run(store.record(write("s", 1, "一")))
    with pytest.raises(TurnConflict):
        run(store.record(write("s", 1, "二", with_ticket=True, misses=3)))
    assert ["一"] == [t.message for t in run(store.transcript("default", "s"))]
    assert 0 == run(store.session("default", "s")).misses  # type: ignore[union-attr]
    assert run(store.open_ticket("default", "s")) is None


def test_shops_keep_their_own_sessions_transcripts_and_tickets(store: Storage) -> None:
    """The same session id in two shops is two conversations; a shop never sees another's ticket."""
    run(store.record(write("s", 1, "默认店")))
    other = TurnWrite(turn=turn("s", 1, "茶叶店", shop="tea"), session=Session(key="s", shop="tea", turns=1, misses=2),
                      ticket=ticket("s", shop="tea"))  # fmt: skip
    written = run(store.record(other))
    assert ["默认店"] == [t.message for t in run(store.transcript("default", "s"))]
    assert ["茶叶店"] == [t.message for t in run(store.transcript("tea", "s"))]
    assert (0, 2) == (run(store.session("default", "s")).misses, run(store.session("tea", "s")).misses)  # type: ignore[union-attr]
    assert [] == run(store.tickets("default"))
    assert run(store.ticket("default", written.ticket_id or 0)) is None
    with pytest.raises(UnknownTicket):
        run(store.move_ticket("default", written.ticket_id or 0, claim("小美", 2.0)))
    assert [written.ticket_id] == [t.id for t in run(store.tickets("tea"))]


def claim(agent: str, at: float, held_by: str | None = None) -> TicketMove:
    return TicketMove(from_statuses=frozenset({TicketStatus.OPEN}), status=TicketStatus.CLAIMED, claimed_by=agent,
                      claimed_at=at, keep_note=True)  # fmt: skip


def test_queue_order_and_every_move_is_compare_and_set(store: Storage) -> None:
    """High priority first, then oldest; a move applies only from where it starts (a second claim
    loses and is told where the ticket is); a close keeps who had it; an unknown ticket is named."""
    first = run(store.record(TurnWrite(turn=turn("a", 1), session=Session(key="a", turns=1),
                                       ticket=ticket("a", "normal", at=1.0)))).ticket_id or 0  # fmt: skip
    second = run(store.record(TurnWrite(turn=turn("b", 1), session=Session(key="b", turns=1),
                                        ticket=ticket("b", "high", at=2.0)))).ticket_id  # fmt: skip
    assert [second, first] == [t.id for t in run(store.tickets("default"))]
    claimed = run(store.move_ticket("default", first, claim("小美", 3.0)))
    assert (TicketStatus.CLAIMED, "小美", 3.0) == (claimed.status, claimed.claimed_by, claimed.claimed_at)
    with pytest.raises(TicketMoved) as lost:
        run(store.move_ticket("default", first, claim("小王", 3.5)))
    assert ("小美", TicketStatus.CLAIMED) == (lost.value.ticket.claimed_by, lost.value.ticket.status)
    assert [second] == [t.id for t in run(store.tickets("default", TicketStatus.OPEN))]
    not_hers = TicketMove(
        from_statuses=frozenset({TicketStatus.CLAIMED}), held_by="小王", status=TicketStatus.OPEN
    )
    with pytest.raises(TicketMoved):
        run(store.move_ticket("default", first, not_hers))
    close = TicketMove(from_statuses=frozenset({TicketStatus.OPEN, TicketStatus.CLAIMED}), status=TicketStatus.CLOSED,
                       claimed_by="小美", claimed_at=3.0, closed_at=4.0, note="已退款")  # fmt: skip
    closed = run(store.move_ticket("default", first, close))
    assert ("小美", 4.0, "已退款") == (closed.claimed_by, closed.closed_at, closed.note)
    assert run(store.open_ticket("default", "a")) is None
    with pytest.raises(TicketMoved):
        run(store.move_ticket("default", first, claim("x", 5.0)))
    with pytest.raises(UnknownTicket):
        run(store.move_ticket("default", 999, close))


def test_sqlite_data_outlives_the_store_object(tmp_path: Path) -> None:
    """What one store object wrote, the next one opened on the same file reads."""
    path = tmp_path / "bot.db"
    run(SQLiteStore(path).record(write("s", 1, with_ticket=True)))
    again = SQLiteStore(path)
    assert 1 == len(run(again.transcript("default", "s")))
    assert run(again.open_ticket("default", "s")) is not None
    run(again.ping())


def test_one_batch_stores_each_turn_under_its_own_id_and_conflicts_alone(tmp_path: Path) -> None:
    """The writes of one turn of the event loop are one commit; a conflict in it refuses only its turn."""
    store = SQLiteStore(tmp_path / "bot.db")
    committed: list[int] = []
    commit = store._commit
    store._commit = lambda loop, batch, **wait: (committed.append(len(batch)), commit(loop, batch, **wait))[1]  # type: ignore[method-assign]

    async def one_turn_of_the_loop() -> list[Any]:
        writes = [write(f"s{i}", 1, f"第{i}句") for i in range(30)]
        writes += [write("s7", 1, "又一句", misses=2), write("t", 1, with_ticket=True)]
        return await asyncio.gather(*(store.record(w) for w in writes), return_exceptions=True)

    *results, twice, with_ticket = run(one_turn_of_the_loop())
    assert [32] == committed
    assert isinstance(twice, TurnConflict)
    for i, written in enumerate(results):
        assert [(written.turn_id, f"第{i}句")] == [
            (t.id, t.message) for t in run(store.transcript("default", f"s{i}"))
        ]
    assert 0 == run(store.session("default", "s7")).misses  # type: ignore[union-attr]
    assert with_ticket.ticket_id == run(store.open_ticket("default", "t")).id  # type: ignore[union-attr]


def test_a_disk_that_does_not_sync_holds_only_the_writes_waiting_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn is acknowledged only after its commit is synced to the disk, and the sync runs off the
    loop: while the disk hangs the loop serves on, the turn waits, and past its bound it is a 503
    (StorageUnavailable); the turn is stored once the disk answers, so a retry of it finds it."""
    import threading

    from bot.storage import StorageUnavailable, durable, sqlite

    store = SQLiteStore(tmp_path / "bot.db")
    disk, synced = threading.Event(), []
    real = durable.os.fdatasync

    def hanging(fd: int) -> None:
        disk.wait(10)
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(durable.os, "fdatasync", hanging)

    async def while_the_disk_hangs() -> tuple[bool, int, Any]:
        recording = asyncio.ensure_future(store.record(write("s", 1, "第一句")))
        ticks = 0
        for _ in range(20):  # the loop keeps turning: another buyer, /healthz
            await asyncio.sleep(0.01)
            ticks += 1
        waiting = not recording.done()
        disk.set()
        return waiting, ticks, await recording

    waiting, ticks, written = run(while_the_disk_hangs())
    assert waiting and 20 == ticks and synced and written.turn_id == 1

    disk.clear()
    monkeypatch.setattr(sqlite, "WAIT_SECONDS", 0.1)
    with pytest.raises(StorageUnavailable):
        run(store.record(write("s", 2, "第二句")))
    disk.set()
    assert [1, 2] == [t.turn for t in run(SQLiteStore(tmp_path / "bot.db").transcript("default", "s"))]


def test_processes_sharing_a_database_read_the_session_another_moved_on(tmp_path: Path) -> None:
    """A store that remembers a session it wrote reads the file again once another process wrote it."""
    one, other = SQLiteStore(tmp_path / "bot.db"), SQLiteStore(tmp_path / "bot.db")
    run(one.record(write("s", 1)))
    assert 1 == run(one.session("default", "s")).turns  # type: ignore[union-attr]
    run(other.record(write("s", 2, misses=4)))
    assert (2, 4) == (run(one.session("default", "s")).turns, run(one.session("default", "s")).misses)  # type: ignore[union-attr]


def test_a_message_id_is_stored_once_and_found_again(store: Storage) -> None:
    """The caller's id of a message finds the turn it was answered in; a second turn with the same
    id in the same session is refused whole; the same id in another session is another message."""
    import dataclasses

    def with_id(session: str, n: int, message_id: str | None) -> TurnWrite:
        plain = write(session, n, f"第{n}句")
        return dataclasses.replace(plain, turn=dataclasses.replace(plain.turn, message_id=message_id))

    run(store.record(with_id("s", 1, "m-1")))
    run(store.record(with_id("s", 2, None)))
    run(store.record(with_id("s", 3, None)))  # turns without an id never clash
    with pytest.raises(TurnConflict):
        run(store.record(with_id("s", 4, "m-1")))
    run(store.record(with_id("t", 1, "m-1")))
    found = run(store.answered("default", "s", "m-1"))
    assert found is not None and (1, "第1句", "m-1") == (found.turn, found.message, found.message_id)
    assert run(store.answered("default", "s", "m-2")) is None
    assert [1, 2, 3] == [t.turn for t in run(store.transcript("default", "s"))]


def test_a_file_of_version_2_gains_message_ids_and_keeps_its_turns(tmp_path: Path) -> None:
    """A database written before message ids opens with its turns, and takes ids from then on."""
    path = tmp_path / "v2.db"
    run(SQLiteStore(path).record(write("s", 1, "旧的")))
    db = sqlite3.connect(path)
    db.executescript(
        "DROP INDEX turns_by_message; ALTER TABLE turns DROP COLUMN message_id; PRAGMA user_version = 2;"
    )
    db.close()
    store = SQLiteStore(path)
    assert ["旧的"] == [t.message for t in run(store.transcript("default", "s"))]
    import dataclasses

    second = write("s", 2, "新的")
    run(store.record(dataclasses.replace(second, turn=dataclasses.replace(second.turn, message_id="m"))))
    assert "新的" == run(store.answered("default", "s", "m")).message  # type: ignore[union-attr]


def test_a_file_of_the_version_before_shops_keeps_everything_under_the_default_shop(tmp_path: Path) -> None:
    """A database written before several shops opens with its sessions, turns and tickets in `default`."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE sessions (key TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL);"
        "CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, turn INTEGER NOT NULL,"
        " at REAL NOT NULL, buyer_id TEXT, shop_id TEXT, message TEXT NOT NULL, reply TEXT NOT NULL,"
        " action TEXT NOT NULL, intent TEXT, confidence REAL NOT NULL, reason TEXT, topic TEXT, UNIQUE (session_id, turn));"
        "CREATE TABLE tickets (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, buyer_id TEXT,"
        " reason TEXT NOT NULL, priority TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL,"
        " claimed_by TEXT, claimed_at REAL, closed_at REAL, note TEXT, left_messages TEXT NOT NULL DEFAULT '[]',"
        " order_number TEXT, questions TEXT NOT NULL DEFAULT '[]');"
        """INSERT INTO sessions VALUES ('s', '{"turns": 1, "misses": 2}', 1.0);"""
        "INSERT INTO turns VALUES (7, 's', 1, 1.0, NULL, 'ignored', '在吗', '亲', 'answer', 'greeting', 1.0, NULL, NULL);"
        "INSERT INTO tickets (session_id, reason, priority, status, created_at) VALUES ('s', 'asked_for_person', 'normal', 'open', 1.0);"
    )  # fmt: skip
    db.commit()
    db.close()
    store = SQLiteStore(path)
    assert [(7, "在吗", "default")] == [
        (t.id, t.message, t.shop) for t in run(store.transcript("default", "s"))
    ]
    assert 2 == run(store.session("default", "s")).misses  # type: ignore[union-attr]
    assert run(store.open_ticket("default", "s")) is not None
    with pytest.raises(TurnConflict):  # the turn it held still counts
        run(store.record(write("s", 1)))
    assert 8 == run(store.record(write("s", 2))).turn_id  # ids go on after the old ones


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("memory://", MemoryStore),
        ("sqlite:///data/bot.db", SQLiteStore),
        ("sqlite:////tmp/x/bot.db", SQLiteStore),
    ],
)
def test_the_url_picks_the_storage(
    url: str, kind: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """storage.url names the backend; a relative SQLite path is relative to the shop's folder."""
    monkeypatch.setattr(SQLiteStore, "__init__", lambda self, path: setattr(self, "path", path))
    opened = open_store(url, tmp_path)
    assert isinstance(opened, kind)
    if url == "sqlite:///data/bot.db":
        assert tmp_path / "data" / "bot.db" == opened.path  # type: ignore[attr-defined]
    if url.startswith("sqlite:////"):
        assert Path("/tmp/x/bot.db") == opened.path  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["mysql://x", "data/bot.db", "sqlite://bot.db"])
def test_a_url_we_cannot_open_says_so_in_chinese_first(url: str, tmp_path: Path) -> None:
    """An unknown scheme or a malformed SQLite URL is refused with a message naming what works."""
    with pytest.raises(BadStorageUrl, match=r"storage\.url") as caught:
        open_store(url, tmp_path)
    assert "sqlite" in str(caught.value)


def test_turns_at_once_on_one_session_store_each_turn_once(store: Storage) -> None:
    """Ten writers racing for turn 1 of one session: exactly one is stored, the others conflict."""

    async def race() -> list[Any]:
        return await asyncio.gather(*(store.record(write("s", 1, f"第{i}句")) for i in range(10)),
                                    return_exceptions=True)  # fmt: skip

    results = run(race())
    assert 1 == sum(not isinstance(r, Exception) for r in results)
    assert all(isinstance(r, TurnConflict) for r in results if isinstance(r, Exception))
    assert 1 == len(run(store.transcript("default", "s")))


def test_a_postgres_database_behind_the_code_refuses_to_open_until_upgraded(postgres_url: str) -> None:
    """A database without our schema is never written: it says to run bot db upgrade; upgraded, it works."""
    url = postgres_url
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"DROP TABLE {', '.join(postgres.TABLES)}")
    with pytest.raises(postgres.SchemaBehind, match="bot db upgrade"):
        run(postgres.PostgresStore(url).session("default", "s"))
    assert [name for _, name, _ in postgres.migrations()] == run(postgres.upgrade(url))
    assert [] == run(postgres.upgrade(url))  # a second upgrade has nothing to do
    upgraded = postgres.PostgresStore(url)
    assert run(upgraded.session("default", "s")) is None
    run(upgraded.disconnect())


def test_a_password_in_the_url_is_never_shown() -> None:
    """What `bot serve` prints and errors quote hide the password of a database URL."""
    from bot.storage.urls import shown

    assert "postgresql://bot:***@db.example:5432/shop" == shown(
        "postgresql://bot:hunter2@db.example:5432/shop"
    )
    with pytest.raises(BadStorageUrl) as caught:
        open_store("mysql://bot:hunter2@db/shop", Path("."))
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("locks", ["postgres", "postgres+redis"])
def test_a_conversation_lock_lets_one_turn_at_a_time_and_gives_up_in_time(
    locks: str, request: pytest.FixtureRequest
) -> None:
    """Two replicas' turns of one conversation, locked by PostgreSQL's advisory locks alone or by
    Redis: the second waits for the first to let go; a turn held too long makes the other one
    SessionBusy instead of running twice; a lock let go (or whose turn failed) is free again."""
    from bot.storage import SessionBusy

    url = request.getfixturevalue("postgres_url")

    def replica() -> Storage:
        pg = postgres.PostgresStore(url)
        return RedisFront(pg, request.getfixturevalue("redis_url"), 60) if "redis" in locks else pg

    one, two = replica(), replica()
    order: list[str] = []

    async def turn(store: Storage, name: str, seconds: float, session: str = "s") -> None:
        async with store.hold("default", session):
            order.append(f"{name} in")
            await asyncio.sleep(seconds)
            order.append(f"{name} out")

    async def both() -> None:
        await asyncio.gather(turn(one, "一", 0.2), turn(two, "二", 0))

    run(both())
    assert order in (["一 in", "一 out", "二 in", "二 out"], ["二 in", "二 out", "一 in", "一 out"])
    for store in (one, two):
        store.wait_seconds = 0.3  # type: ignore[attr-defined]

    async def too_long() -> list[Any]:
        slow = asyncio.ensure_future(turn(one, "慢", 1.0))
        while "慢 in" not in order:
            await asyncio.sleep(0.01)
        rest = await asyncio.gather(
            turn(two, "等", 0), turn(two, "别的会话", 0, session="t"), return_exceptions=True
        )
        return [await slow, *rest]

    order.clear()
    slow, waited, other = run(too_long())
    assert slow is None and isinstance(waited, SessionBusy) and other is None
    assert "等 in" not in order and "别的会话 in" in order  # another conversation never waits

    async def fails_inside() -> None:
        async with one.hold("default", "s"):
            raise RuntimeError("the turn failed")

    with pytest.raises(RuntimeError):
        run(fails_inside())
    run(turn(two, "之后", 0))  # free again at once
    assert order[-2:] == ["之后 in", "之后 out"]
    for store in (one, two):
        run(store.disconnect())


def test_redis_unreachable_is_storage_unavailable_not_a_silent_fallback(postgres_url: str) -> None:
    """With Redis down, a turn's read fails as StorageUnavailable (a 503), never from memory."""
    import socket

    from bot.storage import StorageUnavailable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    front = RedisFront(postgres.PostgresStore(postgres_url), f"redis://127.0.0.1:{port}/0", 60)
    with pytest.raises(StorageUnavailable):
        run(front.session("default", "s"))
    run(front.disconnect())


def test_a_shops_history_moves_to_another_storage_and_twice_adds_nothing(
    store: Storage, tmp_path: Path
) -> None:
    """history() → restore() elsewhere: the same transcripts, tickets and sessions; restored again,
    nothing is added; another shop's data and what came before `since` stay behind."""
    run(store.record(TurnWrite(turn=turn("a", 1, "在吗"), session=Session(key="a", turns=1, updated_at=1.0))))
    run(store.record(TurnWrite(turn=turn("a", 2, "转人工"), session=Session(key="a", turns=2, handed_off=True, updated_at=2.0),
                               ticket=ticket("a", at=2.0))))  # fmt: skip
    run(store.record(TurnWrite(turn=turn("b", 1, shop="tea"), session=Session(key="b", shop="tea", turns=1))))
    history = run(store.history("default"))
    assert (["在吗", "转人工"], 1, ["a"]) == ([t.message for t in history.turns], len(history.tickets),
                                           [s.key for s in history.sessions])  # fmt: skip
    assert ["转人工"] == [t.message for t in run(store.history("default", since=2.0)).turns]
    other = SQLiteStore(tmp_path / "other.db")
    done = run(other.restore(history))
    assert (2, 1, 1, 0) == (done.turns, done.tickets, done.sessions, done.skipped)
    assert ["在吗", "转人工"] == [t.message for t in run(other.transcript("default", "a"))]
    assert run(other.session("default", "a")).handed_off  # type: ignore[union-attr]
    assert "asked_for_person" == run(other.open_ticket("default", "a")).reason  # type: ignore[union-attr]
    again = run(store.restore(history))
    assert (0, 0, 0, 3) == (again.turns, again.tickets, again.sessions, again.skipped)
    assert 2 == len(run(store.transcript("default", "a")))


def event(kind: str = "ticket.opened", shop: str = "default", ticket_id: int = 1) -> Any:
    from bot.model import Event, EventKind

    return Event(
        kind=EventKind(kind), shop=shop, session_id="s", at=1.0, ticket_id=ticket_id, data={"text": "在吗"}
    )


def test_events_reach_listeners_in_order_and_a_listener_resumes_after_the_last_it_saw(store: Storage) -> None:
    """A listener that comes back with the last id it saw gets what happened meanwhile, in order,
    and only its shop's; a new listener gets only what happens from now on."""

    async def scenario() -> tuple[list[Any], list[Any], Any]:
        before = await store.events.publish(event(ticket_id=1))
        missed = [
            await store.events.publish(event(kind=k, ticket_id=2))
            for k in ("ticket.claimed", "ticket.closed")
        ]
        await store.events.publish(event(shop="other", ticket_id=9))
        resumed = store.events.follow("default", after=before.id)
        got = [await asyncio.wait_for(anext(resumed), 5) for _ in range(2)]
        fresh = store.events.follow("default")
        first_new = asyncio.ensure_future(anext(fresh))
        await asyncio.sleep(0.3)  # the new listener is listening
        latest = await store.events.publish(event(kind="buyer.message", ticket_id=3))
        heard = await asyncio.wait_for(first_new, 5)
        await resumed.aclose()
        await fresh.aclose()
        return missed, got, (latest, heard)

    missed, got, (latest, heard) = run(scenario())
    assert [(e.id, e.kind, e.ticket_id) for e in missed] == [(e.id, e.kind, e.ticket_id) for e in got]
    assert got[0].data == {"text": "在吗"} and got[0].shop == "default"
    assert (heard.id, heard.kind) == (latest.id, latest.kind)


def test_an_event_published_on_one_replica_is_heard_on_another(postgres_url: str, redis_url: str) -> None:
    one, two = (RedisFront(postgres.PostgresStore(postgres_url), redis_url, 60) for _ in range(2))

    async def scenario() -> tuple[Any, Any]:
        mark = await one.events.publish(event(ticket_id=1))
        sent = await one.events.publish(event(kind="ticket.claimed", ticket_id=1))
        listener = two.events.follow(None, after=mark.id)
        heard = await asyncio.wait_for(anext(listener), 5)
        await listener.aclose()
        return sent, heard

    sent, heard = run(scenario())
    assert (sent.id, sent.kind, sent.session_id) == (heard.id, heard.kind, heard.session_id)
    for front in (one, two):
        run(front.disconnect())


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_every_worker_on_one_storage_hears_every_event_and_a_restart_loses_none(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two workers (two stores on one SQLite file, or two replicas on one PostgreSQL without Redis):
    what one publishes the other's listeners hear, in order; a worker started afresh resumes from
    the last id a listener saw, because the events are in the storage, not in a process."""

    def opened() -> Storage:
        if kind == "sqlite":
            return SQLiteStore(tmp_path / "bot.db")
        return postgres.PostgresStore(request.getfixturevalue("postgres_url"))

    one, two = opened(), opened()

    async def scenario() -> tuple[list[Any], list[Any], list[Any]]:
        listener = two.events.follow("default")
        first = asyncio.ensure_future(anext(listener))
        await asyncio.sleep(0.3)  # listening
        sent = [
            await one.events.publish(event(kind=k, ticket_id=7)) for k in ("ticket.opened", "ticket.claimed")
        ]
        heard = [await asyncio.wait_for(first, 5), await asyncio.wait_for(anext(listener), 5)]
        await listener.aclose()
        missed = await one.events.publish(event(kind="ticket.closed", ticket_id=7))
        restarted = opened()
        resumed = restarted.events.follow("default", after=heard[-1].id)
        again = [await asyncio.wait_for(anext(resumed), 5)]
        await resumed.aclose()
        for store in (one, two, restarted):
            await store.disconnect()
        return sent, heard, [missed, *again]

    sent, heard, (missed, *again) = run(scenario())
    assert [(e.id, e.kind) for e in sent] == [(e.id, e.kind) for e in heard]
    assert [(missed.id, missed.kind, missed.data)] == [(e.id, e.kind, e.data) for e in again]


def test_an_admins_verdict_on_a_mined_question_is_kept_per_shop_and_the_latest_wins(store: Storage) -> None:
    """`bot mine` and the dashboard read what was decided; deciding again replaces the verdict."""
    run(store.review(Review(shop="default", key="w:面料", verdict=Verdict.IGNORED, by="小美", at=5.0)))
    run(store.review(Review(shop="other", key="w:面料", verdict=Verdict.IGNORED, by="阿强", at=6.0)))
    run(store.review(Review(shop="default", key="w:面料", verdict=Verdict.ACCEPTED, by="阿强", at=9.0)))
    run(store.review(Review(shop="default", key="s:哈哈哈", verdict=Verdict.IGNORED, by="小美", at=7.0)))
    assert [("s:哈哈哈", Verdict.IGNORED, "小美", 7.0), ("w:面料", Verdict.ACCEPTED, "阿强", 9.0)] == [
        (r.key, r.verdict, r.by, r.at) for r in run(store.reviews("default"))
    ]
    assert ["阿强"] == [r.by for r in run(store.reviews("other"))]
    assert [] == run(store.reviews("nobody"))


def test_a_buyers_conversation_is_erased_whole_and_old_ones_are_purged(store: Storage) -> None:
    """Erasure takes the session, every turn, its tickets and the events about it, and nothing of
    another buyer's; a purge takes what nobody has spoken in since the day given."""
    from bot.model import Event, EventKind

    run(store.record(TurnWrite(turn=turn("gone", 1), session=Session(key="gone", turns=1, updated_at=1.0),
                               ticket=ticket("gone"))))  # fmt: skip
    run(store.record(TurnWrite(turn=turn("kept", 1), session=Session(key="kept", turns=1, updated_at=1.0))))
    run(store.events.publish(Event(kind=EventKind.BUYER_MESSAGE, shop="default", session_id="gone", at=1.0,
                                   data={"text": "我的电话13812345678"})))  # fmt: skip
    run(store.events.publish(Event(kind=EventKind.BUYER_MESSAGE, shop="default", session_id="kept", at=1.0,
                                   data={"text": "别人的"})))  # fmt: skip
    erased = run(store.erase("default", "gone"))
    assert (1, 1, 1, 1) == (erased.sessions, erased.turns, erased.tickets, erased.events)
    assert run(store.session("default", "gone")) is None and [] == run(store.transcript("default", "gone"))
    assert run(store.open_ticket("default", "gone")) is None
    assert ["在吗"] == [t.message for t in run(store.transcript("default", "kept"))]
    assert 0 == run(store.erase("default", "gone")).turns  # twice: nothing left

    late = TurnRecord(session_id="new", shop="default", turn=1, at=500.0, message="新", reply="亲", action=Action.ANSWER)
    run(store.record(TurnWrite(turn=late, session=Session(key="new", turns=1, updated_at=500.0))))
    purged = run(store.purge(100.0))
    assert (1, 1, 1) == (purged.sessions, purged.turns, purged.events)
    assert [] == run(store.transcript("default", "kept")) and run(store.session("default", "kept")) is None
    assert ["新"] == [t.message for t in run(store.transcript("default", "new"))]
