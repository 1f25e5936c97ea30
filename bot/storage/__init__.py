"""Where sessions, transcripts and handoff tickets live, behind one small interface.

The app never talks to a database directly: it uses a `Store`. `MemoryStore` serves tests and
experiments, `SQLiteStore` is the embedded default. A Redis/PostgreSQL store implements the same
methods.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Protocol

from bot.model import Session, Ticket, TicketStatus, TurnRecord


class TurnConflict(Exception):
    """Another request recorded this turn of the session first; read the session again and retry."""


class Store(Protocol):
    def session(self, key: str) -> Session | None:
        """The saved state of a session, or None if it never spoke."""

    def turn_hint(self, key: str) -> int | None:
        """The turn the session last reached, if the store can tell without I/O: a hint that may be
        out of date (the write of a turn planned on it then conflicts), or None."""

    def submit(
        self, turn: TurnRecord, session: Session, ticket: Ticket | None = None, left_on: int | None = None
    ) -> Future[tuple[int, int | None]]:
        """Write the turn, the session after it, a new ticket and (with `left_on`) the buyer's message
        into the ticket a person holds: all or nothing. The future is done once the write is durable,
        with (turn id, ticket id), or fails with `TurnConflict` if the turn exists (nothing written)."""

    def record(
        self, turn: TurnRecord, session: Session, ticket: Ticket | None = None, left_on: int | None = None
    ) -> tuple[int, int | None]:
        """`submit(...)` and wait for it: the reply may go out when this returns."""

    def transcript(self, session_id: str) -> list[TurnRecord]: ...

    def open_ticket(self, session_id: str) -> Ticket | None:
        """The session's ticket that is not closed yet, if any."""

    def tickets(self, status: TicketStatus | None = None) -> list[Ticket]:
        """Tickets, high priority first, then oldest first."""

    def ticket(self, ticket_id: int) -> Ticket | None: ...

    def claim(self, ticket_id: int, agent: str, at: float) -> Ticket:
        """Mark an open ticket as taken by `agent`; KeyError if unknown, ValueError if closed."""

    def close(self, ticket_id: int, at: float, note: str | None = None) -> Ticket:
        """Close a ticket; the bot answers the session again. KeyError if unknown."""

    def ping(self) -> None:
        """Raise if the store cannot be written."""


__all__ = ["Store", "TurnConflict"]
