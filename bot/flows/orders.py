"""Answers about one order (a topic with `needs_order`: where is my parcel, urge my order): without
the order in the caller's context the bot answers and asks for its number; once it has the number,
a person looks the order up (the bot cannot). Other topics are answered by policy even when the buyer
mentions an order (发什么快递, 几天到): the number is context, not the question."""

from __future__ import annotations

import dataclasses

from bot.flows.draft import TurnDraft
from bot.model import Action, Asked, HandoffReason
from bot.shop import Shop
from bot.stages.render import fill


def flow(draft: TurnDraft, shop: Shop) -> TurnDraft:
    decision = draft.decision
    if decision is None or decision.action is not Action.ANSWER or decision.intent_id is None:
        return draft
    topics = shop.intents.intent(decision.intent_id).topics
    if decision.topic is None or not any(t.id == decision.topic and t.needs_order for t in topics):
        return draft
    if "order.status" in draft.values:
        return draft
    if "order_number" in draft.slots:
        handoff = dataclasses.replace(decision, action=Action.HANDOFF, reason=HandoffReason.ORDER_LOOKUP)
        return dataclasses.replace(draft, decision=handoff)
    ask = fill(shop.settings.replies["ask_order"], draft.values)
    return dataclasses.replace(draft, asked=Asked.ORDER, extra=(*draft.extra, ask))
