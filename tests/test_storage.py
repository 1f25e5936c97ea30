"""Every store keeps the same promises: the in-memory one used in tests and the SQLite default."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from pathlib import Path

import pytest

from bot.model import Action, HandoffReason, Session, Ticket, TicketStatus, TurnRecord
from bot.storage import Store, TurnConflict
from bot.storage.memory import MemoryStore
from bot.storage.sqlite import SQLiteStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "sub" / "bot.db")


def turn(session: str, n: int, message: str = "在吗") -> TurnRecord:
    return TurnRecord(
        session_id=session, turn=n, at=float(n), message=message, reply="亲", action=Action.ANSWER
    )


def ticket(session: str, priority: str = "normal", at: float = 1.0) -> Ticket:
    return Ticket(session_id=session, reason=HandoffReason.ASKED_FOR_PERSON, priority=priority, created_at=at)


def test_turn_session_and_ticket_are_written_together(store: Store) -> None:
    after = Session(key="s", turns=1, misses=1, slots={"choice.1": "invoice"}, updated_at=5.0)
    turn_id, ticket_id = store.record(turn("s", 1), after, ticket("s"))
    assert turn_id >= 1 and ticket_id is not None
    assert after == store.session("s")
    assert ["在吗"] == [t.message for t in store.transcript("s")]
    assert TicketStatus.OPEN == store.open_ticket("s").status  # type: ignore[union-attr]


def test_the_same_turn_twice_is_a_conflict_and_changes_nothing(store: Store) -> None:
    store.record(turn("s", 1, "一"), Session(key="s", turns=1), None)
    with pytest.raises(TurnConflict):
        store.record(turn("s", 1, "二"), Session(key="s", turns=1, misses=3), ticket("s"))
    assert ["一"] == [t.message for t in store.transcript("s")]
    assert 0 == store.session("s").misses  # type: ignore[union-attr]
    assert store.open_ticket("s") is None


def test_queue_order_claim_and_close(store: Store) -> None:
    _, first = store.record(turn("a", 1), Session(key="a", turns=1), ticket("a", "normal", at=1.0))
    _, second = store.record(turn("b", 1), Session(key="b", turns=1), ticket("b", "high", at=2.0))
    assert [second, first] == [t.id for t in store.tickets()]
    claimed = store.claim(first or 0, "小美", 3.0)
    assert (TicketStatus.CLAIMED, "小美") == (claimed.status, claimed.claimed_by)
    assert [second] == [t.id for t in store.tickets(TicketStatus.OPEN)]
    store.close(first or 0, 4.0, "已退款")
    assert store.open_ticket("a") is None
    with pytest.raises(ValueError):
        store.claim(first or 0, "x", 5.0)
    with pytest.raises(KeyError):
        store.close(999, 5.0)


def test_sqlite_data_outlives_the_store_object(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    SQLiteStore(path).record(turn("s", 1), Session(key="s", turns=1), ticket("s"))
    again = SQLiteStore(path)
    assert 1 == len(again.transcript("s")) and again.open_ticket("s") is not None
    again.ping()


def test_one_batch_stores_each_turn_under_its_own_id_and_conflicts_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "bot.db")
    committed: list[int] = []
    commit = store._commit
    store._commit = lambda batch: (committed.append(len(batch)), commit(batch))[1]  # type: ignore[method-assign]

    async def one_turn_of_the_loop() -> list[Future[tuple[int, int | None]]]:
        futures = [
            store.submit(turn(f"s{i}", 1, f"第{i}句"), Session(key=f"s{i}", turns=1)) for i in range(30)
        ]
        futures.append(store.submit(turn("s7", 1, "又一句"), Session(key="s7", turns=1, misses=2)))
        futures.append(store.submit(turn("t", 1), Session(key="t", turns=1), ticket("t")))
        await asyncio.sleep(0)  # the loop turns: everything submitted above is committed together
        return futures

    *futures, twice, with_ticket = asyncio.run(one_turn_of_the_loop())
    assert [32] == committed
    with pytest.raises(TurnConflict):
        twice.result(timeout=10)
    for i, future in enumerate(futures):
        turn_id, _ = future.result(timeout=10)
        assert [(turn_id, f"第{i}句")] == [(t.id, t.message) for t in store.transcript(f"s{i}")]
    assert 0 == store.session("s7").misses  # type: ignore[union-attr]
    _, ticket_id = with_ticket.result(timeout=10)
    assert ticket_id == store.open_ticket("t").id  # type: ignore[union-attr]


def test_processes_sharing_a_database_see_the_turn_each_session_reached(tmp_path: Path) -> None:
    one, other = SQLiteStore(tmp_path / "bot.db"), SQLiteStore(tmp_path / "bot.db")
    assert other.turn_hint("s") is None
    one.record(turn("s", 1), Session(key="s", turns=1))
    one.record(turn("s", 2), Session(key="s", turns=2))
    assert (2, None) == (other.turn_hint("s"), other.turn_hint("t"))
