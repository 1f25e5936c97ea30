"""The embedded default `Storage`: one SQLite file in WAL mode, created on first use.

A turn, the session after it and its ticket are written in one transaction, committed and synced
to the disk before the reply is returned: a killed process, or the machine losing power, never loses
an acknowledged turn. Every write of one turn of the event loop goes into one transaction (group
commit); the sync runs off the loop (`bot.storage.durable`), and one covers every commit before it.
Processes sharing the file (workers, replicas on one machine) coordinate through a small file beside
it (`bot.storage.shared`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import Any

from bot.model import (
    DEFAULT_SHOP,
    Agent,
    ApiKey,
    Event,
    Review,
    Session,
    Ticket,
    TicketStatus,
    TurnRecord,
)
from bot.storage import (
    UNLOCKED,
    WAIT_SECONDS,
    AgentExists,
    Erased,
    History,
    KeyExists,
    Restored,
    StorageUnavailable,
    TicketMove,
    TicketMoved,
    TurnConflict,
    TurnWrite,
    UnknownTicket,
    Written,
)
from bot.storage.durable import CHECKPOINT_BYTES, Syncer
from bot.storage.events import KEEP, LoggedEvents, from_json, to_json
from bot.storage.order import by_priority
from bot.storage.rows import (
    ERASE_SESSION,
    HEALTH_WRITE,
    PURGE_BEFORE,
    REVIEW_UPSERT,
    TICKET_COLUMNS,
    TURN_COLUMNS,
    agent_from,
    key_from,
    review_from,
    review_values,
    session_from,
    session_pattern,
    state_of,
    ticket_from,
    ticket_values,
    turn_from,
    turn_values,
)
from bot.storage.shared import Locked, SharedFile

# How long a write made on the event loop may wait for the write lock (another process's commit
# holds it for a few ms), and SQLite for its own busy lock (a writer from outside): the loop never
# freezes behind a lock; past these, the write fails with StorageUnavailable (503 with Retry-After).
# The group commit of turns waits without holding the loop, trying again until WAIT_SECONDS.
LOOP_LOCK_SECONDS = 0.05
_RETRY_EVERY = 0.002

# 2: every row belongs to a shop (sessions, turns and tickets are keyed by (shop, session)).
SCHEMA_VERSION = 8
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    shop TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (shop, key)
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    shop TEXT NOT NULL,
    session_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    at REAL NOT NULL,
    buyer_id TEXT,
    message TEXT NOT NULL,
    reply TEXT NOT NULL,
    action TEXT NOT NULL,
    intent TEXT,
    confidence REAL NOT NULL,
    reason TEXT,
    topic TEXT,
    message_id TEXT,
    agent TEXT,
    UNIQUE (shop, session_id, turn)
);
CREATE UNIQUE INDEX IF NOT EXISTS turns_by_message ON turns (shop, session_id, message_id)
    WHERE message_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    shop TEXT NOT NULL,
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
CREATE TABLE IF NOT EXISTS agents (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    admin INTEGER NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS agents_by_name ON agents (name) WHERE revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS keys (
    token_hash TEXT PRIMARY KEY,
    shop TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS keys_by_name ON keys (shop, name) WHERE revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    shop TEXT NOT NULL,
    at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reviews (
    shop TEXT NOT NULL,
    key TEXT NOT NULL,
    verdict TEXT NOT NULL,
    by_agent TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (shop, key)
);
CREATE TABLE IF NOT EXISTS health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_by_session ON tickets (shop, session_id, status);
CREATE INDEX IF NOT EXISTS tickets_by_status ON tickets (shop, status, created_at);
"""
# Columns added to version 1 files over time, before they are copied into version 2 tables.
_ADDED_IN_V1 = {
    "tickets": (
        ("left_messages", "TEXT NOT NULL DEFAULT '[]'"),
        ("order_number", "TEXT"),
        ("questions", "TEXT NOT NULL DEFAULT '[]'"),
    ),
    "turns": (("topic", "TEXT"),),
}
# Added in version 3 the caller's id of a message (a retry is not a second turn), in 4 who wrote an agent's turn.
_ADDED_SINCE_V2 = (("turns", "message_id", "TEXT"), ("turns", "agent", "TEXT"))  # versions 3 and 4
# Version 1's columns, the same as version 2's after the shop.
_V1_TURN_COLUMNS = ", ".join(c for c in TURN_COLUMNS[1:] if c not in ("message_id", "agent"))
_V1_TICKET_COLUMNS = ", ".join(TICKET_COLUMNS[1:])
_TURN_ROW = f"({', '.join('?' * len(TURN_COLUMNS))})"
_TURNS = f"turns ({', '.join(TURN_COLUMNS)}) VALUES "
_INSERT_TICKET = (
    f"INSERT INTO tickets ({', '.join(TICKET_COLUMNS)}) VALUES ({', '.join('?' * len(TICKET_COLUMNS))})"
)

