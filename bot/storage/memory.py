"""A `Store` in this process's memory: for tests and for trying things out. Lost on exit."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import Future

from bot.model import Session, Ticket, TicketStatus, TurnRecord
from bot.storage import TurnConflict
from bot.storage.order import by_priority


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._turns: list[TurnRecord] = []
        self._tickets: dict[int, Ticket] = {}

    def session(self, key: str) -> Session | None:
        return self._sessions.get(key)

    def turn_hint(self, key: str) -> int | None:
        session = self._sessions.get(key)
        return session.turns if session else None

    def submit(
        self, turn: TurnRecord, session: Session, ticket: Ticket | None = None, left_on: int | None = None
    ) -> Future[tuple[int, int | None]]:
        future: Future[tuple[int, int | None]] = Future()
        try:
            future.set_result(self.record(turn, session, ticket, left_on))
        except TurnConflict as exc:
            future.set_exception(exc)
        return future

    def record(
        self, turn: TurnRecord, session: Session, ticket: Ticket | None = None, left_on: int | None = None
    ) -> tuple[int, int | None]:
        with self._lock:
            if any(t.session_id == turn.session_id and t.turn == turn.turn for t in self._turns):
                raise TurnConflict(turn.session_id)
            turn_id = len(self._turns) + 1
            self._turns.append(dataclasses.replace(turn, id=turn_id))
            self._sessions[session.key] = session
            ticket_id = None
            if ticket is not None:
                ticket_id = len(self._tickets) + 1
                self._tickets[ticket_id] = dataclasses.replace(ticket, id=ticket_id)
            held = self._tickets.get(left_on) if left_on is not None else None
            if held is not None:
                self._tickets[held.id or 0] = dataclasses.replace(
                    held, left_messages=(*held.left_messages, turn.message)
                )
            return turn_id, ticket_id

    def transcript(self, session_id: str) -> list[TurnRecord]:
        return [t for t in self._turns if t.session_id == session_id]

    def open_ticket(self, session_id: str) -> Ticket | None:
        return next(
            (
                t
                for t in self._tickets.values()
                if t.session_id == session_id and t.status is not TicketStatus.CLOSED
            ),
            None,
        )

    def tickets(self, status: TicketStatus | None = None) -> list[Ticket]:
        return by_priority(t for t in self._tickets.values() if status is None or t.status is status)

    def ticket(self, ticket_id: int) -> Ticket | None:
        return self._tickets.get(ticket_id)

    def claim(self, ticket_id: int, agent: str, at: float) -> Ticket:
        with self._lock:
            ticket = self._tickets[ticket_id]
            if ticket.status is TicketStatus.CLOSED:
                raise ValueError("closed")
            self._tickets[ticket_id] = dataclasses.replace(
                ticket, status=TicketStatus.CLAIMED, claimed_by=agent, claimed_at=at
            )
            return self._tickets[ticket_id]

    def close(self, ticket_id: int, at: float, note: str | None = None) -> Ticket:
        with self._lock:
            ticket = self._tickets[ticket_id]
            self._tickets[ticket_id] = dataclasses.replace(
                ticket, status=TicketStatus.CLOSED, closed_at=at, note=note
            )
            return self._tickets[ticket_id]

    def ping(self) -> None:
        return None


def from_url(url: str, root: object) -> MemoryStore:
    return MemoryStore()
