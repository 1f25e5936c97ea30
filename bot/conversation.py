"""One buyer turn through a persistent store: read the session, reply, write everything, return.

This is what the HTTP face calls. The turn, the session after it and a new handoff ticket are
written in one transaction before the reply is returned; while a person holds the session (an open
ticket), the bot only says so and records the buyer's messages for the agent.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot import hours
from bot.engine import Bot
from bot.model import Action, HandoffReason, Reply, Session, Ticket, TurnRecord
from bot.render import fill
from bot.storage import Store, TurnConflict

_RETRIES = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnResult:
    reply: Reply
    turn_id: int
    ticket: Ticket | None


class Conversations:
    """Turns of many buyers' conversations, each one durable before it is answered."""

    def __init__(
        self,
        bot: Callable[[], Bot],
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

    def turn(
        self,
        session_id: str,
        message: str,
        buyer_id: str | None = None,
        shop_id: str | None = None,
        context: Mapping[str, str] | None = None,
    ) -> TurnResult:
        with self._locks[zlib.crc32(session_id.encode()) % len(self._locks)]:
            for _ in range(_RETRIES):
                try:
                    return self._turn(session_id, message, buyer_id, shop_id, context)
                except TurnConflict:
                    continue  # another process wrote this turn of the session first: read it again
        raise TurnConflict(session_id)

    def _turn(
        self,
        session_id: str,
        message: str,
        buyer_id: str | None,
        shop_id: str | None,
        context: Mapping[str, str] | None,
    ) -> TurnResult:
        bot = self._bot()
        now = self._clock()
        session = self.store.session(session_id) or Session(key=session_id)
        if session.updated_at and now - session.updated_at > self._idle:
            session = Session(key=session_id, turns=session.turns)  # a fresh start, same transcript
        held = self.store.open_ticket(session_id)
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
                )
        record = TurnRecord(
            session_id=session_id,
            turn=reply.turn,
            at=now,
            message=message,
            reply=reply.text,
            action=reply.action,
            intent=reply.intent,
            confidence=reply.confidence,
            reason=reply.reason,
            buyer_id=buyer_id,
            shop_id=shop_id,
        )
        turn_id, ticket_id = self.store.record(record, after, ticket)
        if held is not None and held.id is not None:
            self.store.leave_message(held.id, message)
        saved = dataclasses.replace(ticket, id=ticket_id) if ticket is not None else None
        return TurnResult(reply=reply, turn_id=turn_id, ticket=saved)


def priority(reply: Reply) -> str:
    """An angry buyer is served first; everyone else in order of arrival."""
    return "high" if reply.reason is HandoffReason.ANGRY or reply.anger > 0 else "normal"
