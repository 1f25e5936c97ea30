"""A message that asks two things (「什么时候发货 能开发票吗」): each confident part is answered, in
message order, at most two; a part that asks for a person hands the whole message off, and the
other part goes into the ticket. A greeting or thanks beside a question is no part of its own.

Only a message whose own matches already name two intents is cut: one question in several
sentences (「你好，我昨天买的，什么时候发货」) stays one question.
"""

from __future__ import annotations

import dataclasses

from bot.decide import decide
from bot.flows.draft import TurnDraft
from bot.model import Action, Decision, HandoffReason, Part
from bot.parts import split
from bot.shop import Shop

MAX_ANSWERS = 2
# Handoffs a part can ask for on its own terms; a low-confidence part is just not answered.
_PERSON = (HandoffReason.ASKED_FOR_PERSON, HandoffReason.INTENT_FLAGGED)


def flow(draft: TurnDraft, shop: Shop) -> TurnDraft:
    whole = draft.decision
    if draft.settled or whole is None or whole.follow_up is not None or draft.kind != "text":
        return draft
    policy = shop.policy
    # Intents the message has evidence for, vetoed ones too: 发票 vetoes 发货 in the whole message,
    # not in the part that asks when it ships.
    named = {
        m.intent_id
        for m in draft.matches
        if not m.secondary and max(m.score, m.keyword_score) >= policy.handoff_below
    }
    if len(named) < 2:
        return draft
    pieces = split(shop.normalize.simplified(draft.message.raw))
    if len(pieces) < 2:
        return draft
    parts: list[tuple[Part, Decision]] = []
    for piece in pieces:
        message, matches = shop.read(piece)
        decision = decide(matches, False, 0, policy)
        if not message.text or decision.intent_id is None or decision.intent_id not in named:
            continue
        part = Part(text=piece, intent=decision.intent_id, topic=decision.topic,
                    confidence=decision.confidence, action=decision.action)  # fmt: skip
        parts.append((part, decision))
    if len(parts) < 2:
        return draft
    recorded = tuple(p for p, _ in parts)
    person = next((d for _, d in parts if d.action is Action.HANDOFF and d.reason in _PERSON), None)
    if whole.action is Action.HANDOFF and whole.reason is not HandoffReason.LOW_CONFIDENCE:
        return dataclasses.replace(draft, parts=recorded)
    if person is not None:
        handoff = dataclasses.replace(person, alternatives=whole.alternatives)
        return dataclasses.replace(draft, decision=handoff, parts=recorded)
    answered: list[Decision] = []
    for _, decision in parts:
        if decision.action is Action.ANSWER and all(
            (a.intent_id, a.topic) != (decision.intent_id, decision.topic) for a in answered
        ):
            answered.append(decision)
    if not answered or (len(answered) == 1 and whole.action is Action.ANSWER):
        return draft
    answered = answered[:MAX_ANSWERS]
    first = dataclasses.replace(
        answered[0], confidence=min(a.confidence for a in answered), alternatives=whole.alternatives
    )
    return dataclasses.replace(draft, decision=first, also=tuple(answered[1:]), parts=recorded)
