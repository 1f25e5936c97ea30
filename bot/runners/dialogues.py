"""Regression dialogues: load tests/dialogues/*.yaml, run each in a fresh session, compare.

The same runner serves `bot test` and the pytest plugin. Turns go through `Conversations` with an
in-memory store, exactly as HTTP turns do (handoff tickets, held sessions), on a fixed clock, so
two runs give identical results.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot.engine import Engine
from bot.loading import yamlfile
from bot.loading.schema import DialogueFile, DialogueShape, TurnShape, validate
from bot.model import DEFAULT_SHOP, Origin, Reply
from bot.problems import Problem, errors, problem
from bot.service import in_memory
from bot.stages.render import shop_values

# The clock of a dialogue that does not set one: a Monday morning, China time.
DEFAULT_NOW = "2026-01-05T10:00:00+08:00"
SECONDS_BETWEEN_TURNS = 20.0
EXPECTATIONS = (
    "intent", "topic", "action", "reply_contains", "reply_matches", "slots", "asked", "options", "follow_up", "handoff_reason",
    "priority", "confidence_at_least",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueTurn:
    buyer: str
    after_minutes: float
    expect: Mapping[str, Any]
    origin: Origin


@dataclass(frozen=True, slots=True, kw_only=True)
class Dialogue:
    name: str
    origin: Origin
    shop: Mapping[str, str]
    now: float
    context: Mapping[str, str]
    turns: tuple[DialogueTurn, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Mismatch:
    field: str
    expected: Any
    actual: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnOutcome:
    index: int
    turn: DialogueTurn
    reply: Reply
    priority: str | None
    slots: Mapping[str, str]
    mismatches: tuple[Mismatch, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueResult:
    dialogue: Dialogue
    turns: tuple[TurnOutcome, ...]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(not t.mismatches for t in self.turns)


def find(paths: Iterable[Path]) -> list[Path]:
    """The dialogue files under the given files and folders, sorted."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found |= {*path.rglob("*.yaml"), *path.rglob("*.yml")}
        else:
            found.add(path)
    return sorted(found)


def load(path: Path, shown: str) -> tuple[list[Dialogue], list[Problem]]:
    document, problems = yamlfile.read(path, shown)
    if errors(problems):
        return [], problems
    parsed, found = validate(DialogueFile, document, shown)
    problems += found
    if parsed is None or not isinstance(document, yamlfile.YMap):
        return [], problems
    listed = document["dialogues"]
    dialogues = [_dialogue(shape, listed[i], shown) for i, shape in enumerate(parsed.dialogues)]
    for dialogue in dialogues:
        for turn in dialogue.turns:
            pattern = turn.expect.get("reply_matches")
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    problems.append(problem("bad-regex", turn.origin, regex=pattern, detail=str(exc)))
    return dialogues, problems


def _dialogue(shape: DialogueShape, node: Any, shown: str) -> Dialogue:
    turns_at = node.get("turns") if isinstance(node, yamlfile.YMap) else None
    given = shape.overrides.context
    context = given.flat() if given else {}
    now = datetime.fromisoformat(shape.overrides.now or DEFAULT_NOW).timestamp()
    return Dialogue(
        name=shape.name,
        origin=yamlfile.origin_of(node, "name", Origin(file=shown)),
        shop=MappingProxyType(shop_values(shape.overrides.shop)),
        now=now,
        context=MappingProxyType(context),
        turns=tuple(
            DialogueTurn(
                buyer=t.buyer,
                after_minutes=t.after_minutes,
                expect=_expectations(t),
                origin=yamlfile.origin_of(turns_at, i, Origin(file=shown)),
            )
            for i, t in enumerate(shape.turns)
        ),
    )


def _expectations(turn: TurnShape) -> Mapping[str, Any]:
    given = turn.model_fields_set
    return MappingProxyType({k: getattr(turn, k) for k in EXPECTATIONS if k in given})


def run(bot: Engine, dialogue: Dialogue) -> DialogueResult:
    """Play a dialogue in a fresh session and compare every turn with what it expects."""
    started = time.perf_counter()
    if dialogue.shop:
        shop = dataclasses.replace(bot.shop, values=MappingProxyType({**bot.shop.values, **dialogue.shop}))
        bot = Engine(shop)
    clock = _Clock(dialogue.now)
    conversations = in_memory(bot, clock)
    session_id = f"dialogue:{dialogue.name}"
    outcomes = []
    for index, turn in enumerate(dialogue.turns, 1):
        clock.now += turn.after_minutes * 60
        result = conversations.turn(session_id, turn.buyer, context=dialogue.context)
        session = conversations.run(conversations.storage.session(DEFAULT_SHOP, session_id))
        slots = session.slots if session else MappingProxyType({})
        asked = session.state.asked.value if session and session.state.asked else None
        priority = result.ticket.priority if result.ticket else None
        outcomes.append(TurnOutcome(
            index=index, turn=turn, reply=result.reply, priority=priority, slots=slots,
            mismatches=tuple(_compare(turn.expect, result.reply, priority, slots, asked)),
        ))  # fmt: skip
        clock.now += SECONDS_BETWEEN_TURNS
    return DialogueResult(dialogue=dialogue, turns=tuple(outcomes), seconds=time.perf_counter() - started)


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _compare(
    expect: Mapping[str, Any], reply: Reply, priority: str | None, slots: Mapping[str, str], asked: str | None
) -> list[Mismatch]:
    out = []
    actual: dict[str, Any] = {
        "intent": reply.intent,
        "topic": reply.topic,
        "action": reply.action.value,
        "handoff_reason": reply.reason.value if reply.reason else None,
        "priority": priority,
        "asked": asked,
        "options": [o.intent for o in reply.options],
        "follow_up": reply.follow_up is not None,
    }
    for key in ("intent", "topic", "action", "handoff_reason", "priority", "asked", "options", "follow_up"):
        if key in expect and expect[key] != actual[key]:
            out.append(Mismatch(field=key, expected=expect[key], actual=actual[key]))
    if "reply_contains" in expect:
        wanted = expect["reply_contains"]
        for piece in [wanted] if isinstance(wanted, str) else wanted:
            if piece not in reply.text:
                out.append(Mismatch(field="reply_contains", expected=piece, actual=reply.text))
    if "reply_matches" in expect and not re.search(expect["reply_matches"], reply.text, re.S):
        out.append(Mismatch(field="reply_matches", expected=expect["reply_matches"], actual=reply.text))
    if "slots" in expect:
        for key, value in (expect["slots"] or {}).items():
            if slots.get(key) != value:
                out.append(Mismatch(field=f"slots.{key}", expected=value, actual=slots.get(key)))
    if "confidence_at_least" in expect and reply.confidence < expect["confidence_at_least"]:
        out.append(
            Mismatch(
                field="confidence_at_least", expected=expect["confidence_at_least"], actual=reply.confidence
            )
        )
    return out
