"""The embedded default `Store`: one SQLite file in WAL mode, created on first use.

A turn, the session after it and its ticket are written in one transaction, committed (and synced,
with `synchronous=FULL`) before the reply is returned: a killed process never loses an acknowledged
turn. Each thread has its own connection; WAL lets readers go on while one writer commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot.model import (
    Action,
    DialogueState,
    HandoffReason,
    Priority,
    Session,
    Ticket,
    TicketStatus,
    TurnRecord,
)
from bot.storage import TurnConflict
from bot.storage.order import by_priority
from bot.storage.shared import SharedFile

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    at REAL NOT NULL,
    buyer_id TEXT,
    shop_id TEXT,
    message TEXT NOT NULL,
    reply TEXT NOT NULL,
    action TEXT NOT NULL,
    intent TEXT,
    confidence REAL NOT NULL,
    reason TEXT,
    topic TEXT,
    UNIQUE (session_id, turn)
);
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    buyer_id TEXT,
    reason TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    claimed_by TEXT,
    claimed_at REAL,
    closed_at REAL,
    note TEXT,
    left_messages TEXT NOT NULL DEFAULT '[]',
    order_number TEXT,
    questions TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS tickets_by_session ON tickets (session_id, status);
CREATE INDEX IF NOT EXISTS tickets_by_status ON tickets (status, created_at);
"""


# Rows per INSERT: 12 values a turn stays far below SQLite's limit of 32766 variables.
_ROWS_PER_STATEMENT = 500


