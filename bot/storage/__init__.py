"""Where sessions, transcripts and handoff tickets live: small async protocols by what they hold.

A turn reads its session (`Sessions`), then stores in one write (`Recorder.record`) the turn, the
session after it, the ticket it opened and the message it left on a held ticket: all or nothing,
durable before the reply goes out, and never twice (a turn of a session already stored is a
`TurnConflict`; the service reads the session again and retries). Agents and admins read
`Transcripts` and work `Tickets`, and hear of what happens through `Events`. Everything is keyed by
(shop, session).

`bot.storage.urls` opens a `Storage` from a URL: memory and SQLite implement every protocol in one
class; a backend may implement only some of them (sessions in Redis) and be combined with another
for the rest, in the factory, without the service or the faces knowing.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from bot.model import Agent, ApiKey, Event, Review, Session, Ticket, TicketStatus, TurnRecord


class StorageError(Exception):
    """Something the storage layer refuses; each kind is translated once, at the HTTP edge."""


class TurnConflict(StorageError):
    """Another request recorded this turn of the session first; read the session again and retry."""


class UnknownTicket(StorageError):
    """No ticket with this id in this shop."""


class TicketMoved(StorageError):
    """The ticket is not where a move starts (someone else moved it first): `ticket` is where it is."""

    def __init__(self, ticket: Ticket, attempted: str = "move") -> None:
        super().__init__(ticket.id)
        self.ticket = ticket
        self.attempted = attempted  # claim, transfer, release, close, message


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketMove:
    """One step of a ticket's life: from one of `from_statuses` (and, if `held_by`, only while that
    agent holds it) to the given fields (`MOVED` lists which)."""

    from_statuses: frozenset[TicketStatus]
    held_by: str | None = None
    status: TicketStatus
    claimed_by: str | None = None
    claimed_at: float | None = None
    closed_at: float | None = None
    note: str | None = None
    keep_note: bool = False  # leave the ticket's note as it is

    def changes(self) -> dict[str, object]:
        """Column → value of what the move writes."""
        out: dict[str, object] = {"status": self.status.value, "claimed_by": self.claimed_by,
                                  "claimed_at": self.claimed_at, "closed_at": self.closed_at}  # fmt: skip
        if not self.keep_note:
            out["note"] = self.note
        return out

    def starts_at(self, ticket: Ticket) -> bool:
        return ticket.status in self.from_statuses and (
            self.held_by is None or ticket.claimed_by == self.held_by
        )


class SessionBusy(StorageError):
    """Another replica is taking a turn of this conversation and did not finish in time."""


class StorageUnavailable(StorageError):
    """The database cannot be reached now; nothing was written. Retry shortly: connections come back
    by themselves when it does. `store` names which one (sqlite, postgresql, redis)."""

    def __init__(self, message: str, store: str = "") -> None:
        super().__init__(message)
        self.store = store


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnWrite:
    """Everything one turn stores: the turn, the session after it, a ticket it opened, and the id of
    the held ticket the buyer's message is left on."""

    turn: TurnRecord
    session: Session
    ticket: Ticket | None = None
    left_on: int | None = None
    order_number: str | None = None  # found in the message left on the held ticket: kept if it has none


@dataclass(frozen=True, slots=True, kw_only=True)
class Written:
    turn_id: int
    ticket_id: int | None = None


class Sessions(Protocol):
    async def session(self, shop: str, session_id: str) -> Session | None:
        """The session as its last stored turn left it, or None if it never spoke."""


class Recorder(Protocol):
    async def record(self, write: TurnWrite) -> Written:
        """Store a turn's write, all or nothing; done once it is durable. `TurnConflict` (nothing
        written) if this turn of the session is already stored."""


class Transcripts(Protocol):
    async def transcript(self, shop: str, session_id: str) -> list[TurnRecord]:
        """The session's turns, oldest first."""

    async def answered(self, shop: str, session_id: str, message_id: str) -> TurnRecord | None:
        """The turn stored for the caller's message `message_id` of this session, if there is one."""


