"""`Storage` on PostgreSQL (psycopg 3, async, with its connection pool): for several replicas.

A conversation's turns are taken one at a time across replicas by an advisory lock per (shop,
session), held on a connection of a small pool of its own while the turn runs (`hold`; Redis does
this faster when `sessions_url` names one). A turn's write is one transaction: the turn (append-only, `UNIQUE (shop, session_id, turn)`: a turn
stored twice is a `TurnConflict`), the session after it (its `version` is the turn it reached and only
moves forward), the ticket it opened and the message left on a held one. The schema is changed only
by numbered migrations (`bot/storage/migrations/NNN_*.sql`) applied by `bot db upgrade`; a database
behind the code refuses to open, saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from bot.model import Agent, ApiKey, Event, Review, Session, Ticket, TicketStatus, TurnRecord
from bot.storage import (
    WAIT_SECONDS,
    AgentExists,
    Erased,
    History,
    KeyExists,
    Restored,
    SessionBusy,
    StorageError,
    StorageUnavailable,
    TicketMove,
    TicketMoved,
    TurnConflict,
    TurnWrite,
    UnknownTicket,
    Written,
)
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

try:
    import psycopg
    from psycopg.rows import dict_row
    from psycopg.types.json import Jsonb
    from psycopg_pool import AsyncConnectionPool, PoolTimeout
except ImportError:  # pragma: no cover - the postgres extra is not installed
    psycopg = None  # type: ignore[assignment]

_INSERT_TURN = (
    f"INSERT INTO turns ({', '.join(TURN_COLUMNS)}) VALUES ({', '.join(['%s'] * len(TURN_COLUMNS))})"
)
# A ticket's JSON arrays come as text (`ticket_values`): cast to jsonb.
_INSERT_TICKET = "INSERT INTO tickets ({}) VALUES ({})".format(
    ", ".join(TICKET_COLUMNS),
    ", ".join("%s::jsonb" if c in ("left_messages", "questions") else "%s" for c in TICKET_COLUMNS),
)
POOL_SIZE = 10
# Connections that hold conversation locks, one per turn in flight (its writes use the other pool).
LOCK_POOL_SIZE = 20
# The advisory locks of conversations: (this number, hashtext of shop and session).
_LOCK_CLASS = 7311
# How long a turn waits for a connection before it answers 503 (the database is down or overloaded).
CONNECT_SECONDS = 3.0
# A database that went silent (a network partition, no FIN) is noticed by libpq within seconds instead
# of a query waiting forever: keepalives probe an idle connection, tcp_user_timeout ends unacked sends.
_LIBPQ_TIMEOUTS = {"connect_timeout": 3, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                   "keepalives_count": 2, "tcp_user_timeout": 8000}  # fmt: skip


class SchemaBehind(StorageError):
    """The database's schema is older (or newer) than this version of the code."""


def migrations() -> list[tuple[int, str, str]]:
    """(number, file name, SQL) of every migration shipped, in order."""
    folder = resources.files("bot.storage") / "migrations"
    found = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(int(name.split("_", 1)[0]), name, (folder / name).read_text(encoding="utf-8")) for name in found]


LATEST = migrations()[-1][0]
# Every table the migrations create, for those who must empty a database (tests, benchmarks).
TABLES = ("bot_schema", "sessions", "turns", "tickets", "agents", "keys", "events", "reviews", "health")


