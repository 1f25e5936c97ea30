"""The agents' side of a handoff: one state machine for a ticket, and the agent's messages.

    bot ──handoff──► open (waiting) ──claim──► claimed (with an agent) ──close──► closed ──► bot
                         ▲                         │  ▲
                         └────────release──────────┘  └──transfer (to another agent, with a note)

A close from `open` is allowed too (an agent answers nothing and gives the buyer back to the bot).
Every move is one compare-and-set in the storage, so two agents racing for one ticket cannot both
win: the loser gets `TicketMoved` with the ticket as it is (409 at the HTTP edge). Repeating a
move that is already done (a second claim by the holder, a second close) returns the ticket as it
is, note kept. Only the agent who holds a ticket moves it on or writes to the buyer; an admin may
act on any. Every move is told to the listeners (`bot.storage.Events`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.model import Agent, EventKind, Ticket, TicketStatus, TurnRecord
from bot.service import Conversations
from bot.storage import TicketMove, TicketMoved, UnknownTicket

_OPEN, _CLAIMED, _CLOSED = TicketStatus.OPEN, TicketStatus.CLAIMED, TicketStatus.CLOSED


class UnknownAgent(Exception):
    """A transfer to a name that is no working agent."""


class Desk:
    """Ticket moves and agents' messages, on top of the turn service."""

    def __init__(self, conversations: Conversations) -> None:
        self.conversations = conversations
        self.storage = conversations.storage
        self._clock = conversations.clock

    async def claim(self, shop: str, ticket_id: int, agent: Agent) -> Ticket:
        move = TicketMove(from_statuses=frozenset({_OPEN}), status=_CLAIMED, claimed_by=agent.name,
                          claimed_at=self._clock(), keep_note=True)  # fmt: skip
        return await self._move(shop, ticket_id, move, "claim", EventKind.TICKET_CLAIMED, {"agent": agent.name},
                                done=lambda t: t.status is _CLAIMED and t.claimed_by == agent.name)  # fmt: skip

    async def transfer(self, shop: str, ticket_id: int, agent: Agent, to: str, note: str | None) -> Ticket:
        if to not in {a.name for a in await self.storage.agents()}:
            raise UnknownAgent(to)
        move = TicketMove(from_statuses=frozenset({_CLAIMED}), held_by=_holder(agent), status=_CLAIMED,
                          claimed_by=to, claimed_at=self._clock(), note=note, keep_note=note is None)  # fmt: skip
        data = {"agent": to, "from": agent.name, **({"note": note} if note else {})}
        return await self._move(shop, ticket_id, move, "transfer", EventKind.TICKET_CLAIMED, data)

    async def release(self, shop: str, ticket_id: int, agent: Agent) -> Ticket:
        """Back to the queue for another agent (the buyer still waits for a person)."""
        move = TicketMove(
            from_statuses=frozenset({_CLAIMED}), held_by=_holder(agent), status=_OPEN, keep_note=True
        )
        return await self._move(shop, ticket_id, move, "release", EventKind.TICKET_OPENED, {"from": agent.name},
                                done=lambda t: t.status is _OPEN)  # fmt: skip

    async def close(self, shop: str, ticket_id: int, agent: Agent, note: str | None) -> Ticket:
        """Done: the bot answers the buyer again from the next message on."""
        current = await self._ticket(shop, ticket_id)
        move = TicketMove(from_statuses=frozenset({_OPEN, _CLAIMED}), status=_CLOSED,
                          claimed_by=current.claimed_by, claimed_at=current.claimed_at, closed_at=self._clock(),
                          note=note, keep_note=note is None)  # fmt: skip
        if current.status is _CLAIMED and not agent.admin and current.claimed_by != agent.name:
            raise TicketMoved(current, "close")
        return await self._move(shop, ticket_id, move, "close", EventKind.TICKET_CLOSED,
                                {"agent": agent.name, **({"note": note} if note else {})},
                                done=lambda t: t.status is _CLOSED)  # fmt: skip

    async def message(self, shop: str, ticket_id: int, agent: Agent, text: str) -> TurnRecord:
        """The agent's reply to the buyer, while the agent holds the ticket."""
        ticket = await self._ticket(shop, ticket_id)
        if ticket.status is not _CLAIMED or (ticket.claimed_by != agent.name and not agent.admin):
            raise TicketMoved(ticket, "message")
        return await self.conversations.agent_turn(ticket, agent.name, text)

    async def _ticket(self, shop: str, ticket_id: int) -> Ticket:
        ticket = await self.storage.ticket(shop, ticket_id)
        if ticket is None:
            raise UnknownTicket(ticket_id)
        return ticket

    async def _move(self, shop: str, ticket_id: int, move: TicketMove, name: str, kind: EventKind,
                    data: Mapping[str, str], done: Callable[[Ticket], bool] | None = None) -> Ticket:  # fmt: skip
        try:
            ticket = await self.storage.move_ticket(shop, ticket_id, move)
        except TicketMoved as exc:
            if done is not None and done(exc.ticket):
                return exc.ticket  # already done: doing it again changes nothing
            raise TicketMoved(exc.ticket, name) from None
        await self.conversations.tell(ticket, kind, data)
        return ticket


def _holder(agent: Agent) -> str | None:
    """Whose hold a move needs: the agent's own, or none for an admin."""
    return None if agent.admin else agent.name


__all__ = ["Desk", "UnknownAgent"]