class Tickets(Protocol):
    async def open_ticket(self, shop: str, session_id: str) -> Ticket | None:
        """The session's ticket that is not closed yet, if any."""

    async def tickets(self, shop: str, status: TicketStatus | None = None) -> list[Ticket]:
        """The shop's tickets, high priority first, then oldest first."""

    async def ticket(self, shop: str, ticket_id: int) -> Ticket | None: ...

    async def move_ticket(self, shop: str, ticket_id: int, move: TicketMove) -> Ticket:
        """Apply `move` in one step if the ticket is where the move starts (compare and set): the
        ticket after it; `UnknownTicket`, or `TicketMoved` with the ticket as it is now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """A shop's sessions, turns and tickets, to move between storages (`bot db export` / `import`)."""

    sessions: tuple[Session, ...] = ()
    turns: tuple[TurnRecord, ...] = ()
    tickets: tuple[Ticket, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Restored:
    turns: int
    tickets: int
    sessions: int
    skipped: int  # already there: a turn of the same (shop, session, turn), a ticket of the same moment


class Archive(Protocol):
    async def history(self, shop: str, since: float = 0.0, until: float = math.inf) -> History:
        """Everything of `shop` from `since` until before `until`: sessions updated, turns taken,
        tickets opened."""

    async def restore(self, history: History) -> Restored:
        """Add what the storage does not have yet, in one transaction; what it has is skipped, so
        importing the same history twice adds nothing. Tickets get new ids."""


class Locks(Protocol):
    def hold(self, shop: str, session_id: str) -> AbstractAsyncContextManager[None]:
        """Held while a turn of the conversation runs, across replicas where the storage can
        (`SessionBusy` if another does not let go in time); where it cannot, the turn uniqueness
        and a retry keep turns in order instead."""


# `Locks.hold` of a storage without conversation locks.
UNLOCKED: AbstractAsyncContextManager[None] = contextlib.nullcontext()
# How long a turn waits for another turn of its conversation (on another replica) to finish.
WAIT_SECONDS = 3.0


class Events(Protocol):
    """Events for listeners (an agent's queue, a buyer's window), across replicas where the
    storage can (Redis), else within this process."""

    async def publish(self, event: Event) -> Event:
        """Tell every listener; the event comes back with its id."""
        ...

    def follow(self, shop: str | None = None, after: str | None = None) -> AsyncIterator[Event]:
        """The shop's events (None: every shop's) after the one with id `after`, as far as they
        are still kept, then each new one as it happens; without `after`, only new ones."""
        ...

    async def latest(self) -> str:
        """An id to follow from that means "everything after now": read it before reading what the
        events are about (a transcript), and nothing that happens in between is missed."""
        ...


class AgentExists(StorageError):
    """An agent of that name already has a token that works."""


class Agents(Protocol):
    """Who may answer handed-off buyers: each agent's token is kept only as its hash."""

    async def add_agent(self, agent: Agent, token_hash: str) -> None:
        """Raise `AgentExists` when an agent of that name has a token that is not revoked."""

    async def agent_by_token(self, token_hash: str) -> Agent | None:
        """The agent whose token has this hash, unless it was revoked."""

    async def revoke_agent(self, name: str, at: float) -> bool:
        """Revoke the agent's token (at once, on every replica); False when there was none."""

    async def agents(self) -> list[Agent]:
        """Every agent whose token works, by name."""


class KeyExists(StorageError):
    """The shop already has a working key of that name."""


class Keys(Protocol):
    """Who may chat for a shop: each key is kept only as its hash."""

    async def add_key(self, key: ApiKey, token_hash: str) -> None:
        """Raise `KeyExists` when the shop has a working key of that name."""

    async def key_by_token(self, token_hash: str) -> ApiKey | None:
        """The key with this hash, unless it was revoked."""

    async def revoke_key(self, shop: str, name: str, at: float) -> bool:
        """Revoke a shop's key; False when there was none."""

    async def keys(self, shop: str | None = None) -> list[ApiKey]:
        """The working keys of a shop (of every shop with None), by shop and name."""


class Reviews(Protocol):
    """What admins decided about mined questions (`bot.runners.mine`), so that a question dealt with
    is not proposed again, on any replica, until buyers miss it again."""

    async def review(self, review: Review) -> None:
        """Keep the verdict on the shop's question `review.key`, replacing an earlier one."""

    async def reviews(self, shop: str) -> list[Review]:
        """The shop's verdicts, by key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Erased:
    sessions: int = 0
    turns: int = 0
    tickets: int = 0
    events: int = 0


class Erasure(Protocol):
    """A buyer's data erased on request, and everything past the shop's retention period."""

    async def erase(self, shop: str, session_id: str) -> Erased:
        """The session, its turns, its tickets and the events about it, gone."""

    async def purge(self, before: float, shop: str | None = None) -> Erased:
        """Every session not spoken in since `before`, with its turns, tickets and events (of one
        shop, or of every shop with None); turns and events older than `before` of the others too."""


class Storage(Sessions, Recorder, Transcripts, Tickets, Locks, Archive, Agents, Keys, Reviews, Erasure, Protocol):
    """All that the turn service and the faces use, from one URL."""

    @property
    def events(self) -> Events:
        """Where this storage's events go and come from."""
        ...

    async def ping(self) -> None:
        """Raise if the storage cannot be written."""

    async def disconnect(self) -> None:
        """Let go of the connections opened on the running event loop (a server shutting down)."""


__all__ = [
    "UNLOCKED",
    "WAIT_SECONDS",
    "AgentExists",
    "Agents",
    "Archive",
    "Erased",
    "Erasure",
    "Events",
    "History",
    "KeyExists",
    "Keys",
    "Locks",
    "Recorder",
    "Restored",
    "Reviews",
    "SessionBusy",
    "Sessions",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "TicketMove",
    "TicketMoved",
    "Tickets",
    "Transcripts",
    "TurnConflict",
    "TurnWrite",
    "UnknownTicket",
    "Written",
]