class PostgresStore:
    """Every protocol of `bot.storage` over one PostgreSQL database."""

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        if psycopg is None:
            raise StorageError(
                "没有安装 PostgreSQL 客户端：pip install 'dianxiaoer[postgres]'"
                "（the PostgreSQL client is not installed）"
            )
        self.url = url
        self.events = LoggedEvents(_EventTable(self))  # every replica hears them; RedisFront has its own
        self._sizes = {"data": pool_size, "locks": LOCK_POOL_SIZE}
        # How long a turn waits for another turn of its conversation before it is `SessionBusy`.
        self.wait_seconds = WAIT_SECONDS
        # A pool belongs to the event loop that opened it (a process serves from one loop; a loop
        # that ends takes its pool's connections with it).
        self._pools: dict[tuple[asyncio.AbstractEventLoop, str], AsyncConnectionPool] = {}
        self._opening: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def _connected(self, pool: str = "data") -> AsyncIterator[Any]:
        """A connection of a pool; the database being unreachable is `StorageUnavailable`."""
        try:
            async with await self._connection(pool) as db:
                yield db
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StorageUnavailable(f"PostgreSQL: {type(exc).__name__}", "postgresql") from exc

    async def _connection(self, name: str) -> Any:
        loop = asyncio.get_running_loop()
        pool = self._pools.get((loop, name))
        if pool is None:
            async with self._opening.setdefault(loop, asyncio.Lock()):
                pool = self._pools.get((loop, name))
                if pool is None:
                    pool = AsyncConnectionPool(
                        self.url, min_size=1, max_size=self._sizes[name], open=False, timeout=CONNECT_SECONDS,
                        kwargs={"row_factory": dict_row, "autocommit": True, **_LIBPQ_TIMEOUTS}, check=AsyncConnectionPool.check_connection,
                        reset=_unlock_all if name == "locks" else None,
                    )  # fmt: skip
                    try:
                        await pool.open(wait=True, timeout=CONNECT_SECONDS)
                    except PoolTimeout:
                        await pool.close()
                        raise
                    try:
                        await _check_schema(pool)
                    except BaseException:
                        await pool.close()
                        raise
                    for old in [k for k in self._pools if k[0].is_closed()]:
                        del self._pools[old]
                    self._pools[loop, name] = pool
        return pool.connection()

    async def disconnect(self) -> None:
        loop = asyncio.get_running_loop()
        for key in [k for k in self._pools if k[0] is loop]:
            await self._pools.pop(key).close()

    async def session(self, shop: str, session_id: str) -> Session | None:
        async with self._connected() as db:
            row = await (
                await db.execute(
                    "SELECT state FROM sessions WHERE shop = %s AND key = %s", (shop, session_id)
                )
            ).fetchone()
        return session_from(shop, session_id, row["state"]) if row else None

    async def record(self, write: TurnWrite) -> Written:
        turn, session = write.turn, write.session
        async with self._connected() as db:
            try:
                async with db.transaction():
                    cursor = await db.execute(_INSERT_TURN + " RETURNING id", turn_values(turn))
                    turn_id = (await cursor.fetchone())["id"]
                    await db.execute(
                        "INSERT INTO sessions (shop, key, state, version, updated_at) VALUES (%s, %s, %s, %s, %s)"
                        " ON CONFLICT (shop, key) DO UPDATE SET state = excluded.state,"
                        " version = excluded.version, updated_at = excluded.updated_at"
                        " WHERE sessions.version <= excluded.version",
                        (
                            session.shop,
                            session.key,
                            Jsonb(state_of(session)),
                            session.turns,
                            session.updated_at,
                        ),
                    )
                    ticket_id = await _ticket_and_left_message(db, write)
            except psycopg.errors.UniqueViolation:
                raise TurnConflict(turn.session_id) from None
        return Written(turn_id=turn_id, ticket_id=ticket_id)

    async def transcript(self, shop: str, session_id: str) -> list[TurnRecord]:
        async with self._connected() as db:
            rows = await (
                await db.execute(
                    "SELECT * FROM turns WHERE shop = %s AND session_id = %s ORDER BY turn",
                    (shop, session_id),
                )
            ).fetchall()
        return [turn_from(row) for row in rows]

    async def answered(self, shop: str, session_id: str, message_id: str) -> TurnRecord | None:
        async with self._connected() as db:
            row = await (
                await db.execute(
                    "SELECT * FROM turns WHERE shop = %s AND session_id = %s AND message_id = %s",
                    (shop, session_id, message_id),
                )
            ).fetchone()
        return turn_from(row) if row else None

    async def open_ticket(self, shop: str, session_id: str) -> Ticket | None:
        async with self._connected() as db:
            row = await (
                await db.execute(
                    "SELECT * FROM tickets WHERE shop = %s AND session_id = %s AND status != 'closed'"
                    " ORDER BY id LIMIT 1",
                    (shop, session_id),
                )
            ).fetchone()
        return ticket_from(row) if row else None

    async def tickets(self, shop: str, status: TicketStatus | None = None) -> list[Ticket]:
        async with self._connected() as db:
            if status is None:
                cursor = await db.execute("SELECT * FROM tickets WHERE shop = %s", (shop,))
            else:
                cursor = await db.execute(
                    "SELECT * FROM tickets WHERE shop = %s AND status = %s", (shop, status.value)
                )
            rows = await cursor.fetchall()
        return by_priority(ticket_from(row) for row in rows)

    async def ticket(self, shop: str, ticket_id: int) -> Ticket | None:
        async with self._connected() as db:
            row = await (
                await db.execute("SELECT * FROM tickets WHERE shop = %s AND id = %s", (shop, ticket_id))
            ).fetchone()
        return ticket_from(row) if row else None

    async def move_ticket(self, shop: str, ticket_id: int, move: TicketMove) -> Ticket:
        changes = move.changes()
        assigned = ", ".join(f"{column} = %s" for column in changes)
        held = " AND claimed_by = %s" if move.held_by is not None else ""
        where = (shop, ticket_id, [s.value for s in move.from_statuses], *([move.held_by] if held else []))
        sql = f"UPDATE tickets SET {assigned} WHERE shop = %s AND id = %s AND status = ANY(%s){held} RETURNING *"
        async with self._connected() as db:
            row = await (await db.execute(sql, (*changes.values(), *where))).fetchone()
        if row is not None:
            return ticket_from(row)
        current = await self.ticket(shop, ticket_id)
        if current is None:
            raise UnknownTicket(ticket_id)
        raise TicketMoved(current)

    async def add_agent(self, agent: Agent, token_hash: str) -> None:
        async with self._connected() as db:
            try:
                await db.execute(
                    "INSERT INTO agents (token_hash, name, admin, created_at) VALUES (%s, %s, %s, %s)",
                    (token_hash, agent.name, agent.admin, agent.created_at),
                )
            except psycopg.errors.UniqueViolation:
                raise AgentExists(agent.name) from None

    async def agent_by_token(self, token_hash: str) -> Agent | None:
        async with self._connected() as db:
            row = await (
                await db.execute(
                    "SELECT * FROM agents WHERE token_hash = %s AND revoked_at IS NULL", (token_hash,)
                )
            ).fetchone()
        return agent_from(row) if row else None

    async def revoke_agent(self, name: str, at: float) -> bool:
        async with self._connected() as db:
            cursor = await db.execute(
                "UPDATE agents SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL", (at, name)
            )
        return bool(cursor.rowcount > 0)

    async def agents(self) -> list[Agent]:
        async with self._connected() as db:
            rows = await (
                await db.execute("SELECT * FROM agents WHERE revoked_at IS NULL ORDER BY name")
            ).fetchall()
        return [agent_from(row) for row in rows]

    async def add_key(self, key: ApiKey, token_hash: str) -> None:
        async with self._connected() as db:
            try:
                await db.execute(
                    "INSERT INTO keys (token_hash, shop, name, kind, created_at) VALUES (%s, %s, %s, %s, %s)",
                    (token_hash, key.shop, key.name, key.kind.value, key.created_at),
                )
            except psycopg.errors.UniqueViolation:
                raise KeyExists(key.name) from None

    async def key_by_token(self, token_hash: str) -> ApiKey | None:
        async with self._connected() as db:
            row = await (
                await db.execute(
                    "SELECT * FROM keys WHERE token_hash = %s AND revoked_at IS NULL", (token_hash,)
                )
            ).fetchone()
        return key_from(row) if row else None

    async def revoke_key(self, shop: str, name: str, at: float) -> bool:
        async with self._connected() as db:
            cursor = await db.execute(
                "UPDATE keys SET revoked_at = %s WHERE shop = %s AND name = %s AND revoked_at IS NULL",
                (at, shop, name),
            )
        return bool(cursor.rowcount > 0)

    async def keys(self, shop: str | None = None) -> list[ApiKey]:
        async with self._connected() as db:
            rows = await (
                await db.execute(
                    "SELECT * FROM keys WHERE revoked_at IS NULL AND (%s::text IS NULL OR shop = %s) ORDER BY shop, name",
                    (shop, shop),
                )
            ).fetchall()
        return [key_from(row) for row in rows]

    async def erase(self, shop: str, session_id: str) -> Erased:
        async with self._connected() as db, db.transaction():
            counts = [(await db.execute(f"DELETE FROM {t} WHERE {where.replace('?', '%s')}", (shop, session_id))).rowcount
                      for t, where in ERASE_SESSION]  # fmt: skip
            events = (await db.execute("DELETE FROM events WHERE shop = %s AND body LIKE %s",
                                       (shop, session_pattern(session_id)))).rowcount  # fmt: skip
        return Erased(turns=counts[0], tickets=counts[1], sessions=counts[2], events=events)

    async def purge(self, before: float, shop: str | None = None) -> Erased:
        counts = []
        async with self._connected() as db, db.transaction():
            for table, where in PURGE_BEFORE:
                sql = f"DELETE FROM {table} WHERE {where.replace('? IS NULL', '%s::text IS NULL').replace('?', '%s')}"
                counts.append((await db.execute(sql, (before, shop, shop))).rowcount)
        return Erased(turns=counts[0], tickets=counts[1], sessions=counts[2], events=counts[3])

    async def review(self, review: Review) -> None:
        async with self._connected() as db:
            await db.execute(REVIEW_UPSERT.replace("?", "%s"), review_values(review))

    async def reviews(self, shop: str) -> list[Review]:
        async with self._connected() as db:
            rows = await (
                await db.execute("SELECT * FROM reviews WHERE shop = %s ORDER BY key", (shop,))
            ).fetchall()
        return [review_from(row) for row in rows]

    async def history(self, shop: str, since: float = 0.0, until: float = math.inf) -> History:
        span = (shop, since, until)
        async with self._connected() as db:
            sessions = await (
                await db.execute(
                    "SELECT * FROM sessions WHERE shop = %s AND updated_at >= %s AND updated_at < %s", span
                )
            ).fetchall()
            turns = await (
                await db.execute(
                    "SELECT * FROM turns WHERE shop = %s AND at >= %s AND at < %s ORDER BY session_id, turn",
                    span,
                )
            ).fetchall()
            tickets = await (
                await db.execute(
                    "SELECT * FROM tickets WHERE shop = %s AND created_at >= %s AND created_at < %s ORDER BY id",
                    span,
                )
            ).fetchall()
        return History(
            sessions=tuple(session_from(shop, row["key"], row["state"]) for row in sessions),
            turns=tuple(turn_from(row) for row in turns),
            tickets=tuple(ticket_from(row) for row in tickets),
        )

    async def restore(self, history: History) -> Restored:
        turns = tickets = sessions = 0
        async with self._connected() as db, db.transaction():
            for turn in history.turns:
                cursor = await db.execute(
                    _INSERT_TURN + " ON CONFLICT (shop, session_id, turn) DO NOTHING", turn_values(turn)
                )
                turns += cursor.rowcount
            for ticket in history.tickets:
                found = await (
                    await db.execute(
                        "SELECT 1 FROM tickets WHERE shop = %s AND session_id = %s AND created_at = %s",
                        (ticket.shop, ticket.session_id, ticket.created_at),
                    )
                ).fetchone()
                if found:
                    continue
                await db.execute(_INSERT_TICKET, ticket_values(ticket))
                tickets += 1
            for session in history.sessions:
                cursor = await db.execute(
                    "INSERT INTO sessions (shop, key, state, version, updated_at) VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT (shop, key) DO UPDATE SET state = excluded.state, version = excluded.version,"
                    " updated_at = excluded.updated_at WHERE sessions.version < excluded.version",
                    (session.shop, session.key, Jsonb(state_of(session)), session.turns, session.updated_at),
                )
                sessions += cursor.rowcount
        skipped = len(history.turns) - turns + len(history.tickets) - tickets
        return Restored(turns=turns, tickets=tickets, sessions=sessions, skipped=skipped)

    @contextlib.asynccontextmanager
    async def hold(self, shop: str, session_id: str) -> AsyncIterator[None]:
        """The conversation's advisory lock for the turn's length; waiting longer than
        `wait_seconds` for it (or for a connection to hold it on) is `SessionBusy`."""
        key = (_LOCK_CLASS, f"{shop}\x1f{session_id}")
        try:
            async with self._connected("locks") as db:
                try:
                    # One round trip: the wait's limit, then the lock (a SELECT list runs left to right).
                    wait = f"{int(self.wait_seconds * 1000)}ms"
                    await db.execute("SELECT set_config('lock_timeout', %s, false), pg_advisory_lock(%s, hashtext(%s))",
                                     (wait, *key))  # fmt: skip
                except psycopg.errors.LockNotAvailable:
                    raise SessionBusy(session_id) from None
                try:
                    yield
                finally:
                    # Never left locked: a connection that fails here is discarded by the pool, and
                    # one returned is reset with pg_advisory_unlock_all.
                    with contextlib.suppress(psycopg.Error):
                        await db.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", key)
        except StorageUnavailable as exc:
            if isinstance(exc.__cause__, PoolTimeout) and self._all_in_use("locks"):
                raise SessionBusy(session_id) from exc  # every lock connection holds a turn: busy, not down
            raise

    def _all_in_use(self, name: str) -> bool:
        pool = self._pools.get((asyncio.get_running_loop(), name))
        if pool is None:
            return False
        stats = pool.get_stats()
        return stats.get("pool_size", 0) >= self._sizes[name] and not stats.get("pool_available", 0)

    async def ping(self) -> None:
        """A real write, committed (a standby, a full disk or a read-only database fail here)."""
        async with self._connected() as db:
            row = await (await db.execute("SELECT pg_is_in_recovery() AS standby")).fetchone()
            if row["standby"]:
                raise StorageUnavailable("PostgreSQL 是只读的备库（the database is a read-only standby）", "postgresql")
            try:
                await db.execute(HEALTH_WRITE.replace("?", "%s"), (time.time(),))
            except psycopg.Error as exc:
                raise StorageUnavailable(f"PostgreSQL: {type(exc).__name__}: {exc}", "postgresql") from exc


