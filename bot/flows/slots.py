"""The buyer gives what the bot just asked for: a height or a weight, or an order number."""

from __future__ import annotations

import dataclasses

from bot.flows.draft import TurnDraft
from bot.model import Action, Asked, Decision, Evidence, EvidenceKind, HandoffReason
from bot.shop import Shop

# A bare "65kg" right after the bot asked for the weight.
SLOT_ANSWER_CONFIDENCE = 0.95
# ... unless the message is plainly about something else this strongly.
OTHER_TOPIC = 0.7


def flow(draft: TurnDraft, shop: Shop) -> TurnDraft:
    if draft.decision is not None:
        return draft
    asked = draft.session.state.asked
    if asked is Asked.ORDER and draft.numbers:
        decision = Decision(action=Action.HANDOFF, intent_id=draft.session.last_intent, confidence=1.0,
                            reason=HandoffReason.ORDER_LOOKUP)  # fmt: skip
        return _settled(draft, decision, f"订单号 {draft.numbers[0]}")
    measured = draft.measured
    other = max((m.score for m in draft.matches if m.intent_id != "sizing" and not m.vetoed), default=0.0)
    body = measured.height_cm or measured.weight_kg
    if asked in (Asked.HEIGHT, Asked.WEIGHT, Asked.SIZE) and body and other < OTHER_TOPIC:
        decision = Decision(action=Action.ANSWER, intent_id="sizing", confidence=SLOT_ANSWER_CONFIDENCE)
        return _settled(draft, decision, "身高/体重")
    return draft


def _settled(draft: TurnDraft, decision: Decision, what: str) -> TurnDraft:
    evidence = Evidence(kind=EvidenceKind.SLOT, detail=f"回答了小二问的{what}", weight=1.0)
    return dataclasses.replace(draft, decision=decision, settled=True, evidence=(*draft.evidence, evidence))
