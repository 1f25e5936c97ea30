"""`Engine`: a loaded shop's pure turn: normalise → segment → match → flows → render, no I/O."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self

from bot import flows
from bot.flows.draft import TurnDraft
from bot.model import (
    Action,
    Asked,
    Decision,
    DialogueState,
    Evidence,
    EvidenceKind,
    Message,
    Option,
    Reply,
    Session,
    intent_of,
    topic_of,
)
from bot.problems import LoadError
from bot.shop import Shop, load_shop
from bot.stages import extract, hours
from bot.stages.render import compose, fill

# Messages longer than this are cut before matching: no question needs more, and cost stays bounded.
MAX_MATCH_CHARS = 1000
# What the buyer told that is kept across turns (sessions stored by earlier versions hold other keys).
DURABLE_SLOTS = frozenset({"height_cm", "weight_kg", "size", "order_number"})


class Engine:
    """A shop's replies, one pure turn at a time: `respond(session, text) -> (reply, session after)`.

    Stores nothing (the clock is read only when `now` is not given); the turn service (`bot.service`) keeps
    the sessions, transcripts and tickets around it."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    @classmethod
    def from_config(cls, path: str | Path = "config.yaml") -> Self:
        """Load the shop described by config.yaml; raise `LoadError` listing every problem."""
        return cls(load(path))

    def understand(self, text: str) -> tuple[Message, list[Any], Any]:
        """Normalise, segment and match one message (no session, no reply)."""
        message, matches = self.shop.read(text[:MAX_MATCH_CHARS])
        return message, matches, self.shop.anger(message.raw, message.text)

    def respond(
        self, session: Session, text: str, context: Mapping[str, str] | None = None, now: float | None = None
    ) -> tuple[Reply, Session]:
        """One turn: the reply to `text` and the session as it stands after it. Pure: stores nothing.

        `context` holds what the caller knows, as flat names (`order.courier`, `product.category`);
        answers that use such a name, or are conditioned on it, are chosen only when the caller gave it."""
        turn = session.turns + 1
        at = time.time() if now is None else now
        settings = self.shop.settings
        typed, kind = self.shop.placeholders.split(text[:MAX_MATCH_CHARS])
        message, matches, anger = self.understand(typed)
        values = {
            **self.shop.values,
            **{k: str(v) for k, v in (context or {}).items() if v not in (None, "")},
            "next_open": hours.next_open(at, settings.service),
        }
        if kind is None and not message.text and text.strip():
            kind = "emoji"  # only emoji or emoticon codes
        if not message.text and kind is None:
            reply = Reply(text=fill(settings.replies["empty"], values), action=Action.CLARIFY, intent=None,
                          confidence=0.0, reason=None, session_id=session.key, turn=turn)  # fmt: skip
            return reply, dataclasses.replace(session, turns=turn, updated_at=at)

        state = session.state
        expecting_height = state.asked in (Asked.HEIGHT, Asked.SIZE) or "sizing" in state.options
        measured = extract.body(message.text, expecting_height=expecting_height)
        numbers = extract.order_numbers(message.text) + extract.tracking_numbers(message.text)
        slots = {k: v for k, v in session.slots.items() if k in DURABLE_SLOTS}
        if numbers:
            slots["order_number"] = numbers[0]
        draft = flows.run(
            TurnDraft(
                session=session, message=message, kind=kind or "text", matches=tuple(matches), anger=anger,
                values=values, measured=measured, numbers=numbers, slots=MappingProxyType(slots),
            ),
            self.shop,
        )  # fmt: skip
        decision = draft.decision
        assert decision is not None  # the own-terms flow always decides

        evidence = tuple(e for m in matches if m.intent_id == decision.intent_id for e in m.evidence)
        evidence += tuple(
            dataclasses.replace(e, detail=f"{m.intent_id}: {e.detail}")
            for m in matches
            if m.vetoed and m.intent_id != decision.intent_id
            for e in m.evidence
            if e.weight < 0
        )
        evidence += draft.evidence
        evidence += tuple(
            Evidence(kind=EvidenceKind.CONCEPT, detail=f"{word}→{name}", weight=0.0)
            for word, name in message.concepts
        )
        evidence += tuple(
            Evidence(kind=EvidenceKind.SOUND, detail=f"{typed_as}→{word}", weight=0.0)
            for typed_as, word in message.heard
        )
        values |= {"order_number": draft.slots.get("order_number", "")}
        today = hours.local(at, settings.service).date()
        composed = [
            compose(d, self.shop.intents.templates, settings.replies, values, self.title,
                    session_id=session.key, turn=turn, today=today)
            for d in (decision, *draft.also)  # a message that asked two things: its answers in order
        ]  # fmt: skip
        reply_text, variant, rule = composed[0]
        reply_text = "\n".join(text for text, _, _ in composed)
        if draft.reply_text is not None:
            reply_text, variant = draft.reply_text, None
        reply_text = "\n".join((reply_text, *draft.extra))
        if decision.action is Action.HANDOFF and not hours.is_open(at, settings.service):
            reply_text += "\n" + fill(settings.replies["after_hours"], values)
        if session.turns == 0 and settings.service.welcome:
            welcome = fill(settings.service.welcome, values)
            reply_text = welcome if decision.intent_id == "greeting" else f"{welcome}\n{reply_text}"
        if rule is not None:
            evidence += (
                Evidence(
                    kind=EvidenceKind.ANSWER_RULE, detail=rule.describe(), weight=1.0, origin=rule.origin
                ),
            )

        after = dataclasses.replace(
            session,
            turns=turn,
            last_intent=decision.intent_id if decision.action is Action.ANSWER else session.last_intent,
            misses=_misses(session.misses, decision),
            slots=draft.slots,
            state=_state_after(state, draft, decision),
            handed_off=session.handed_off or decision.action is Action.HANDOFF,
            updated_at=at,
        )
        offered = after.state.asked in (Asked.CHOICE, Asked.CONFIRM)
        options = tuple(
            Option(intent=intent_of(o), topic=topic_of(o), title=self.title(intent_of(o), topic_of(o)))
            for o in (after.state.options if offered else ())
        )
        reply = Reply(
            text=reply_text,
            variant=variant,
            action=decision.action,
            intent=decision.intent_id,
            confidence=decision.confidence,
            reason=decision.reason,
            session_id=session.key,
            turn=turn,
            candidates=decision.alternatives,
            tokens=message.words,
            normalized=message.text,
            evidence=evidence,
            anger=anger.intensity if anger else 0,
            slots=after.slots,
            options=options,
            follow_up=decision.follow_up,
            kind=draft.kind,
            topic=decision.topic if decision.intent_id is not None else None,
            parts=draft.parts,
        )
        return reply, after

    def title(self, intent_id: str, topic: str | None = None) -> str:
        return self.shop.intents.title(intent_id, topic)


