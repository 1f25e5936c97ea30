"""Templates → reply text. Variables are `{shop.name}`-style names looked up in a flat table.

This is not `str.format`: a template cannot reach attributes or items of Python objects, so
`{shop.__class__}` or `{0.__init__}` can never leak internals; `{{` and `}}` are literal braces.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date

from bot import context
from bot.model import Action, AnswerRule, Decision, HandoffReason, Template
from bot.templates import FIELD, variables


def fill(template: str, values: Mapping[str, str]) -> str:
    """Fill `template` from `values`; unknown or invalid fields are left out, never evaluated."""

    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values.get(m.group(1) or "", "")

    return FIELD.sub(one, template)


def usable(variants: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """The variants whose every variable has a value: an answer that needs the order's courier is
    used only when the caller said which courier. Loading guarantees one variant needs no context."""
    ready = [v for v in variants if all(name in values for name in variables(v)[0])]
    if not ready:
        return list(variants)
    specific = max(_context_used(v) for v in ready)
    return [v for v in ready if _context_used(v) == specific]


def _context_used(variant: str) -> int:
    return sum(name in context.VARIABLES for name in variables(variant)[0])


def choose(variants: Sequence[str], session_id: str, turn: int) -> str:
    """One variant, the same for the same session and turn (reproducible), varied across turns."""
    digest = hashlib.blake2b(f"{session_id}\x00{turn}".encode(), digest_size=8).digest()
    return variants[int.from_bytes(digest, "big") % len(variants)]


def shop_values(shop: Mapping[str, object]) -> dict[str, str]:
    """config.yaml's shop facts as template values: lists joined with 、, numbers as text."""
    out = {}
    for key, value in shop.items():
        if isinstance(value, list | tuple):
            out[f"shop.{key}"] = "、".join(str(v) for v in value)
        elif isinstance(value, float) and value.is_integer():
            out[f"shop.{key}"] = str(int(value))
        else:
            out[f"shop.{key}"] = str(value)
    return out


def compose(
    decision: Decision,
    templates: Mapping[str, Template],
    replies: Mapping[str, str],
    values: Mapping[str, str],
    title: Callable[[str, str | None], str],
    *,
    session_id: str,
    turn: int,
    today: date,
) -> tuple[str, str | None, AnswerRule | None]:
    """The reply text for a decision, the answer variant it was filled from (as written in responses/),
    and the conditional rule that chose the variants, if one did."""
    own_answer = decision.action is Action.ANSWER or decision.reason in (
        HandoffReason.ASKED_FOR_PERSON,
        HandoffReason.INTENT_FLAGGED,
    )
    template = templates.get(decision.intent_id or "")
    if own_answer and template is not None:
        variants, rule = template.answers_of(decision.topic, values, today)
        variant = choose(usable(variants, values), session_id, turn)
        return fill(variant, values), variant, rule
    if decision.prompt is not None:
        return fill(replies[decision.prompt], values), None, None
    if decision.action is Action.CLARIFY and decision.alternatives:
        titles = [title(c.intent_id, c.topic) for c in decision.alternatives[:3]]
        key = ("confirm", "clarify", "clarify_options")[len(titles) - 1]
        numbered = "\n".join(f"{i}. {t}" for i, t in enumerate(titles, 1))
        names = {**values, "first": titles[0], "second": titles[-1], "options": numbered}
        return fill(replies[key], names), None, None
    key = {
        HandoffReason.ANGRY: "angry",
        HandoffReason.LOW_CONFIDENCE: "low_confidence",
        HandoffReason.ORDER_LOOKUP: "order_lookup",
    }.get(decision.reason or HandoffReason.EMPTY, "handoff")
    return fill(replies[key], values), None, None
