"""The one turn service: read the session, reply, store everything, return.

Every face takes its turns here: HTTP on its event loop; `Bot.reply`, `bot ask` / `bot chat` and the
regression dialogues through `Blocking`, a thin runner for code that is not async. The turn, the
session after it and a new handoff ticket are stored in one write before the reply is returned;
while a person holds the session (an open ticket), the bot only says so and keeps the buyer's
messages for the agent. Sessions, transcripts and tickets are keyed by (shop, session).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

from bot.engine import Engine, load
from bot.model import (
    DEFAULT_SHOP,
    Action,
    Event,
    EventKind,
    HandoffReason,
    Priority,
    Reply,
    Session,
    Ticket,
    TurnRecord,
)
from bot.settings import Settings
from bot.shop import Shop
from bot.stages import extract, hours, privacy
from bot.stages.render import fill
from bot.storage import Storage, StorageError, TurnConflict, TurnWrite, Written
from bot.storage.memory import MemoryStore
from bot.storage.urls import open_store

_RETRIES = 5
log = logging.getLogger("bot.service")
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnResult:
    reply: Reply
    turn_id: int
    ticket: Ticket | None
    replayed: bool = False  # a retry of a message already answered: the stored turn, not a new one


class Conversations:
    """Turns of many buyers' conversations in one or more shops, each durable before it is answered."""

    def __init__(
        self, engines: Callable[[str], Engine], storage: Storage, clock: Callable[[], float] = time.time
    ) -> None:
        # shop id → its engine, asked at every turn, so that a reload swaps a shop between two turns;
        # raises for a shop it does not know.
        self._engines = engines
        self.storage = storage
        self.clock = clock
        # Turns of one session are taken one at a time in this process; across processes the
        # storage's turn uniqueness and a retry do the same.
        self._gates: dict[tuple[str, str], _Gate] = {}
        # Told of every event this process publishes, at once and without waiting (webhooks).
        self.observers: list[Callable[[Event], None]] = []

    async def turn(
        self,
        session_id: str,
        message: str,
        buyer_id: str | None = None,
        shop: str = DEFAULT_SHOP,
        context: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> TurnResult:
        """One turn: the reply is worked out right here (a fraction of a millisecond of CPU, which a
        thread would only queue for the same GIL), then the turn waits for the storage's write
        without holding up the other turns on the loop."""
        engine = self._engines(shop)
        async with self._one_at_a_time((shop, session_id)), self.storage.hold(shop, session_id):
            for _ in range(_RETRIES):
                planned = await self._plan(engine, shop, session_id, message, buyer_id, context, message_id)
                try:
                    written = await self.storage.record(planned.write)
                except TurnConflict:
                    # Another process stored this turn of the session first, or this very message was
                    # stored before (a retry: its message_id is unique), which only then costs a read.
                    if message_id is not None and (
                        done := await self.storage.answered(shop, session_id, message_id)
                    ):
                        return await self._replay(done)
                    continue  # read the session again
                result = planned.done(written)
                await self._tell_about(result, planned.write)
                return result
        raise TurnConflict(session_id)

    async def _replay(self, done: TurnRecord) -> TurnResult:
        """The answer already given to a message sent again (its reply was lost on the way): the same
        text, turn and action, and the ticket it opened if that is still open. Nothing is stored."""
        reply = Reply(text=done.reply, action=done.action, intent=done.intent, confidence=done.confidence,
                      reason=done.reason, session_id=done.session_id, turn=done.turn, topic=done.topic)  # fmt: skip
        ticket = None
        if done.action is Action.HANDOFF:
            ticket = await self.storage.open_ticket(done.shop, done.session_id)
        return TurnResult(reply=reply, turn_id=done.id or 0, ticket=ticket, replayed=True)

    async def agent_turn(self, ticket: Ticket, agent: str, text: str) -> TurnRecord:
        """A person's message to the buyer, stored as the conversation's next turn (taken in order
        with the buyer's own turns), then told to every listener."""
        shop, session_id = ticket.shop, ticket.session_id
        text = _kept(self._engines(shop), text)
        async with self._one_at_a_time((shop, session_id)), self.storage.hold(shop, session_id):
            for _ in range(_RETRIES):
                now = self.clock()
                session = await self.storage.session(shop, session_id) or Session(key=session_id, shop=shop)
                record = TurnRecord(session_id=session_id, shop=shop, turn=session.turns + 1, at=now, message="",
                                    reply=text, action=Action.AGENT, agent=agent)  # fmt: skip
                after = dataclasses.replace(session, turns=record.turn, updated_at=now)
                try:
                    written = await self.storage.record(TurnWrite(turn=record, session=after))
                except TurnConflict:
                    continue
                await self.tell(
                    ticket, EventKind.AGENT_MESSAGE, {"text": text, "agent": agent, "turn": str(record.turn)}
                )
                return dataclasses.replace(record, id=written.turn_id)
        raise TurnConflict(session_id)

    async def tell(self, ticket: Ticket, kind: EventKind, data: Mapping[str, str]) -> None:
        """Tell every listener what happened to a ticket."""
        await self._send(Event(kind=kind, shop=ticket.shop, session_id=ticket.session_id, at=self.clock(),
                               ticket_id=ticket.id, data=data))  # fmt: skip

    async def _tell_about(self, result: TurnResult, write: TurnWrite) -> None:
        if result.ticket is not None:
            await self.tell(result.ticket, EventKind.TICKET_OPENED, {"reason": result.ticket.reason.value})
        elif write.left_on is not None:
            event = Event(kind=EventKind.BUYER_MESSAGE, shop=write.turn.shop, session_id=write.turn.session_id,
                          at=write.turn.at, ticket_id=write.left_on, data={"text": write.turn.message})  # fmt: skip
            await self._send(event)

    async def _send(self, event: Event) -> None:
        """The turn or the ticket's move is stored already: an event that cannot be sent is said in
        the log (no personal data) and the listeners catch up from the queue, but nothing fails."""
        try:
            published = await self.storage.events.publish(event)
        except StorageError as exc:
            log.warning("event %s of ticket %s not sent: %s", event.kind.value, event.ticket_id, exc)
            return
        for observer in self.observers:
            observer(published)

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, key: tuple[str, str]) -> AsyncIterator[None]:
        """Turns of one session in arrival order; a lock exists only while the session has a turn
        in flight, so idle sessions cost nothing."""
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _Gate()
        gate.users += 1
        try:
            async with gate.lock:
                yield
        finally:
            gate.users -= 1
            if not gate.users:
                del self._gates[key]

    async def _plan(
        self,
        bot: Engine,
        shop: str,
        session_id: str,
        message: str,
        buyer_id: str | None,
        context: Mapping[str, str] | None,
        message_id: str | None,
    ) -> _Planned:
        """The turn worked out from the session as the storage has it now."""
        now = self.clock()
        session = await self.storage.session(shop, session_id) or Session(key=session_id, shop=shop)
        # A ticket is only ever opened by a turn that hands the session off (stored with it), so a
        # session that was not handed off has none to look for.
        held = await self.storage.open_ticket(shop, session_id) if session.handed_off else None
        if session.updated_at and now - session.updated_at > bot.shop.settings.server.session_idle_seconds:
            session = Session(
                key=session_id, shop=shop, turns=session.turns
            )  # a fresh start, same transcript
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
                    shop=shop,
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
            message=_kept(bot, message),
            reply=_kept(bot, reply.text),
            action=reply.action,
            intent=reply.intent,
            topic=reply.topic,
            confidence=reply.confidence,
            reason=reply.reason,
            buyer_id=buyer_id,
            shop=shop,
            message_id=message_id,
        )
        left_number = None
        if held is not None and not held.order_number:
            left_number = next(iter(extract.order_numbers(message)), None)  # the agent will look it up
        write = TurnWrite(turn=record, session=after, ticket=ticket, left_on=held.id if held else None,
                          order_number=left_number)  # fmt: skip
        return _Planned(reply=reply, write=write)


