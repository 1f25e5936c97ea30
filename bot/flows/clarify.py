"""Between the thresholds: one question with up to three options, most likely first (猜你想问),
or a yes/no confirmation when a single candidate stands out."""

from __future__ import annotations

import dataclasses

from bot.flows.draft import TurnDraft
from bot.model import Action, Asked
from bot.shop import Shop

MAX_OPTIONS = 3
# A candidate this much weaker than the best is not worth offering; with none left, the best one
# alone is asked as a confirmation.
OFFER_RATIO = 0.5


def flow(draft: TurnDraft, shop: Shop) -> TurnDraft:
    decision = draft.decision
    if decision is None or decision.action is not Action.CLARIFY or decision.prompt is not None:
        return draft
    ranked = [c for c in decision.alternatives if c.intent_id in shop.intents.templates]
    if not ranked:
        return draft
    best = ranked[0].score
    offered = tuple(c for c in ranked[:MAX_OPTIONS] if c is ranked[0] or c.score >= OFFER_RATIO * best)
    asked = Asked.CHOICE if len(offered) > 1 else Asked.CONFIRM
    return dataclasses.replace(
        draft, decision=dataclasses.replace(decision, alternatives=offered), asked=asked
    )
