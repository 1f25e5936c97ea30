"""A size answer from what the buyer told: the recommended size, or a question for what is missing."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from bot.flows.draft import TurnDraft
from bot.model import Action, Asked
from bot.settings import SizeBand
from bot.shop import Shop
from bot.stages.render import fill
from bot.stages.sizing import recommend


def flow(draft: TurnDraft, shop: Shop) -> TurnDraft:
    decision = draft.decision
    if decision is None or decision.action is not Action.ANSWER or decision.intent_id != "sizing":
        return draft
    slots = dict(draft.slots)
    if draft.measured.height_cm:
        slots["height_cm"] = str(draft.measured.height_cm)
    if draft.measured.weight_kg:
        slots["weight_kg"] = f"{draft.measured.weight_kg:g}"
    text, wanted = size_reply(slots, chart(shop, draft.values), shop.settings.replies, draft.values)
    if decision.topic is None or decision.topic in shop.settings.recommend_topics:
        return dataclasses.replace(
            draft, slots=slots, reply_text=text, asked=Asked(wanted) if wanted else draft.asked
        )
    # Another sizing topic (the size chart, changing the size on an order): its own answer, and the
    # size after it when this message gave what a recommendation needs.
    measured = draft.measured.height_cm or draft.measured.weight_kg
    if not measured or wanted or text is None:
        return draft
    return dataclasses.replace(draft, slots=slots, extra=(*draft.extra, text))


def chart(shop: Shop, values: Mapping[str, str]) -> tuple[SizeBand, ...]:
    """The size chart for the caller's product category, else the shop's default chart."""
    settings = shop.settings
    category = values.get("product.category", "")
    name = settings.chart_for_category.get(category) or (category if category in settings.size_charts else "")
    return settings.size_charts.get(name or settings.default_chart, ())


def size_reply(
    slots: dict[str, str], chart: Sequence[SizeBand], replies: Mapping[str, str], values: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """The sizing reply for what the session knows, and what to ask for next (None: nothing).

    Both height and weight known: the size, with the looser and tighter alternatives (saved as the
    `size` slot). One missing: a question for it. None known, or no chart: the intent's own answer."""
    height = int(slots["height_cm"]) if "height_cm" in slots else None
    weight = float(slots["weight_kg"]) if "weight_kg" in slots else None
    if height and weight:
        found = recommend(chart, height, weight)
        if found is None:
            return None, None
        slots["size"] = found.size
        names = {**values, "height": str(height), "weight_jin": f"{weight * 2:g}", "size": found.size,
                 "looser": found.looser or "", "tighter": found.tighter or ""}  # fmt: skip
        parts = [fill(replies["size_recommend"], names)]
        if found.looser:
            parts.append(fill(replies["size_looser"], names))
        if found.tighter:
            parts.append(fill(replies["size_tighter"], names))
        alternatives = "；".join(parts[1:])
        return parts[0] + (f"{alternatives}。" if alternatives else ""), None
    if height:
        return fill(replies["ask_weight"], values), "weight"
    if weight:
        return fill(replies["ask_height"], values), "height"
    return None, "size"
