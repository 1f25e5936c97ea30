"""Stored rows ↔ values, the same for every database: a session's state as JSON, a turn, a ticket."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from bot.model import (
    Action,
    Agent,
    ApiKey,
    DialogueState,
    HandoffReason,
    KeyKind,
    Priority,
    Review,
    Session,
    Ticket,
    TicketStatus,
    TurnRecord,
    Verdict,
)


def state_of(session: Session) -> dict[str, Any]:
    return {
        "turns": session.turns,
        "last_intent": session.last_intent,
        "misses": session.misses,
        "slots": dict(session.slots),
        "state": session.state.to_dict(),
        "handed_off": session.handed_off,
        "updated_at": session.updated_at,
    }


def session_from(shop: str, key: str, state: dict[str, Any]) -> Session:
    return Session(
        key=key,
        shop=shop,
        turns=int(state["turns"]),
        last_intent=state.get("last_intent"),
        misses=int(state.get("misses", 0)),
        slots=MappingProxyType(dict(state.get("slots", {}))),
        state=DialogueState.from_dict(state.get("state") or {}),
        handed_off=bool(state.get("handed_off", False)),
        updated_at=float(state.get("updated_at", 0.0)),
    )


def turn_from(row: Mapping[str, Any]) -> TurnRecord:
    return TurnRecord(
        id=row["id"],
        session_id=row["session_id"],
        turn=row["turn"],
        at=row["at"],
        buyer_id=row["buyer_id"],
        shop=row["shop"],
        message=row["message"],
        reply=row["reply"],
        action=Action(row["action"]),
        intent=row["intent"],
        confidence=row["confidence"],
        reason=HandoffReason(row["reason"]) if row["reason"] else None,
        topic=row["topic"],
        message_id=row["message_id"],
        agent=row["agent"],
    )


def agent_from(row: Mapping[str, Any]) -> Agent:
    return Agent(
        name=row["name"], admin=bool(row["admin"]), created_at=row["created_at"], revoked_at=row["revoked_at"]
    )


def key_from(row: Mapping[str, Any]) -> ApiKey:
    return ApiKey(shop=row["shop"], name=row["name"], kind=KeyKind(row["kind"]), created_at=row["created_at"],
                  revoked_at=row["revoked_at"])  # fmt: skip


def review_from(row: Mapping[str, Any]) -> Review:
    return Review(shop=row["shop"], key=row["key"], verdict=Verdict(row["verdict"]), by=row["by_agent"],
                  at=row["at"])  # fmt: skip


# Erasing one session: (table, condition) with (shop, session) as its parameters, in this order.
ERASE_SESSION = (
    ("turns", "shop = ? AND session_id = ?"),
    ("tickets", "shop = ? AND session_id = ?"),
    ("sessions", "shop = ? AND key = ?"),
)
# Past the retention period: (table, condition) with (before, shop, shop) as its parameters.
PURGE_BEFORE = (
    ("turns", "at < ? AND (? IS NULL OR shop = ?)"),
    ("tickets", "created_at < ? AND (? IS NULL OR shop = ?)"),
    ("sessions", "updated_at < ? AND (? IS NULL OR shop = ?)"),
    ("events", "at < ? AND (? IS NULL OR shop = ?)"),
)


def session_pattern(session_id: str) -> str:
    """A LIKE pattern that finds the stored events (JSON, `bot.storage.events.to_json`) of a session."""
    quoted = json.dumps(session_id, ensure_ascii=False)
    escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f'%"session_id": {escaped},%'


# /readyz's real write, the same in both SQL stores ("?" placeholders).
HEALTH_WRITE = "INSERT INTO health (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at"
# The upsert both SQL stores run ("?" placeholders; PostgreSQL's driver takes "%s").
REVIEW_UPSERT = (
    "INSERT INTO reviews (shop, key, verdict, by_agent, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (shop, key)"
    " DO UPDATE SET verdict = excluded.verdict, by_agent = excluded.by_agent, at = excluded.at"
)


def review_values(review: Review) -> tuple[str, str, str, str, float]:
    return (review.shop, review.key, review.verdict.value, review.by, review.at)


def ticket_from(row: Mapping[str, Any]) -> Ticket:
    return Ticket(
        id=row["id"],
        shop=row["shop"],
        session_id=row["session_id"],
        buyer_id=row["buyer_id"],
        reason=HandoffReason(row["reason"]),
        priority=Priority(row["priority"]),
        status=TicketStatus(row["status"]),
        created_at=row["created_at"],
        claimed_by=row["claimed_by"],
        claimed_at=row["claimed_at"],
        closed_at=row["closed_at"],
        note=row["note"],
        left_messages=tuple(_listed(row["left_messages"])),
        questions=tuple(_listed(row["questions"])),
        order_number=row["order_number"],
    )


# The columns of a turn and of a ticket after their id, in the same order in every database, and
# their values in that order (a ticket's JSON arrays as text).
TURN_COLUMNS = ("shop", "session_id", "turn", "at", "buyer_id", "message", "reply", "action", "intent",
                "confidence", "reason", "topic", "message_id", "agent")  # fmt: skip
TICKET_COLUMNS = ("shop", "session_id", "buyer_id", "reason", "priority", "status", "created_at", "claimed_by",
                  "claimed_at", "closed_at", "note", "left_messages", "order_number", "questions")  # fmt: skip


def turn_values(turn: TurnRecord) -> tuple[Any, ...]:
    return (
        turn.shop, turn.session_id, turn.turn, turn.at, turn.buyer_id, turn.message, turn.reply,
        turn.action.value, turn.intent, turn.confidence, turn.reason.value if turn.reason else None,
        turn.topic, turn.message_id, turn.agent,
    )  # fmt: skip


def ticket_values(ticket: Ticket) -> tuple[Any, ...]:
    return (
        ticket.shop, ticket.session_id, ticket.buyer_id, ticket.reason.value, ticket.priority,
        ticket.status.value, ticket.created_at, ticket.claimed_by, ticket.claimed_at, ticket.closed_at,
        ticket.note, json.dumps(list(ticket.left_messages), ensure_ascii=False), ticket.order_number,
        json.dumps(list(ticket.questions), ensure_ascii=False),
    )  # fmt: skip


def _listed(value: Any) -> list[str]:
    """A JSON array as the database gives it: text (SQLite) or already parsed (PostgreSQL's jsonb)."""
    return list(json.loads(value) if isinstance(value, str) else value)
