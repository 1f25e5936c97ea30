"""One buyer turn through a persistent store: read the session, reply, write everything, return.

Every face takes its turns here: HTTP, `Bot.reply`, `bot ask` / `bot chat` and the regression
dialogues (the last three on an in-memory store). The turn, the session after it and a new handoff ticket are
written in one transaction before the reply is returned; while a person holds the session (an open
ticket), the bot only says so and records the buyer's messages for the agent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from bot.engine import Engine, load
from bot.model import Action, HandoffReason, Priority, Reply, Session, Ticket, TurnRecord
from bot.settings import Settings
from bot.shop import Shop
from bot.stages import hours
from bot.stages.render import fill
from bot.storage import Store, TurnConflict
from bot.storage.memory import MemoryStore
from bot.storage.urls import open_store

if TYPE_CHECKING:  # asyncio is imported where an event loop uses it: the CLI starts without it
    import asyncio

_RETRIES = 5
# Sessions kept in memory after this process wrote them: a turn starts without reading the store.
RECENT_SESSIONS = 20_000
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnResult:
    reply: Reply
    turn_id: int
    ticket: Ticket | None


class Conversations:
    """Turns of many buyers' conversations, each one durable before it is answered."""

    def __init__(
        self,
        bot: Callable[[], Engine],
        store: Store,
        idle_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bot = bot  # a callable, so that a reload swaps the bot between two turns
        self.store = store
        self._idle = idle_seconds
        self._clock = clock
        # Turns of one session are taken one at a time in this process; across processes the
        # store's turn uniqueness and a retry do the same.
        self._locks = tuple(threading.Lock() for _ in range(64))
        self._gates: dict[str, _Gate] = {}  # the same for turns on an event loop
        self._relay_of_loop: _Relay | None = None
        self._recent = _Recent(RECENT_SESSIONS)

    def turn(
        self,
        session_id: str,
        message: str,
        buyer_id: str | None = None,
        shop_id: str | None = None,
        context: Mapping[str, str] | None = None,
    ) -> TurnResult:
        """One turn, waiting for its write (for threads: the CLI, dialogues, library users)."""
        with self._locks[zlib.crc32(session_id.encode()) % len(self._locks)]:
            for attempt in range(_RETRIES):
                planned = self._plan(session_id, message, buyer_id, shop_id, context, attempt > 0)
                try:
                    return self._stored(planned, self.store.record(*planned.writes))
                except TurnConflict:
                    continue  # another process wrote this turn of the session first: read it again
        raise TurnConflict(session_id)

    async def turn_async(
        self,
        session_id: str,
        message: str,
        buyer_id: str | None = None,
        shop_id: str | None = None,
        context: Mapping[str, str] | None = None,
    ) -> TurnResult:
        """One turn for an event loop: the reply is worked out right here (a fraction of a
        millisecond of CPU, which a thread would only queue for the same GIL), then the turn waits
        for the store's group commit without holding up the other turns on the loop."""
        async with self._one_at_a_time(session_id):
            for attempt in range(_RETRIES):
                planned = self._plan(session_id, message, buyer_id, shop_id, context, attempt > 0)
                try:
                    ids = await self._relay().wait(self.store.submit(*planned.writes))
                except TurnConflict:
                    continue
                return self._stored(planned, ids)
        raise TurnConflict(session_id)

    def _stored(self, planned: _Planned, ids: tuple[int, int | None]) -> TurnResult:
        self._recent.put(planned.writes[1])
        return planned.done(ids)

    def _relay(self) -> _Relay:
        import asyncio

        loop = asyncio.get_running_loop()
        if self._relay_of_loop is None or self._relay_of_loop.loop is not loop:
            self._relay_of_loop = _Relay(loop)
        return self._relay_of_loop

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, session_id: str) -> AsyncIterator[None]:
        """Turns of one session in arrival order; a lock exists only while the session has a turn
        in flight, so idle sessions cost nothing."""
        gate = self._gates.get(session_id)
        if gate is None:
            gate = self._gates[session_id] = _Gate()
        gate.users += 1
        try:
            async with gate.lock:
                yield
        finally:
            gate.users -= 1
            if not gate.users:
                del self._gates[session_id]

    def _plan(
        self,
        session_id: str,
        message: str,
        buyer_id: str | None,
        shop_id: str | None,
        context: Mapping[str, str] | None,
        again: bool = False,
    ) -> _Planned:
        """The turn worked out from the session as this process last wrote it, or (`again`, after a
        conflict: another process moved the session on) as the store has it."""
        bot = self._bot()
        now = self._clock()
        remembered = None if again else self._recent.get(session_id)
        if remembered is not None and self.store.turn_hint(session_id) != remembered.turns:
            remembered = None  # another process has moved the session on
        session = remembered or self.store.session(session_id) or Session(key=session_id)
        # A ticket is only ever opened by a turn that hands the session off (stored with it), so a
        # session that was not handed off has none to look for.
        held = self.store.open_ticket(session_id) if session.handed_off else None
        if session.updated_at and now - session.updated_at > self._idle:
            session = Session(key=session_id, turns=session.turns)  # a fresh start, same transcript
        ticket = None
        if held is not None:
            service = bot.shop.settings.service
            key = "holding" if hours.is_open(now, service) else "message_left"
            values = {**bot.shop.values, "next_open": hours.next_open(now, service)}
            reply = Reply(
                text=fill(bot.shop.settings.replies[key], values),
                action=Action.HUMAN,
                intent=None,
                confidence=0.0,
                reason=held.reason,
                session_id=session_id,
                turn=session.turns + 1,
            )
            after = dataclasses.replace(session, turns=reply.turn, updated_at=now)
        else:
            if session.handed_off:  # the agent closed the ticket: the bot answers again
                session = dataclasses.replace(session, handed_off=False, misses=0)
            reply, after = bot.respond(session, message, context, now)
            if reply.action is Action.HANDOFF and reply.reason is not None:
                ticket = Ticket(
                    session_id=session_id,
                    buyer_id=buyer_id,
                    reason=reply.reason,
                    priority=priority(reply),
                    created_at=now,
                    order_number=after.slots.get("order_number"),
                    questions=tuple(p.text for p in reply.parts if p.intent != reply.intent),
                )
        record = TurnRecord(
            session_id=session_id,
            turn=reply.turn,
            at=now,
            message=message,
            reply=reply.text,
            action=reply.action,
            intent=reply.intent,
            topic=reply.topic,
            confidence=reply.confidence,
            reason=reply.reason,
            buyer_id=buyer_id,
            shop_id=shop_id,
        )
        return _Planned(reply=reply, writes=(record, after, ticket, held.id if held else None), ticket=ticket)


