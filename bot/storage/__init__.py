"""Where sessions, transcripts and handoff tickets live, behind one small interface.

The app never talks to a database directly: it uses a `Store`. `MemoryStore` serves tests and
experiments, `SQLiteStore` is the embedded default. A Redis/PostgreSQL store implements the same
methods.
"""

from __future__ import annotations

from typing import Protocol

from bot.model import Session, Ticket, TicketStatus, TurnRecord


class TurnConflict(Exception):
    """Another request recorded this turn of the session first; read the session again and retry."""


class Store(Protocol):
    def session(self, key: str) -> Session | None:
        """The saved state of a session, or None if it never spoke."""

    def record(self, turn: TurnRecord, session: Session, ticket: Ticket | None) -> tuple[int, int | None]:
        """Write the turn, the session after it and a new ticket, all or nothing, durably, before the
        reply goes out. Returns (turn id, ticket id). Raises `TurnConflict` if the turn exists."""

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

    def leave_message(self, ticket_id: int, text: str) -> None:
        """Add what the buyer wrote while waiting to the ticket, for the agent."""

    def ping(self) -> None:
        """Raise if the store cannot be written."""


__all__ = ["Store", "TurnConflict"]
