"""`Bot`: loads a shop once, then runs normalise → segment → match → decide → render per message."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot import extract, hours
from bot.config import SizeBand
from bot.decide import Signals, decide
from bot.model import (
    Action,
    Decision,
    Evidence,
    HandoffReason,
    Message,
    Reply,
    Session,
)
from bot.problems import LoadError
from bot.render import compose, fill
from bot.session import MemoryStore, SessionStore
from bot.shop import Shop, load_shop
from bot.sizing import size_reply

# Messages longer than this are cut before matching: no question needs more, and cost stays bounded.
MAX_MATCH_CHARS = 1000
# A message this short may lean on the previous turn ("多久", "M码呢").
FRAGMENT_CHARS = 8
# Answers about one order: without the order in the context, the bot asks for its number.
ORDER_INTENTS = frozenset({"shipping_time", "logistics"})
# Slots kept across turns; others (choices, what the bot asked for) last one turn.
DURABLE_SLOTS = frozenset({"height_cm", "weight_kg", "size", "order_number"})
# A bare "65kg" right after the bot asked for the weight.
SLOT_ANSWER_CONFIDENCE = 0.95


class Bot:
    """A shop's auto-responder. Build it with `Bot.from_config`; call `reply` per buyer message."""

    def __init__(self, shop: Shop, sessions: SessionStore | None = None) -> None:
        self.shop = shop
        self.sessions: SessionStore = sessions if sessions is not None else MemoryStore()

    @classmethod
    def from_config(cls, path: str | Path = "config.yaml", sessions: SessionStore | None = None) -> Bot:
        """Load the shop described by config.yaml; raise `LoadError` listing every problem."""
        shop, problems = load_shop(Path(path))
        if shop is None:
            raise LoadError(problems)
        return cls(shop, sessions)

    def understand(self, text: str) -> tuple[Message, list[Any], Any]:
        """Normalise, segment and match one message (no session, no reply)."""
        shop = self.shop
        raw = text[:MAX_MATCH_CHARS]
        normalized = shop.normalize(raw)
        tokens = shop.segment(normalized)
        message = Message(raw=raw, text=normalized, tokens=tokens)
        content = shop.segment.content(tokens)
        hits = shop.index.search(t.text for t in content)
        matches = shop.matcher.score(normalized, content, [(h.doc, h.share) for h in hits])
        anger = shop.anger(raw, normalized)
        return message, matches, anger

    def reply(self, session_id: str, text: str, context: Mapping[str, str] | None = None) -> Reply:
        """Answer one buyer message in the session `session_id` (kept in `self.sessions`)."""
        reply, session = self.respond(self.sessions.get(session_id), text, context)
        self.sessions.put(session)
        return reply

    def respond(
        self, session: Session, text: str, context: Mapping[str, str] | None = None, now: float | None = None
    ) -> tuple[Reply, Session]:
        """One turn: the reply to `text` and the session as it stands after it. Pure: stores nothing.

        `context` holds what the caller knows, as flat names (`order.courier`, `product.category`);
        answers that use such a name, or are conditioned on it, are chosen only when the caller gave it."""
        turn = session.turns + 1
        at = time.time() if now is None else now
        settings = self.shop.settings
        message, matches, anger = self.understand(text)
        values = {
            **self.shop.values,
            **{k: str(v) for k, v in (context or {}).items() if v not in (None, "")},
            "next_open": hours.next_open(at, settings.service),
        }
        if not message.text:
            reply = Reply(text=fill(settings.replies["empty"], values), action=Action.CLARIFY, intent=None,
                          confidence=0.0, reason=None, session_id=session.key, turn=turn)  # fmt: skip
            return reply, dataclasses.replace(session, turns=turn, updated_at=at)

        slots = {k: v for k, v in session.slots.items() if k in DURABLE_SLOTS}
        pending = session.slots.get("pending")
        offered = {v for k, v in session.slots.items() if k.startswith("choice.")}
        measured = extract.body(
            message.text, expecting_height=pending in ("height", "size") or "sizing" in offered
        )
        numbers = extract.order_numbers(message.text) + extract.tracking_numbers(message.text)
        if numbers:
            slots["order_number"] = numbers[0]
        signals = Signals(
            angry=anger is not None,
            short=len(message.text) <= FRAGMENT_CHARS,
            continues=message.text.startswith(("那", "还有")),
            elliptic=message.text.rstrip("?。.!~ ").endswith("呢"),
            not_helpful=session.slots.get("answered_turn") == str(session.turns)
            and any(p in message.text for p in self.shop.not_helpful),
        )
        decision = (
            self._chosen(session, message.text, matches, measured)
            or _slot_answer(pending, measured, bool(numbers), matches, session)
            or decide(matches, signals, session, self.shop.policy)
        )
        transient: dict[str, str] = {}
        extra = ""
        if (
            decision.action is Action.ANSWER
            and decision.intent_id in ORDER_INTENTS
            and "order.status" not in values
        ):
            if "order_number" in slots:  # the bot cannot look an order up: a person does, with the number
                decision = dataclasses.replace(
                    decision, action=Action.HANDOFF, reason=HandoffReason.ORDER_LOOKUP
                )
            else:
                transient["pending"] = "order"
                extra = fill(settings.replies["ask_order"], values)
        sized = None
        if decision.action is Action.ANSWER and decision.intent_id == "sizing":
            if measured.height_cm:
                slots["height_cm"] = str(measured.height_cm)
            if measured.weight_kg:
                slots["weight_kg"] = f"{measured.weight_kg:g}"
            chart = self._chart(values)
            sized, wanted = size_reply(slots, chart, settings.replies, values)
            if wanted:
                transient["pending"] = wanted

        evidence = tuple(e for m in matches if m.intent_id == decision.intent_id for e in m.evidence)
        evidence += tuple(
            dataclasses.replace(e, detail=f"{m.intent_id}: {e.detail}")
            for m in matches
            if m.vetoed and m.intent_id != decision.intent_id
            for e in m.evidence
            if e.weight < 0
        )
        if decision.follow_up:
            evidence += (Evidence(kind="follow_up", detail=f"接着上一轮 {decision.intent_id}", weight=1.0),)
        values |= {"order_number": slots.get("order_number", "")}
        reply_text, variant, rule = compose(
            decision, self.shop.intents.templates, settings.replies, values, self.title,
            session_id=session.key, turn=turn, today=hours.local(at, settings.service).date(),
        )  # fmt: skip
        if sized is not None:
            reply_text, variant = sized, None
        if extra:
            reply_text += "\n" + extra
        if decision.action is Action.HANDOFF and not hours.is_open(at, settings.service):
            reply_text += "\n" + fill(settings.replies["after_hours"], values)
        if session.turns == 0 and settings.service.welcome:
            welcome = fill(settings.service.welcome, values)
            reply_text = welcome if decision.intent_id == "greeting" else f"{welcome}\n{reply_text}"
        if rule is not None:
            evidence += (
                Evidence(kind="answer_rule", detail=rule.describe(), weight=1.0, origin=rule.origin),
            )

        missed = decision.action is Action.CLARIFY or decision.reason in (
            HandoffReason.LOW_CONFIDENCE,
            HandoffReason.REPEATED_MISSES,
        )
        if decision.action is Action.CLARIFY:
            transient |= {f"choice.{i}": c.intent_id for i, c in enumerate(decision.alternatives[:2], 1)}
        if decision.action is Action.ANSWER or decision.prompt == "not_helpful":
            transient["answered_turn"] = str(turn)  # "还是不行" next turn refers to this attempt
        after = dataclasses.replace(
            session,
            turns=turn,
            last_intent=decision.intent_id if decision.action is Action.ANSWER else session.last_intent,
            misses=0 if not missed or decision.action is Action.HANDOFF else session.misses + 1,
            slots=MappingProxyType(slots | transient),
            handed_off=session.handed_off or decision.action is Action.HANDOFF,
            updated_at=at,
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
        )
        return reply, after

    def _chart(self, values: Mapping[str, str]) -> tuple[SizeBand, ...]:
        """The size chart for the caller's product category, else the shop's default chart."""
        settings = self.shop.settings
        category = values.get("product.category", "")
        name = settings.chart_for_category.get(category) or (
            category if category in settings.size_charts else ""
        )
        return settings.size_charts.get(name or settings.default_chart, ())

    def _chosen(
        self, session: Session, text: str, matches: list[Any], measured: extract.Body
    ) -> Decision | None:
        """The buyer's answer to the last clarifying question: "1", "第二个", an intent's title, a
        message with evidence for just one of the offered intents, or a measurement when sizing was offered."""
        options = [value for key, value in sorted(session.slots.items()) if key.startswith("choice.")]
        if not options:
            return None
        picks = {"1": 0, "第一个": 0, "前者": 0, "是": 0, "是的": 0, "对": 0, "2": 1, "第二个": 1, "后者": 1}
        index = picks.get(text.strip(" .,!?~。，！？"))
        chosen = options[index] if index is not None and index < len(options) else None
        chosen = chosen or next((i for i in options if self.title(i) in text), None)
        if chosen is None:
            backed = [
                m.intent_id for m in matches if m.intent_id in options and m.score >= 0.5 and not m.vetoed
            ]
            chosen = backed[0] if len(backed) == 1 else None
        if chosen is None and "sizing" in options and (measured.height_cm or measured.weight_kg):
            chosen = "sizing"
        if chosen is None:
            return None
        return Decision(action=Action.ANSWER, intent_id=chosen, confidence=1.0)

    def title(self, intent_id: str) -> str:
        return self.shop.intents.intent(intent_id).title


def _slot_answer(
    pending: str | None, measured: extract.Body, has_number: bool, matches: list[Any], session: Session
) -> Decision | None:
    """The buyer answers what the bot just asked for: a height or weight, or an order number."""
    if pending == "order" and has_number:
        return Decision(action=Action.HANDOFF, intent_id=session.last_intent, confidence=1.0,
                        reason=HandoffReason.ORDER_LOOKUP)  # fmt: skip
    other = max((m.score for m in matches if m.intent_id != "sizing" and not m.vetoed), default=0.0)
    if pending in ("height", "weight", "size") and (measured.height_cm or measured.weight_kg) and other < 0.7:
        return Decision(action=Action.ANSWER, intent_id="sizing", confidence=SLOT_ANSWER_CONFIDENCE)
    return None


__all__ = ["Bot", "LoadError", "Shop", "load_shop"]
