"""Answers about one order: without the order in the caller's context the bot asks for its
number; once it has the number, a person looks the order up (the bot cannot)."""

from __future__ import annotations

import dataclasses

from bot.flows.draft import TurnDraft
from bot.model import Action, Asked, HandoffReason
from bot.shop import Shop
from bot.stages.render import fill

ORDER_INTENTS = frozenset({"shipping_time", "logistics"})


def flow(draft: TurnDraft, shop: Shop) -> TurnDraft:
    decision = draft.decision
    if decision is None or decision.action is not Action.ANSWER or decision.intent_id not in ORDER_INTENTS:
        return draft
    if "order.status" in draft.values:
        return draft
    if "order_number" in draft.slots:
        handoff = dataclasses.replace(decision, action=Action.HANDOFF, reason=HandoffReason.ORDER_LOOKUP)
        return dataclasses.replace(draft, decision=handoff)
    ask = fill(shop.settings.replies["ask_order"], draft.values)
    return dataclasses.replace(draft, asked=Asked.ORDER, extra=(*draft.extra, ask))
