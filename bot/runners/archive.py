"""`bot db export` / `bot db import`: a shop's history as JSON lines, to move it between storages
(a shop that starts on SQLite and grows onto PostgreSQL keeps its transcripts and tickets).

    {"format": "dianxiaoer-history", "version": 1, "shop": "default", "since": 0}
    {"session": {"shop": …, "key": …, "state": {…}}}
    {"turn": {"shop": …, "session_id": …, "turn": 1, "message": …, "reply": …, …}}
    {"ticket": {"shop": …, "session_id": …, "reason": …, "status": …, …}}
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Iterator
from typing import Any

from bot.storage import History
from bot.storage.rows import session_from, state_of, ticket_from, turn_from

FORMAT, VERSION = "dianxiaoer-history", 1


class BadHistory(ValueError):
    """A line of an export file that cannot be read; says which and why."""


def lines(history: History, shop: str, since: float) -> Iterator[str]:
    yield _dumps({"format": FORMAT, "version": VERSION, "shop": shop, "since": since})
    for session in history.sessions:
        yield _dumps({"session": {"shop": session.shop, "key": session.key, "state": state_of(session)}})
    for turn in history.turns:
        yield _dumps({"turn": _plain(turn)})
    for ticket in history.tickets:
        yield _dumps({"ticket": _plain(ticket)})


def read(rows: Iterable[str]) -> History:
    sessions, turns, tickets = [], [], []
    for number, line in enumerate(rows, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if number == 1:
                if row.get("format") != FORMAT or row.get("version") != VERSION:
                    raise ValueError(f"not a {FORMAT} file of version {VERSION}")
                continue
            ((kind, value),) = row.items()
            if kind == "session":
                sessions.append(session_from(value["shop"], value["key"], value["state"]))
            elif kind == "turn":
                turns.append(
                    turn_from({"message_id": None, "agent": None, **value, "id": None})
                )  # older files have none
            elif kind == "ticket":
                tickets.append(ticket_from({**value, "id": None}))
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadHistory(f"第 {number} 行读不了（line {number} cannot be read）：{exc}") from None
    return History(sessions=tuple(sessions), turns=tuple(turns), tickets=tuple(tickets))


def _plain(value: Any) -> dict[str, Any]:
    out = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        out[field.name] = (
            item.value if isinstance(item, enum.Enum) else list(item) if isinstance(item, tuple) else item
        )
    out.pop("id", None)
    return out


def _dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True)
