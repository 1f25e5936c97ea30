"""`Storage` in this process's memory: for tests, dialogues and trying things out. Lost on exit."""

from __future__ import annotations

import dataclasses
import math
from contextlib import AbstractAsyncContextManager

from bot.model import Agent, ApiKey, Review, Session, Ticket, TicketStatus, TurnRecord
from bot.storage import (
    UNLOCKED,
    AgentExists,
    Erased,
    History,
    KeyExists,
    Restored,
    TicketMove,
    TicketMoved,
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
        self._agents: dict[str, Agent] = {}  # token hash → agent
        self._keys: dict[str, ApiKey] = {}  # token hash → key
        self._reviews: dict[tuple[str, str], Review] = {}  # (shop, key) → the latest verdict

    async def session(self, shop: str, session_id: str) -> Session | None:
        return self._sessions.get((shop, session_id))

    async def record(self, write: TurnWrite) -> Written:
        turn = write.turn
        turns = self._turns.setdefault((turn.shop, turn.session_id), [])
        if any(t.turn == turn.turn or (turn.message_id and t.message_id == turn.message_id) for t in turns):
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
                held,
                left_messages=(*held.left_messages, turn.message),
                order_number=held.order_number or write.order_number,
            )
        return Written(turn_id=self._count, ticket_id=ticket_id)

    async def transcript(self, shop: str, session_id: str) -> list[TurnRecord]:
        return list(self._turns.get((shop, session_id), ()))

    async def answered(self, shop: str, session_id: str, message_id: str) -> TurnRecord | None:
        return next((t for t in self._turns.get((shop, session_id), ()) if t.message_id == message_id), None)

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

    async def move_ticket(self, shop: str, ticket_id: int, move: TicketMove) -> Ticket:
        ticket = await self._existing(shop, ticket_id)
        if not move.starts_at(ticket):
            raise TicketMoved(ticket)
        moved = dataclasses.replace(ticket, status=move.status, claimed_by=move.claimed_by, claimed_at=move.claimed_at,
                                    closed_at=move.closed_at, note=ticket.note if move.keep_note else move.note)  # fmt: skip
        self._tickets[ticket_id] = moved
        return moved

    async def _existing(self, shop: str, ticket_id: int) -> Ticket:
        ticket = await self.ticket(shop, ticket_id)
        if ticket is None:
            raise UnknownTicket(ticket_id)
        return ticket

    async def add_agent(self, agent: Agent, token_hash: str) -> None:
        if any(a.name == agent.name and a.revoked_at is None for a in self._agents.values()):
            raise AgentExists(agent.name)
        self._agents[token_hash] = agent

    async def agent_by_token(self, token_hash: str) -> Agent | None:
        agent = self._agents.get(token_hash)
        return agent if agent is not None and agent.revoked_at is None else None

    async def revoke_agent(self, name: str, at: float) -> bool:
        found = [h for h, a in self._agents.items() if a.name == name and a.revoked_at is None]
        for token_hash in found:
            self._agents[token_hash] = dataclasses.replace(self._agents[token_hash], revoked_at=at)
        return bool(found)

    async def agents(self) -> list[Agent]:
        return sorted((a for a in self._agents.values() if a.revoked_at is None), key=lambda a: a.name)

    async def add_key(self, key: ApiKey, token_hash: str) -> None:
        if any(
            (k.shop, k.name) == (key.shop, key.name) and k.revoked_at is None for k in self._keys.values()
        ):
            raise KeyExists(key.name)
        self._keys[token_hash] = key

    async def key_by_token(self, token_hash: str) -> ApiKey | None:
        key = self._keys.get(token_hash)
        return key if key is not None and key.revoked_at is None else None

    async def revoke_key(self, shop: str, name: str, at: float) -> bool:
        found = [
            h for h, k in self._keys.items() if (k.shop, k.name) == (shop, name) and k.revoked_at is None
        ]
        for token_hash in found:
            self._keys[token_hash] = dataclasses.replace(self._keys[token_hash], revoked_at=at)
        return bool(found)

    async def keys(self, shop: str | None = None) -> list[ApiKey]:
        working = (k for k in self._keys.values() if k.revoked_at is None and shop in (None, k.shop))
        return sorted(working, key=lambda k: (k.shop, k.name))

    async def erase(self, shop: str, session_id: str) -> Erased:
        turns = self._turns.pop((shop, session_id), [])
        gone = [i for i, t in self._tickets.items() if (t.shop, t.session_id) == (shop, session_id)]
        for i in gone:
            del self._tickets[i]
        session = self._sessions.pop((shop, session_id), None)
        events = self.events.forget(lambda e: (e.shop, e.session_id) == (shop, session_id))
        return Erased(sessions=int(session is not None), turns=len(turns), tickets=len(gone), events=events)

    async def purge(self, before: float, shop: str | None = None) -> Erased:
        def mine(of: str) -> bool:
            return shop is None or of == shop

        idle = [k for k, s in self._sessions.items() if mine(k[0]) and s.updated_at < before]
        for key in idle:
            del self._sessions[key]
        turns = 0
        for key, kept in list(self._turns.items()):
            if mine(key[0]):
                fresh = [t for t in kept if t.at >= before]
                turns += len(kept) - len(fresh)
                self._turns[key] = fresh
        gone = [i for i, t in self._tickets.items() if mine(t.shop) and t.created_at < before]
        for i in gone:
            del self._tickets[i]
        events = self.events.forget(lambda e: mine(e.shop) and e.at < before)
        return Erased(sessions=len(idle), turns=turns, tickets=len(gone), events=events)

    async def review(self, review: Review) -> None:
        self._reviews[review.shop, review.key] = review

    async def reviews(self, shop: str) -> list[Review]:
        return sorted((r for r in self._reviews.values() if r.shop == shop), key=lambda r: r.key)

    async def history(self, shop: str, since: float = 0.0, until: float = math.inf) -> History:
        return History(
            sessions=tuple(
                s
                for (s_shop, _), s in self._sessions.items()
                if s_shop == shop and since <= s.updated_at < until
            ),
            turns=tuple(
                t
                for (t_shop, _), ts in self._turns.items()
                if t_shop == shop
                for t in ts
                if since <= t.at < until
            ),
            tickets=tuple(
                t for t in self._tickets.values() if t.shop == shop and since <= t.created_at < until
            ),
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