def _kept(bot: Engine, text: str) -> str:
    """`text` as the transcript keeps it: masked when the shop says so (privacy.mask_transcripts)."""
    return privacy.mask(text) if bot.shop.settings.mask_transcripts else text


def storage_url(settings: Settings) -> str:
    """The storage config.yaml names (`storage.url`), unless `BOT_STORAGE_URL` names another."""
    return os.environ.get("BOT_STORAGE_URL") or settings.storage_url


def storage_of(settings: Settings) -> Storage:
    sessions = os.environ.get("BOT_SESSIONS_URL") or settings.sessions_url
    return open_store(storage_url(settings), settings.root, sessions, settings.server.session_idle_seconds)


class Blocking:
    """The turn service for code that is not async (the CLI, dialogues, library users).

    Calls run on one event loop kept in a thread of its own, started on first use: turns from many
    threads still share one group commit, and a caller inside a running event loop is not blocked by
    its own loop."""

    _loop: asyncio.AbstractEventLoop | None = None
    _lock = threading.Lock()

    def __init__(self, conversations: Conversations) -> None:
        self.conversations = conversations
        self.storage = conversations.storage

    def turn(
        self,
        session_id: str,
        message: str,
        buyer_id: str | None = None,
        shop: str = DEFAULT_SHOP,
        context: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> TurnResult:
        return self.run(self.conversations.turn(session_id, message, buyer_id, shop, context, message_id))

    @classmethod
    def run(cls, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` to its end on the runner's loop and return what it returns."""
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="bot-turns", daemon=True).start()
                atexit.register(cls._wind_down, loop)
                cls._loop = loop
        return asyncio.run_coroutine_threadsafe(work, cls._loop).result()

    @staticmethod
    def _wind_down(loop: asyncio.AbstractEventLoop) -> None:
        """At exit, end what still runs on the loop (a database pool's workers) instead of leaving
        it to be destroyed pending."""

        async def cancel_the_rest() -> None:
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(cancel_the_rest(), loop).result(timeout=5)


def in_memory(engine: Engine, clock: Callable[[], float] = time.time) -> Blocking:
    """A turn service whose sessions, transcripts and tickets live only in this process."""
    return Blocking(Conversations(lambda shop: engine, MemoryStore(), clock))


class Bot(Engine):
    """A shop's auto-responder for library users: `Bot.from_config(path).reply(session_id, text)`.

    The engine's pure turn, taken through the same turn service as HTTP: a handoff holds the session
    for a person and an idle session starts afresh. In memory unless a storage is given."""

    def __init__(self, shop: Shop, storage: Storage | None = None) -> None:
        super().__init__(shop)
        chosen = storage if storage is not None else MemoryStore()
        self.conversations = Blocking(Conversations(lambda _: self, chosen))

    @classmethod
    def from_config(cls, path: str | Path = "config.yaml", storage: Storage | None = None) -> Self:
        """Load the shop described by config.yaml; raise `LoadError` listing every problem."""
        return cls(load(path), storage)

    def reply(self, session_id: str, text: str, context: Mapping[str, str] | None = None) -> Reply:
        """Answer one buyer message in the session `session_id` (the transcript and any handoff
        ticket are in `self.conversations.storage`)."""
        return self.conversations.turn(session_id, text, context=context).reply


@dataclass(frozen=True, slots=True, kw_only=True)
class _Planned:
    """A worked-out turn: the reply and what must be stored before it goes out."""

    reply: Reply
    write: TurnWrite

    def done(self, written: Written) -> TurnResult:
        ticket = self.write.ticket
        saved = dataclasses.replace(ticket, id=written.ticket_id) if ticket is not None else None
        return TurnResult(reply=self.reply, turn_id=written.turn_id, ticket=saved)


class _Gate:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


def priority(reply: Reply) -> Priority:
    """An angry buyer is served first; everyone else in order of arrival."""
    return Priority.HIGH if reply.reason is HandoffReason.ANGRY or reply.anger > 0 else Priority.NORMAL