def _misses(before: int, decision: Decision) -> int:
    """Unclear messages in a row: a clarifying question adds one; an answer resets the count, and
    so does a handoff (a person takes it from there)."""
    if decision.action is Action.CLARIFY and decision.prompt in (None, "not_helpful"):
        return before + 1
    return before if decision.action is Action.CLARIFY else 0


def _state_after(before: DialogueState, draft: TurnDraft, decision: Decision) -> DialogueState:
    """What the next turn needs to know of this one: what was asked and offered, what was answered
    and how sure that topic is (a follow-up keeps the confidence of the answer it follows)."""
    asked = draft.asked
    offered = asked in (Asked.CHOICE, Asked.CONFIRM)
    options = tuple(c.topic or c.intent_id for c in decision.alternatives) if offered else ()
    if decision.action is Action.ANSWER:
        sure = before.answered_confidence if decision.follow_up is not None else decision.confidence
        return DialogueState(
            asked=asked, answered=decision.intent_id, answered_confidence=sure, answered_topic=decision.topic
        )
    if decision.prompt == "not_helpful":  # "还是不行" again next turn still refers to that answer
        return DialogueState(
            asked=asked,
            answered=before.answered,
            answered_confidence=before.answered_confidence,
            answered_topic=before.answered_topic,
        )
    return DialogueState(asked=asked, options=options)


__all__ = ["Engine", "LoadError", "Shop", "load", "load_shop"]


def load(path: str | Path) -> Shop:
    """The shop described by config.yaml; `LoadError` listing every problem if it cannot load."""
    shop, problems = load_shop(Path(path))
    if shop is None:
        raise LoadError(problems)
    return shop