class SQLiteStore:
    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self._synchronous = synchronous
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Write] = []  # turns of threads waiting for the commit under way
        self._leading = False
        self._pending: dict[asyncio.AbstractEventLoop, list[_Write]] = {}  # turns of a loop's turn
        self._shared = SharedFile(path.with_name(path.name + ".shared"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            db.executescript(_SCHEMA)
            added = {
                "tickets": (
                    ("left_messages", "TEXT NOT NULL DEFAULT '[]'"),
                    ("order_number", "TEXT"),
                    ("questions", "TEXT NOT NULL DEFAULT '[]'"),
                ),
                "turns": (("topic", "TEXT"),),
            }
            for table, wanted in added.items():
                columns = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
                for name, kind in wanted:
                    if name not in columns:  # a database written by an older version
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self._synchronous}")
        db.execute("PRAGMA busy_timeout=10000")
        return db

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        yield db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # One writer at a time: threads of this process queue on a lock, processes on a file lock,
        # instead of meeting SQLite's busy handler, which sleeps while another one writes.
        with self._write_lock, self._shared.lock(), self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def turn_hint(self, key: str) -> int | None:
        try:
            return self._shared.turn(key)
        except (OSError, ValueError):
            return None

    def session(self, key: str) -> Session | None:
        with self._connection() as db:
            row = db.execute("SELECT state FROM sessions WHERE key = ?", (key,)).fetchone()
        return _session(key, json.loads(row["state"])) if row else None

    def submit(
        self, turn: TurnRecord, session: Session, ticket: Ticket | None = None, left_on: int | None = None
    ) -> Future[tuple[int, int | None]]:
        """Group commit on an event loop: the turns submitted during one turn of the loop are stored
        together right after it, in one transaction with one fsync, on the loop itself. Under load a
        turn of the loop holds many of them. (A writer thread was measured slower: every hand-off
        between it and the loop is a turn of the GIL, and they cost more than the fsync it hides.)
        Without a running loop this is `record`, done by the time it returns."""
        write = _Write(turn, session, ticket, left_on)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._commit_as_leader(write)
            return write.future
        pending = self._pending.setdefault(loop, [])
        pending.append(write)
        if len(pending) == 1:
            loop.call_soon(self._commit_pending, loop)
        return write.future

    def record(
        self, turn: TurnRecord, session: Session, ticket: Ticket | None = None, left_on: int | None = None
    ) -> tuple[int, int | None]:
        """Group commit for threads: the first caller with no commit under way commits every turn
        queued until there are none left; each caller returns once its own turn is stored."""
        write = _Write(turn, session, ticket, left_on)
        self._commit_as_leader(write)
        return write.future.result()

    def _commit_pending(self, loop: asyncio.AbstractEventLoop) -> None:
        self._commit(self._pending.pop(loop, []))

    def _commit_as_leader(self, write: _Write) -> None:
        with self._queue_lock:
            self._queue.append(write)
            lead = not self._leading
            self._leading = True
        while lead:
            with self._queue_lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._leading = False
                    break
            self._commit(batch)
        write.future.exception()  # wait until the leader has stored it (or failed to)

    def _commit(self, batch: list[_Write]) -> None:
        results: list[tuple[int, int | None] | Exception]
        try:
            try:
                with self._transaction() as db:
                    results = [*self._write_all(db, batch)]
            except sqlite3.IntegrityError:  # another process wrote one of these turns first
                with self._transaction() as db:
                    results = [self._write_or_conflict(db, item) for item in batch]
        except Exception as exc:  # the commit itself failed: no write of the batch is stored
            results = [exc] * len(batch)
        with contextlib.suppress(OSError, ValueError):  # only a hint: the futures must be resolved
            self._shared.reached(
                (item.turn.session_id, item.turn.turn)
                for item, result in zip(batch, results, strict=True)
                if not isinstance(result, Exception)
            )
        for item, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)

    def _write_or_conflict(self, db: sqlite3.Connection, item: _Write) -> tuple[int, int | None] | Exception:
        db.execute("SAVEPOINT turn")
        try:
            return self._write_all(db, [item])[0]
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK TO turn")
            return TurnConflict(item.turn.session_id)
        finally:
            db.execute("RELEASE turn")

    @staticmethod
    def _write_all(db: sqlite3.Connection, batch: list[_Write]) -> list[tuple[int, int | None]]:
        """A batch in a few statements, not a few per turn: each statement hands Python's GIL to the
        event loop and waits to get it back, so their number, not their size, is what costs."""
        ids: list[tuple[int, int | None]] = []
        for start in range(0, len(batch), _ROWS_PER_STATEMENT):
            chunk = batch[start : start + _ROWS_PER_STATEMENT]
            cursor = db.execute(
                "INSERT INTO turns (session_id, turn, at, buyer_id, shop_id, message, reply, action, intent,"
                " confidence, reason, topic) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
                [value for item in chunk for value in item.turn_row],
            )
            # One INSERT gives its rows consecutive ids (AUTOINCREMENT, and we hold the write lock).
            first = int(cursor.lastrowid or 0) - len(chunk) + 1
            db.execute(
                "INSERT INTO sessions (key, state, updated_at) VALUES "
                + ", ".join(["(?, ?, ?)"] * len(chunk))
                + " ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                [value for item in chunk for value in item.session_row],
            )
            for offset, item in enumerate(chunk):
                ids.append((first + offset, _ticket_and_left_message(db, item)))
        return ids

    def transcript(self, session_id: str) -> list[TurnRecord]:
        with self._connection() as db:
            rows = db.execute(
                "SELECT * FROM turns WHERE session_id = ? ORDER BY turn", (session_id,)
            ).fetchall()
        return [_turn(row) for row in rows]

    def open_ticket(self, session_id: str) -> Ticket | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT * FROM tickets WHERE session_id = ? AND status != 'closed' ORDER BY id LIMIT 1",
                (session_id,),
            ).fetchone()
        return _ticket(row) if row else None

    def tickets(self, status: TicketStatus | None = None) -> list[Ticket]:
        with self._connection() as db:
            if status is None:
                rows = db.execute("SELECT * FROM tickets").fetchall()
            else:
                rows = db.execute("SELECT * FROM tickets WHERE status = ?", (status.value,)).fetchall()
        return by_priority(_ticket(row) for row in rows)

    def ticket(self, ticket_id: int) -> Ticket | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return _ticket(row) if row else None

    def claim(self, ticket_id: int, agent: str, at: float) -> Ticket:
        with self._transaction() as db:
            row = db.execute("SELECT status FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
            if row is None:
                raise KeyError(ticket_id)
            if row["status"] == TicketStatus.CLOSED.value:
                raise ValueError("closed")
            db.execute(
                "UPDATE tickets SET status = 'claimed', claimed_by = ?, claimed_at = ? WHERE id = ?",
                (agent, at, ticket_id),
            )
        return self._existing(ticket_id)

    def close(self, ticket_id: int, at: float, note: str | None = None) -> Ticket:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE tickets SET status = 'closed', closed_at = ?, note = ? WHERE id = ?",
                (at, note, ticket_id),
            )
            if cursor.rowcount == 0:
                raise KeyError(ticket_id)
        return self._existing(ticket_id)

    def _existing(self, ticket_id: int) -> Ticket:
        ticket = self.ticket(ticket_id)
        if ticket is None:  # pragma: no cover - written in the same call
            raise KeyError(ticket_id)
        return ticket

    def ping(self) -> None:
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")  # takes the write lock: fails when the file is not writable
            db.execute("ROLLBACK")


