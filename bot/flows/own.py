"""The message on its own terms: the decide stage, exactly as in a fresh session."""

from __future__ import annotations

import dataclasses

from bot.flows.draft import TurnDraft
from bot.shop import Shop
from bot.stages.decide import decide


def flow(draft: TurnDraft, shop: Shop) -> TurnDraft:
    if draft.decision is not None:
        return draft
    decision = decide(draft.matches, draft.anger is not None, draft.session.misses, shop.policy)
    return dataclasses.replace(draft, decision=decision)