# Rows per INSERT: 12 values a turn stays far below SQLite's limit of 32766 variables.
_ROWS_PER_STATEMENT = 500
# Sessions kept in memory after this process wrote them: a turn starts without reading the file.
RECENT_SESSIONS = 20_000


class SQLiteStore:
    """Every protocol of `bot.storage` over one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.events = LoggedEvents(_EventTable(self))  # every worker on the file hears every event
        self.path = path
        self._syncer = Syncer(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Write]] = {}  # writes of a loop's turn
        self._recent: OrderedDict[tuple[str, str], Session] = OrderedDict()
        self._shared = SharedFile(path.with_name(path.name + ".shared"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction(wait=None) as db:
            _migrate(db)
        self._syncer.sync_now()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=LOOP_LOCK_SECONDS, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # commits do not sync; the Syncer does, off the loop
        db.execute("PRAGMA wal_autocheckpoint=0")  # nor checkpoint: the Syncer does that too
        db.execute(f"PRAGMA journal_size_limit={CHECKPOINT_BYTES}")
        db.execute(f"PRAGMA busy_timeout={int(LOOP_LOCK_SECONDS * 1000)}")
        return db

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection; the file out of reach (locked too long, disk full or gone,
        read-only) is `StorageUnavailable`."""
        try:
            db = getattr(self._local, "db", None)
            if db is None:
                db = self._local.db = self._connect()
            yield db
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            raise (_Busy if busy else StorageUnavailable)(f"SQLite: {exc}", "sqlite") from exc

    @contextmanager
    def _transaction(self, wait: float | None = LOOP_LOCK_SECONDS) -> Iterator[sqlite3.Connection]:
        """A write transaction. One writer at a time: threads of this process queue on a lock,
        processes on a file lock, instead of meeting SQLite's busy handler, which sleeps while another
        one writes. Neither is waited for longer than `wait` (None: as long as it takes): `_Busy`."""
        if not self._write_lock.acquire(timeout=-1 if wait is None else wait):
            raise _Busy("SQLite: another thread of this process is writing", "sqlite")
        try:
            with self._shared.lock(wait), self._connection() as db:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
        except Locked:
            raise _Busy("SQLite: the database is locked by another process", "sqlite") from None
        finally:
            self._write_lock.release()

    async def session(self, shop: str, session_id: str) -> Session | None:
        """From memory when this process wrote the session last (the shared file says whether
        another process has moved it on since), else from the file."""
        key = (shop, session_id)
        remembered = self._recent.get(key)
        if remembered is not None and self._reached(key) == remembered.turns:
            return remembered
        with self._connection() as db:
            row = db.execute(
                "SELECT state FROM sessions WHERE shop = ? AND key = ?", (shop, session_id)
            ).fetchone()
        return session_from(shop, session_id, json.loads(row["state"])) if row else None

    def _reached(self, key: tuple[str, str]) -> int | None:
        try:
            return self._shared.turn(_shared_key(key))
        except (OSError, ValueError):
            return None

    async def record(self, write: TurnWrite) -> Written:
        """Group commit: the writes recorded during one turn of the event loop are stored together
        right after it, in one transaction on the loop itself; under load a turn of the loop holds
        many of them. (A writer thread for the SQL was measured slower: every hand-off between it and
        the loop is a turn of the GIL.) The reply waits for the sync off the loop, at most
        WAIT_SECONDS: a disk that does not answer is a 503, and the loop serves on."""
        loop = asyncio.get_running_loop()
        item = _Write(write, loop.create_future())
        pending = self._pending.setdefault(loop, [])
        pending.append(item)
        if len(pending) == 1:
            loop.call_soon(self._commit_pending, loop)
        return await item.future

    def _commit_pending(self, loop: asyncio.AbstractEventLoop, since: float | None = None) -> None:
        """Commit the loop's pending writes if the lock is free now; else try again shortly,
        without holding the loop, and give up after WAIT_SECONDS (StorageUnavailable: 503)."""
        batch = self._pending.pop(loop, [])
        if not batch:
            return
        since = time.monotonic() if since is None else since
        try:
            self._commit(loop, batch, wait=0.0)
        except Exception as exc:  # _Busy, or a bug: every future is resolved either way
            if isinstance(exc, _Busy) and time.monotonic() - since < WAIT_SECONDS:
                self._pending.setdefault(loop, [])[:0] = batch  # first in line; writes since join them
                loop.call_later(_RETRY_EVERY, self._commit_pending, loop, since)
                return
            for item in batch:
                self._recent.pop(item.key, None)
                if not item.future.done():
                    item.future.set_exception(exc)

    def _commit(self, loop: asyncio.AbstractEventLoop, batch: list[_Write], wait: float | None = LOOP_LOCK_SECONDS) -> None:
        results: list[Written | Exception]
        try:
            try:
                with self._transaction(wait) as db:
                    results = [*self._write_all(db, batch)]
            except sqlite3.IntegrityError:  # another process wrote one of these turns first
                with self._transaction(wait) as db:
                    results = [self._write_or_conflict(db, item) for item in batch]
        except _Busy:
            raise  # nothing written: the caller decides whether to wait
        except Exception as exc:  # the commit itself failed: no write of the batch is stored
            results = [exc] * len(batch)
        stored = [
            item for item, result in zip(batch, results, strict=True) if not isinstance(result, Exception)
        ]
        with contextlib.suppress(OSError, ValueError):  # only a hint: the futures must be resolved
            self._shared.reached((_shared_key(item.key), item.write.turn.turn) for item in stored)
        written: list[tuple[_Write, Written]] = []
        for item, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                self._recent.pop(item.key, None)  # read it again from the file
                if not item.future.done():
                    item.future.set_exception(result)
            else:
                self._remember(item.key, item.write.session)
                written.append((item, result))
        if written:  # one bound for the batch: a disk that does not answer in time is a 503
            self._syncer.after(loop, functools.partial(_acknowledge, written))
            loop.call_later(WAIT_SECONDS, _acknowledge, written, _NOT_IN_TIME)

    def _remember(self, key: tuple[str, str], session: Session) -> None:
        self._recent[key] = session
        self._recent.move_to_end(key)
        if len(self._recent) > RECENT_SESSIONS:
            self._recent.popitem(last=False)

    def _write_or_conflict(self, db: sqlite3.Connection, item: _Write) -> Written | Exception:
        db.execute("SAVEPOINT turn")
        try:
            return self._write_all(db, [item])[0]
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK TO turn")
            return TurnConflict(item.write.turn.session_id)
        finally:
            db.execute("RELEASE turn")

    @staticmethod
    def _write_all(db: sqlite3.Connection, batch: list[_Write]) -> list[Written]:
        """A batch in a few statements, not a few per turn: each statement hands Python's GIL to the
        event loop and waits to get it back, so their number, not their size, is what costs."""
        written: list[Written] = []
        for start in range(0, len(batch), _ROWS_PER_STATEMENT):
            chunk = batch[start : start + _ROWS_PER_STATEMENT]
            cursor = db.execute(
                "INSERT INTO " + _TURNS + ", ".join([_TURN_ROW] * len(chunk)),
                [value for item in chunk for value in turn_values(item.write.turn)],
            )
            # One INSERT gives its rows consecutive ids (AUTOINCREMENT, and we hold the write lock).
            first = int(cursor.lastrowid or 0) - len(chunk) + 1
            db.execute(
                "INSERT INTO sessions (shop, key, state, updated_at) VALUES "
                + ", ".join(["(?, ?, ?, ?)"] * len(chunk))
                + " ON CONFLICT (shop, key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                [value for item in chunk for value in _session_row(item.write.session)],
            )
            for offset, item in enumerate(chunk):
                written.append(
                    Written(turn_id=first + offset, ticket_id=_ticket_and_left_message(db, item.write))
                )
        return written

    async def transcript(self, shop: str, session_id: str) -> list[TurnRecord]:
        with self._connection() as db:
            rows = db.execute(
                "SELECT * FROM turns WHERE shop = ? AND session_id = ? ORDER BY turn", (shop, session_id)
            ).fetchall()
        return [turn_from(row) for row in rows]

    async def answered(self, shop: str, session_id: str, message_id: str) -> TurnRecord | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT * FROM turns WHERE shop = ? AND session_id = ? AND message_id = ?",
                (shop, session_id, message_id),
            ).fetchone()
        return turn_from(row) if row else None

    async def open_ticket(self, shop: str, session_id: str) -> Ticket | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT * FROM tickets WHERE shop = ? AND session_id = ? AND status != 'closed'"
                " ORDER BY id LIMIT 1",
                (shop, session_id),
            ).fetchone()
        return ticket_from(row) if row else None

    async def tickets(self, shop: str, status: TicketStatus | None = None) -> list[Ticket]:
        with self._connection() as db:
            if status is None:
                rows = db.execute("SELECT * FROM tickets WHERE shop = ?", (shop,)).fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM tickets WHERE shop = ? AND status = ?", (shop, status.value)
                ).fetchall()
        return by_priority(ticket_from(row) for row in rows)

    async def ticket(self, shop: str, ticket_id: int) -> Ticket | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM tickets WHERE shop = ? AND id = ?", (shop, ticket_id)).fetchone()
        return ticket_from(row) if row else None

    async def move_ticket(self, shop: str, ticket_id: int, move: TicketMove) -> Ticket:
        changes = move.changes()
        assigned = ", ".join(f"{column} = ?" for column in changes)
        held = " AND claimed_by = ?" if move.held_by is not None else ""
        allowed = ", ".join("?" * len(move.from_statuses))
        with self._transaction() as db:
            cursor = db.execute(
                f"UPDATE tickets SET {assigned} WHERE shop = ? AND id = ? AND status IN ({allowed}){held}",
                (*changes.values(), shop, ticket_id, *(s.value for s in move.from_statuses),
                 *((move.held_by,) if move.held_by is not None else ())),
            )  # fmt: skip
            moved = cursor.rowcount > 0
        await self._durable()
        ticket = await self._existing(shop, ticket_id)
        if not moved:
            raise TicketMoved(ticket)
        return ticket

    async def _existing(self, shop: str, ticket_id: int) -> Ticket:
        ticket = await self.ticket(shop, ticket_id)
        if ticket is None:  # pragma: no cover - written in the same call
            raise UnknownTicket(ticket_id)
        return ticket

    async def add_agent(self, agent: Agent, token_hash: str) -> None:
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO agents (token_hash, name, admin, created_at) VALUES (?, ?, ?, ?)",
                    (token_hash, agent.name, int(agent.admin), agent.created_at),
                )
        except sqlite3.IntegrityError:
            raise AgentExists(agent.name) from None
        await self._durable()

    async def agent_by_token(self, token_hash: str) -> Agent | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT * FROM agents WHERE token_hash = ? AND revoked_at IS NULL", (token_hash,)
            ).fetchone()
        return agent_from(row) if row else None

    async def revoke_agent(self, name: str, at: float) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE agents SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (at, name)
            )
        await self._durable()
        return cursor.rowcount > 0

    async def agents(self) -> list[Agent]:
        with self._connection() as db:
            rows = db.execute("SELECT * FROM agents WHERE revoked_at IS NULL ORDER BY name").fetchall()
        return [agent_from(row) for row in rows]

    async def add_key(self, key: ApiKey, token_hash: str) -> None:
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO keys (token_hash, shop, name, kind, created_at) VALUES (?, ?, ?, ?, ?)",
                    (token_hash, key.shop, key.name, key.kind.value, key.created_at),
                )
        except sqlite3.IntegrityError:
            raise KeyExists(key.name) from None
        await self._durable()

    async def key_by_token(self, token_hash: str) -> ApiKey | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT * FROM keys WHERE token_hash = ? AND revoked_at IS NULL", (token_hash,)
            ).fetchone()
        return key_from(row) if row else None

    async def revoke_key(self, shop: str, name: str, at: float) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE keys SET revoked_at = ? WHERE shop = ? AND name = ? AND revoked_at IS NULL",
                (at, shop, name),
            )
        await self._durable()
        return cursor.rowcount > 0

    async def keys(self, shop: str | None = None) -> list[ApiKey]:
        with self._connection() as db:
            rows = db.execute(
                "SELECT * FROM keys WHERE revoked_at IS NULL AND (? IS NULL OR shop = ?) ORDER BY shop, name",
                (shop, shop),
            ).fetchall()
        return [key_from(row) for row in rows]

    async def erase(self, shop: str, session_id: str) -> Erased:
        with self._transaction() as db:
            counts = [db.execute(f"DELETE FROM {t} WHERE {where}", (shop, session_id)).rowcount
                      for t, where in ERASE_SESSION]  # fmt: skip
            events = db.execute(
                "DELETE FROM events WHERE shop = ? AND body LIKE ? ESCAPE '\\'", (shop, session_pattern(session_id))
            ).rowcount
        self._recent.pop((shop, session_id), None)
        await self._durable()
        return Erased(turns=counts[0], tickets=counts[1], sessions=counts[2], events=events)

    async def purge(self, before: float, shop: str | None = None) -> Erased:
        with self._transaction() as db:
            counts = [db.execute(f"DELETE FROM {t} WHERE {where}", (before, shop, shop)).rowcount
                      for t, where in PURGE_BEFORE]  # fmt: skip
        self._recent.clear()
        await self._durable()
        return Erased(turns=counts[0], tickets=counts[1], sessions=counts[2], events=counts[3])

    async def review(self, review: Review) -> None:
        with self._transaction() as db:
            db.execute(REVIEW_UPSERT, review_values(review))
        await self._durable()

    async def reviews(self, shop: str) -> list[Review]:
        with self._connection() as db:
            rows = db.execute("SELECT * FROM reviews WHERE shop = ? ORDER BY key", (shop,)).fetchall()
        return [review_from(row) for row in rows]

    async def history(self, shop: str, since: float = 0.0, until: float = math.inf) -> History:
        span = (shop, since, until)
        with self._connection() as db:
            sessions = db.execute(
                "SELECT * FROM sessions WHERE shop = ? AND updated_at >= ? AND updated_at < ?", span
            )
            kept = tuple(session_from(shop, row["key"], json.loads(row["state"])) for row in sessions)
            turns = db.execute(
                "SELECT * FROM turns WHERE shop = ? AND at >= ? AND at < ? ORDER BY session_id, turn", span
            )
            taken = tuple(turn_from(row) for row in turns)
            tickets = db.execute(
                "SELECT * FROM tickets WHERE shop = ? AND created_at >= ? AND created_at < ? ORDER BY id",
                span,
            )
            opened = tuple(ticket_from(row) for row in tickets)
        return History(sessions=kept, turns=taken, tickets=opened)

    async def restore(self, history: History) -> Restored:
        turns = tickets = sessions = 0
        with self._transaction() as db:
            for turn in history.turns:
                cursor = db.execute("INSERT OR IGNORE INTO " + _TURNS + _TURN_ROW, turn_values(turn))
                turns += cursor.rowcount
            for ticket in history.tickets:
                if db.execute(
                    "SELECT 1 FROM tickets WHERE shop = ? AND session_id = ? AND created_at = ?",
                    (ticket.shop, ticket.session_id, ticket.created_at),
                ).fetchone():
                    continue
                db.execute(_INSERT_TICKET, ticket_values(ticket))
                tickets += 1
            for session in history.sessions:
                cursor = db.execute(
                    "INSERT INTO sessions (shop, key, state, updated_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (shop, key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"
                    " WHERE json_extract(sessions.state, '$.turns') < json_extract(excluded.state, '$.turns')",
                    _session_row(session),
                )
                sessions += cursor.rowcount
        self._recent.clear()  # what this process remembered may be older than what was restored
        await self._durable()
        skipped = len(history.turns) - turns + len(history.tickets) - tickets
        return Restored(turns=turns, tickets=tickets, sessions=sessions, skipped=skipped)

    def hold(self, shop: str, session_id: str) -> AbstractAsyncContextManager[None]:
        return UNLOCKED  # turn uniqueness and a retry keep a conversation's turns in order

    async def ping(self) -> None:
        """A real write, committed: a full disk or a read-only file system fails here, not only at
        the next turn."""
        with self._transaction() as db:
            db.execute(HEALTH_WRITE, (time.time(),))
        await self._durable()

    async def _durable(self) -> None:
        """Wait, within WAIT_SECONDS, until what this process committed is on the disk."""
        try:
            await asyncio.wait_for(self._syncer.durable(), WAIT_SECONDS)
        except TimeoutError:
            raise _unsynced(_NOT_IN_TIME) from None
        except OSError as exc:
            raise _unsynced(exc) from exc

    async def disconnect(self) -> None:
        return None  # one connection per thread, closed with it


