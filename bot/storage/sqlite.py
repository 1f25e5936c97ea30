"""The embedded default `Store`: one SQLite file in WAL mode, created on first use.

A turn, the session after it and its ticket are written in one transaction, committed (and synced,
with `synchronous=FULL`) before the reply is returned: a killed process never loses an acknowledged
turn. Each thread has its own connection; WAL lets readers go on while one writer commits.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot.model import Action, HandoffReason, Session, Ticket, TicketStatus, TurnRecord
from bot.storage import TurnConflict
from bot.storage.order import by_priority

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
    order_number TEXT
);
CREATE INDEX IF NOT EXISTS tickets_by_session ON tickets (session_id, status);
CREATE INDEX IF NOT EXISTS tickets_by_status ON tickets (status, created_at);
"""


class SQLiteStore:
    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self._synchronous = synchronous
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = False
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            db.executescript(_SCHEMA)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(tickets)")}
            for name, kind in (("left_messages", "TEXT NOT NULL DEFAULT '[]'"), ("order_number", "TEXT")):
                if name not in columns:  # a database written by an older version
                    db.execute(f"ALTER TABLE tickets ADD COLUMN {name} {kind}")

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
        # One writer at a time in this process: threads queue on a lock instead of meeting SQLite's
        # busy handler, which sleeps (milliseconds) while another connection holds the write lock.
        with self._write_lock, self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def session(self, key: str) -> Session | None:
        with self._connection() as db:
            row = db.execute("SELECT state FROM sessions WHERE key = ?", (key,)).fetchone()
        return _session(key, json.loads(row["state"])) if row else None

    def record(self, turn: TurnRecord, session: Session, ticket: Ticket | None) -> tuple[int, int | None]:
        """Group commit: turns recorded at the same time share one transaction and one fsync. The first
        caller to find no writer becomes it and commits everything queued until the queue is empty;
        every caller returns only after the commit that holds its turn."""
        pending = _Pending(turn, session, ticket)
        with self._queue_lock:
            self._queue.append(pending)
            lead = not self._leading
            self._leading = True
        while lead:
            with self._queue_lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._leading = False
                    break
            self._commit(batch)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            with self._transaction() as db:
                for item in batch:
                    db.execute("SAVEPOINT turn")
                    try:
                        item.result = self._write(db, item.turn, item.session, item.ticket)
                    except sqlite3.IntegrityError:
                        db.execute("ROLLBACK TO turn")
                        item.error = TurnConflict(item.turn.session_id)
                    db.execute("RELEASE turn")
        except Exception as exc:  # the commit itself failed: no turn of the batch is stored
            for item in batch:
                item.result, item.error = None, exc
        for item in batch:
            item.done.set()

    @staticmethod
    def _write(
        db: sqlite3.Connection, turn: TurnRecord, session: Session, ticket: Ticket | None
    ) -> tuple[int, int | None]:
        cursor = db.execute(
            "INSERT INTO turns (session_id, turn, at, buyer_id, shop_id, message, reply, action, intent,"
            " confidence, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                turn.session_id, turn.turn, turn.at, turn.buyer_id, turn.shop_id, turn.message,
                turn.reply, turn.action.value, turn.intent, turn.confidence,
                turn.reason.value if turn.reason else None,
            ),
        )  # fmt: skip
        turn_id = int(cursor.lastrowid or 0)
        db.execute(
            "INSERT INTO sessions (key, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
            " SET state = excluded.state, updated_at = excluded.updated_at",
            (session.key, json.dumps(_state(session), ensure_ascii=False), session.updated_at),
        )
        ticket_id = None
        if ticket is not None:
            cursor = db.execute(
                "INSERT INTO tickets (session_id, buyer_id, reason, priority, status, created_at, order_number)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ticket.session_id, ticket.buyer_id, ticket.reason.value, ticket.priority,
                 ticket.status.value, ticket.created_at, ticket.order_number),
            )  # fmt: skip
            ticket_id = int(cursor.lastrowid or 0)
        return turn_id, ticket_id

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

    def leave_message(self, ticket_id: int, text: str) -> None:
        with self._transaction() as db:
            row = db.execute("SELECT left_messages FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
            if row is None:
                raise KeyError(ticket_id)
            left = [*json.loads(row["left_messages"]), text]
            db.execute(
                "UPDATE tickets SET left_messages = ? WHERE id = ?",
                (json.dumps(left, ensure_ascii=False), ticket_id),
            )

    def ping(self) -> None:
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")  # takes the write lock: fails when the file is not writable
            db.execute("ROLLBACK")


class _Pending:
    """One turn waiting for the group commit that stores it."""

    def __init__(self, turn: TurnRecord, session: Session, ticket: Ticket | None) -> None:
        self.turn, self.session, self.ticket = turn, session, ticket
        self.done = threading.Event()
        self.result: tuple[int, int | None] | None = None
        self.error: Exception | None = None


def _state(session: Session) -> dict[str, Any]:
    return {
        "turns": session.turns,
        "last_intent": session.last_intent,
        "misses": session.misses,
        "slots": dict(session.slots),
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
    )


def _ticket(row: sqlite3.Row) -> Ticket:
    return Ticket(
        id=row["id"],
        session_id=row["session_id"],
        buyer_id=row["buyer_id"],
        reason=HandoffReason(row["reason"]),
        priority=row["priority"],
        status=TicketStatus(row["status"]),
        created_at=row["created_at"],
        claimed_by=row["claimed_by"],
        claimed_at=row["claimed_at"],
        closed_at=row["closed_at"],
        note=row["note"],
        left_messages=tuple(json.loads(row["left_messages"])),
        order_number=row["order_number"],
    )