def store_of(settings: Settings) -> Store:
    """The store config.yaml names (`storage.url`), unless `BOT_STORAGE_URL` names another."""
    return open_store(os.environ.get("BOT_STORAGE_URL") or settings.storage_url, settings.root)


def in_memory(engine: Engine, clock: Callable[[], float] = time.time) -> Conversations:
    """A turn service whose sessions, transcripts and tickets live only in this process."""
    return Conversations(
        lambda: engine, MemoryStore(), engine.shop.settings.server.session_idle_seconds, clock
    )


class Bot(Engine):
    """A shop's auto-responder for library users: `Bot.from_config(path).reply(session_id, text)`.

    The engine's pure turn, taken through the same turn service as HTTP: a handoff holds the session
    for a person and an idle session starts afresh. In memory unless a store is given."""

    def __init__(self, shop: Shop, store: Store | None = None) -> None:
        super().__init__(shop)
        idle = shop.settings.server.session_idle_seconds
        self.conversations = Conversations(lambda: self, store if store is not None else MemoryStore(), idle)

    @classmethod
    def from_config(cls, path: str | Path = "config.yaml", store: Store | None = None) -> Self:
        """Load the shop described by config.yaml; raise `LoadError` listing every problem."""
        return cls(load(path), store)

    def reply(self, session_id: str, text: str, context: Mapping[str, str] | None = None) -> Reply:
        """Answer one buyer message in the session `session_id` (the transcript and any handoff
        ticket are in `self.conversations.store`)."""
        return self.conversations.turn(session_id, text, context=context).reply


@dataclass(frozen=True, slots=True, kw_only=True)
class _Planned:
    """A worked-out turn: the reply and what must be stored before it goes out."""

    reply: Reply
    writes: tuple[TurnRecord, Session, Ticket | None, int | None]
    ticket: Ticket | None

    def done(self, ids: tuple[int, int | None]) -> TurnResult:
        turn_id, ticket_id = ids
        saved = dataclasses.replace(self.ticket, id=ticket_id) if self.ticket is not None else None
        return TurnResult(reply=self.reply, turn_id=turn_id, ticket=saved)


class _Relay:
    """Hands the store's completed writes (`concurrent.futures`) to the turns awaiting them on an
    event loop: one wake-up of the loop per batch, not one per turn, and none at all (no system
    call) when the store completed them on the loop's own thread, as the SQLite store does."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._thread = threading.get_ident()
        self._lock = threading.Lock()
        self._arrived: list[tuple[Future[Any], asyncio.Future[Any]]] = []

    def wait(self, future: Future[T]) -> asyncio.Future[T]:
        waiter: asyncio.Future[T] = self.loop.create_future()
        future.add_done_callback(lambda done: self._arrive(done, waiter))
        return waiter

    def _arrive(self, future: Future[Any], waiter: asyncio.Future[Any]) -> None:
        with self._lock:
            self._arrived.append((future, waiter))
            first = len(self._arrived) == 1
        if first and threading.get_ident() == self._thread:
            self.loop.call_soon(self._deliver)
        elif first:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                self.loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            arrived, self._arrived = self._arrived, []
        for future, waiter in arrived:
            if waiter.cancelled():
                continue
            error = future.exception()
            if error is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(future.result())


class _Recent:
    """The sessions this process wrote last, least recently written dropped first, so that a turn
    need not read the store. The store's turn hint tells when another process has moved one on."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def get(self, key: str) -> Session | None:
        with self._lock:
            return self._sessions.get(key)

    def put(self, session: Session) -> None:
        with self._lock:
            self._sessions[session.key] = session
            self._sessions.move_to_end(session.key)
            if len(self._sessions) > self._size:
                self._sessions.popitem(last=False)


class _Gate:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        import asyncio

        self.lock = asyncio.Lock()
        self.users = 0


def priority(reply: Reply) -> Priority:
    """An angry buyer is served first; everyone else in order of arrival."""
    return Priority.HIGH if reply.reason is HandoffReason.ANGRY or reply.anger > 0 else Priority.NORMAL