# The events table is trimmed to the last KEEP rows every TRIM_EVERY events.
TRIM_EVERY = 500


class _EventTable:
    """`bot.storage.events.EventLog` in the file: what every worker on it publishes and reads."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def append(self, event: Event) -> int:
        with self._store._transaction() as db:
            cursor = db.execute(
                "INSERT INTO events (shop, at, body) VALUES (?, ?, ?)", (event.shop, event.at, to_json(event))
            )
            sequence = int(cursor.lastrowid or 0)
            if sequence % TRIM_EVERY == 0:
                db.execute("DELETE FROM events WHERE seq <= ?", (sequence - KEEP,))
        await self._store._durable()
        return sequence

    async def last(self) -> int:
        with self._store._connection() as db:
            return int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    async def after(self, sequence: int, limit: int) -> list[tuple[int, Event]]:
        with self._store._connection() as db:
            rows = db.execute(
                "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (sequence, limit)
            )
            return [(int(row[0]), from_json(row[1])) for row in rows]



class _Busy(StorageUnavailable):
    """A lock was not free in time; nothing was written."""


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a file written by an earlier version to `SCHEMA_VERSION`, in the open transaction."""
    if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    old = []  # tables of version 1: one shop, keyed by session alone
    for table in ("sessions", "turns", "tickets"):
        columns = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
        if columns and "shop" not in columns:
            for name, kind in _ADDED_IN_V1.get(table, ()):
                if name not in columns:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            db.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
            old.append(table)
    for table, name, kind in _ADDED_SINCE_V2:  # a file of version 2 or 3: the same tables, columns more
        columns = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
        if columns and name not in columns and table not in old:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    for name in ("tickets_by_session", "tickets_by_status"):
        db.execute(f"DROP INDEX IF EXISTS {name}")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    copies = {
        "sessions": "INSERT INTO sessions (shop, key, state, updated_at) SELECT ?, key, state, updated_at FROM sessions_v1",
        "turns": f"INSERT INTO turns (id, shop, {_V1_TURN_COLUMNS}) SELECT id, ?, {_V1_TURN_COLUMNS} FROM turns_v1",
        "tickets": f"INSERT INTO tickets (id, shop, {_V1_TICKET_COLUMNS}) SELECT id, ?, {_V1_TICKET_COLUMNS} FROM tickets_v1",
    }
    for table in old:
        db.execute(copies[table], (DEFAULT_SHOP,))
        db.execute(f"DROP TABLE {table}_v1")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _shared_key(key: tuple[str, str]) -> str:
    return f"{key[0]}\x1f{key[1]}"