def _turn_row(turn: TurnRecord) -> tuple[Any, ...]:
    return (
        turn.session_id, turn.turn, turn.at, turn.buyer_id, turn.shop_id, turn.message, turn.reply,
        turn.action.value, turn.intent, turn.confidence, turn.reason.value if turn.reason else None,
        turn.topic,
    )  # fmt: skip


def _session_row(session: Session) -> tuple[Any, ...]:
    return session.key, json.dumps(_state(session), ensure_ascii=False), session.updated_at


def _ticket_and_left_message(db: sqlite3.Connection, item: _Write) -> int | None:
    """The rare parts of a write: a new ticket (its id), the message left for a held ticket."""
    ticket_id = None
    if (ticket := item.ticket) is not None:
        cursor = db.execute(
            "INSERT INTO tickets (session_id, buyer_id, reason, priority, status, created_at, order_number,"
            " questions) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (ticket.session_id, ticket.buyer_id, ticket.reason.value, ticket.priority, ticket.status.value,
             ticket.created_at, ticket.order_number, json.dumps(list(ticket.questions), ensure_ascii=False)),
        )  # fmt: skip
        ticket_id = int(cursor.lastrowid or 0)
    if item.left_on is not None:
        db.execute(
            "UPDATE tickets SET left_messages = json_insert(left_messages, '$[#]', ?) WHERE id = ?",
            (item.turn.message, item.left_on),
        )
    return ticket_id


class _Write:
    """One turn waiting for the group commit that stores it, with its rows."""

    __slots__ = ("future", "left_on", "session_row", "ticket", "turn", "turn_row")

    def __init__(
        self, turn: TurnRecord, session: Session, ticket: Ticket | None, left_on: int | None
    ) -> None:
        self.turn, self.ticket, self.left_on = turn, ticket, left_on
        self.turn_row, self.session_row = _turn_row(turn), _session_row(session)
        self.future: Future[tuple[int, int | None]] = Future()


def _state(session: Session) -> dict[str, Any]:
    return {
        "turns": session.turns,
        "last_intent": session.last_intent,
        "misses": session.misses,
        "slots": dict(session.slots),
        "state": session.state.to_dict(),
        "handed_off": session.handed_off,
        "updated_at": session.updated_at,
    }


def _session(key: str, state: dict[str, Any]) -> Session:
    return Session(
        key=key,
        turns=int(state["turns"]),
        last_intent=state.get("last_intent"),
        misses=int(state.get("misses", 0)),
        slots=MappingProxyType(dict(state.get("slots", {}))),
        state=DialogueState.from_dict(state.get("state") or {}),
        handed_off=bool(state.get("handed_off", False)),
        updated_at=float(state.get("updated_at", 0.0)),
    )


def _turn(row: sqlite3.Row) -> TurnRecord:
    return TurnRecord(
        id=row["id"],
        session_id=row["session_id"],
        turn=row["turn"],
        at=row["at"],
        buyer_id=row["buyer_id"],
        shop_id=row["shop_id"],
        message=row["message"],
        reply=row["reply"],
        action=Action(row["action"]),
        intent=row["intent"],
        confidence=row["confidence"],
        reason=HandoffReason(row["reason"]) if row["reason"] else None,
        topic=row["topic"],
    )


def _ticket(row: sqlite3.Row) -> Ticket:
    return Ticket(
        id=row["id"],
        session_id=row["session_id"],
        buyer_id=row["buyer_id"],
        reason=HandoffReason(row["reason"]),
        priority=Priority(row["priority"]),
        status=TicketStatus(row["status"]),
        created_at=row["created_at"],
        claimed_by=row["claimed_by"],
        claimed_at=row["claimed_at"],
        closed_at=row["closed_at"],
        note=row["note"],
        left_messages=tuple(json.loads(row["left_messages"])),
        questions=tuple(json.loads(row["questions"])),
        order_number=row["order_number"],
    )


def from_url(url: str, root: Path) -> SQLiteStore:
    from bot.storage.urls import sqlite_path

    return SQLiteStore(sqlite_path(url, root))