async def _unlock_all(db: Any) -> None:
    await db.execute("SELECT pg_advisory_unlock_all()")


async def _ticket_and_left_message(db: Any, write: TurnWrite) -> int | None:
    ticket_id = None
    if (ticket := write.ticket) is not None:
        cursor = await db.execute(_INSERT_TICKET + " RETURNING id", ticket_values(ticket))
        ticket_id = int((await cursor.fetchone())["id"])
    if write.left_on is not None:
        await db.execute(
            "UPDATE tickets SET left_messages = left_messages || %s,"
            " order_number = COALESCE(order_number, %s) WHERE id = %s",
            (Jsonb([write.turn.message]), write.order_number, write.left_on),
        )
    return ticket_id


async def _check_schema(pool: Any) -> None:
    async with pool.connection() as db:
        version = await _version(db)
    if version != LATEST:
        raise SchemaBehind(
            f"数据库结构是第 {version} 版，代码需要第 {LATEST} 版：请先运行 bot db upgrade"
            f"（the database schema is at version {version}, the code needs {LATEST}: run bot db upgrade）"
        )


async def _version(db: Any) -> int:
    exists = await (await db.execute("SELECT to_regclass('bot_schema') AS name")).fetchone()
    if exists["name"] is None:
        return 0
    row = await (await db.execute("SELECT max(version) AS version FROM bot_schema")).fetchone()
    return int(row["version"] or 0)


