"""`Storage` in this process's memory: for tests, dialogues and trying things out. Lost on exit."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractAsyncContextManager

from bot.model import Session, Ticket, TicketStatus, TurnRecord
from bot.storage import (
    UNLOCKED,
    History,
    Restored,
    TicketClosed,
    TurnConflict,
    TurnWrite,
    UnknownTicket,
    Written,
)
from bot.storage.events import LocalEvents
from bot.storage.order import by_priority


class MemoryStore:
    """Every protocol of `bot.storage`. Not shared between processes; safe on one event loop (no
    method awaits between reading and writing)."""

    def __init__(self) -> None:
        self.events = LocalEvents()
        self._sessions: dict[tuple[str, str], Session] = {}
        self._turns: dict[tuple[str, str], list[TurnRecord]] = {}
        self._count = 0
        self._tickets: dict[int, Ticket] = {}

    async def session(self, shop: str, session_id: str) -> Session | None:
        return self._sessions.get((shop, session_id))

    async def record(self, write: TurnWrite) -> Written:
        turn = write.turn
        turns = self._turns.setdefault((turn.shop, turn.session_id), [])
        if any(t.turn == turn.turn for t in turns):
            raise TurnConflict(turn.session_id)
        self._count += 1
        turns.append(dataclasses.replace(turn, id=self._count))
        self._sessions[(turn.shop, turn.session_id)] = write.session
        ticket_id = None
        if write.ticket is not None:
            ticket_id = len(self._tickets) + 1
            self._tickets[ticket_id] = dataclasses.replace(write.ticket, id=ticket_id)
        held = self._tickets.get(write.left_on) if write.left_on is not None else None
        if held is not None and held.id is not None:
            self._tickets[held.id] = dataclasses.replace(
                held, left_messages=(*held.left_messages, turn.message)
            )
        return Written(turn_id=self._count, ticket_id=ticket_id)

    async def transcript(self, shop: str, session_id: str) -> list[TurnRecord]:
        return list(self._turns.get((shop, session_id), ()))

    async def open_ticket(self, shop: str, session_id: str) -> Ticket | None:
        return next(
            (
                t
                for t in self._tickets.values()
                if (t.shop, t.session_id) == (shop, session_id) and t.status is not TicketStatus.CLOSED
            ),
            None,
        )

    async def tickets(self, shop: str, status: TicketStatus | None = None) -> list[Ticket]:
        return by_priority(
            t for t in self._tickets.values() if t.shop == shop and (status is None or t.status is status)
        )

    async def ticket(self, shop: str, ticket_id: int) -> Ticket | None:
        ticket = self._tickets.get(ticket_id)
        return ticket if ticket is not None and ticket.shop == shop else None

    async def claim(self, shop: str, ticket_id: int, agent: str, at: float) -> Ticket:
        ticket = await self._existing(shop, ticket_id)
        if ticket.status is TicketStatus.CLOSED:
            raise TicketClosed(ticket_id)
        claimed = dataclasses.replace(ticket, status=TicketStatus.CLAIMED, claimed_by=agent, claimed_at=at)
        self._tickets[ticket_id] = claimed
        return claimed

    async def close(self, shop: str, ticket_id: int, at: float, note: str | None = None) -> Ticket:
        ticket = await self._existing(shop, ticket_id)
        closed = dataclasses.replace(ticket, status=TicketStatus.CLOSED, closed_at=at, note=note)
        self._tickets[ticket_id] = closed
        return closed

    async def _existing(self, shop: str, ticket_id: int) -> Ticket:
        ticket = await self.ticket(shop, ticket_id)
        if ticket is None:
            raise UnknownTicket(ticket_id)
        return ticket

    async def history(self, shop: str, since: float = 0.0) -> History:
        return History(
            sessions=tuple(
                s for (s_shop, _), s in self._sessions.items() if s_shop == shop and s.updated_at >= since
            ),
            turns=tuple(
                t for (t_shop, _), ts in self._turns.items() if t_shop == shop for t in ts if t.at >= since
            ),
            tickets=tuple(t for t in self._tickets.values() if t.shop == shop and t.created_at >= since),
        )

    async def restore(self, history: History) -> Restored:
        added = [0, 0, 0]
        skipped = 0
        for turn in history.turns:
            turns = self._turns.setdefault((turn.shop, turn.session_id), [])
            if any(t.turn == turn.turn for t in turns):
                skipped += 1
                continue
            self._count += 1
            turns.append(dataclasses.replace(turn, id=self._count))
            turns.sort(key=lambda t: t.turn)
            added[0] += 1
        for ticket in history.tickets:
            if any((t.shop, t.session_id, t.created_at) == (ticket.shop, ticket.session_id, ticket.created_at)
                   for t in self._tickets.values()):  # fmt: skip
                skipped += 1
                continue
            ticket_id = len(self._tickets) + 1
            self._tickets[ticket_id] = dataclasses.replace(ticket, id=ticket_id)
            added[1] += 1
        for session in history.sessions:
            known = self._sessions.get((session.shop, session.key))
            if known is None or known.turns < session.turns:
                self._sessions[(session.shop, session.key)] = session
                added[2] += 1
        return Restored(turns=added[0], tickets=added[1], sessions=added[2], skipped=skipped)

    def hold(self, shop: str, session_id: str) -> AbstractAsyncContextManager[None]:
        return UNLOCKED  # turn uniqueness and a retry keep a conversation's turns in order

    async def ping(self) -> None:
        return None

    async def disconnect(self) -> None:
        return None


def from_url(url: str, root: object) -> MemoryStore:
    return MemoryStore()