def _session_row(session: Session) -> tuple[Any, ...]:
    return session.shop, session.key, json.dumps(state_of(session), ensure_ascii=False), session.updated_at


def _ticket_and_left_message(db: sqlite3.Connection, write: TurnWrite) -> int | None:
    """The rare parts of a write: a new ticket (its id), the message left for a held ticket."""
    ticket_id = None
    if (ticket := write.ticket) is not None:
        cursor = db.execute(_INSERT_TICKET, ticket_values(ticket))
        ticket_id = int(cursor.lastrowid or 0)
    if write.left_on is not None:
        db.execute(
            "UPDATE tickets SET left_messages = json_insert(left_messages, '$[#]', ?),"
            " order_number = COALESCE(order_number, ?) WHERE id = ?",
            (write.turn.message, write.order_number, write.left_on),
        )
    return ticket_id


_NOT_IN_TIME = TimeoutError("the disk has not confirmed the write in time")


def _unsynced(error: OSError) -> StorageUnavailable:
    """A write the disk did not confirm (failed, or not within its bound): 503 with Retry-After."""
    return StorageUnavailable(f"SQLite: {error}", "sqlite")


def _acknowledge(written: list[tuple[_Write, Written]], error: OSError | None) -> None:
    """On the loop, once the Syncer has the batch on the disk, failed to, or took too long: whichever
    comes first answers (the turn stays stored if the disk confirms it later: a retry finds it)."""
    for item, result in written:
        if item.future.done():
            continue
        if error is None:
            item.future.set_result(result)
        else:
            item.future.set_exception(_unsynced(error))


class _Write:
    """One turn's write waiting for the group commit that stores it."""

    __slots__ = ("future", "key", "write")

    def __init__(self, write: TurnWrite, future: asyncio.Future[Written]) -> None:
        self.write, self.future = write, future
        self.key = (write.turn.shop, write.turn.session_id)


def from_url(url: str, root: Path) -> SQLiteStore:
    from bot.storage.urls import sqlite_path

    return SQLiteStore(sqlite_path(url, root))