async def upgrade(url: str) -> list[str]:
    """Apply the migrations the database has not had, each in its own transaction, one upgrader at a
    time (an advisory lock); the names of those applied."""
    if psycopg is None:
        raise StorageError("没有安装 PostgreSQL 客户端：pip install 'dianxiaoer[postgres]'")
    applied = []
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row, autocommit=True) as db:
        await db.execute("SELECT pg_advisory_lock(7310)")  # 店小二's migrations, one upgrader at a time
        try:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS bot_schema (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            current = await _version(db)
            for number, name, sql in migrations():
                if number <= current:
                    continue
                async with db.transaction():
                    await db.execute(sql.encode())
                    await db.execute("INSERT INTO bot_schema (version, name) VALUES (%s, %s)", (number, name))
                applied.append(name)
        finally:
            await db.execute("SELECT pg_advisory_unlock(7310)")
    return applied


def from_url(url: str, root: object) -> PostgresStore:
    return PostgresStore(url)


# The events table is trimmed to the last KEEP rows every TRIM_EVERY events.
TRIM_EVERY = 500


class _EventTable:
    """`bot.storage.events.EventLog` in the database: what every replica publishes and reads."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def append(self, event: Event) -> int:
        async with self._store._connected() as db:
            row = await (
                await db.execute(
                    "INSERT INTO events (shop, at, body) VALUES (%s, %s, %s) RETURNING seq",
                    (event.shop, event.at, to_json(event)),
                )
            ).fetchone()
            sequence = int(row["seq"])
            if sequence % TRIM_EVERY == 0:
                await db.execute("DELETE FROM events WHERE seq <= %s", (sequence - KEEP,))
        return sequence

    async def last(self) -> int:
        async with self._store._connected() as db:
            row = await (await db.execute("SELECT COALESCE(MAX(seq), 0) AS seq FROM events")).fetchone()
        return int(row["seq"])

    async def after(self, sequence: int, limit: int) -> list[tuple[int, Event]]:
        async with self._store._connected() as db:
            rows = await (
                await db.execute(
                    "SELECT seq, body FROM events WHERE seq > %s ORDER BY seq LIMIT %s", (sequence, limit)
                )
            ).fetchall()
        return [(int(row["seq"]), from_json(row["body"])) for row in rows]


__all__ = ["LATEST", "TABLES", "PostgresStore", "SchemaBehind", "upgrade"]
