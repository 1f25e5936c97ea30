"""The dialogue policy of one turn, as small flows run in a fixed, visible order.

Each flow takes the turn draft and returns a new one; the first ones may settle the decision
(the buyer picked an option, or gave what the bot asked for), the middle ones decide and read the
message against the last answer, the last ones add what an answer needs (an order number, a size).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.flows import choice, clarify, followup, kinds, orders, own, parts, sizing, slots
from bot.flows.draft import TurnDraft
from bot.shop import Shop

Flow = Callable[[TurnDraft, Shop], TurnDraft]

FLOWS: tuple[Flow, ...] = (
    kinds.flow,  # what a chat platform inserted instead of text: a photo, a link, emoji only
    choice.flow,  # the buyer answers the last clarifying question: 1, 第二个, 是的, a title
    slots.flow,  # the buyer gives what the bot asked for: a height, a weight, an order number
    own.flow,  # the message on its own terms, as in a fresh session
    followup.flow,  # read against the last answer, only when the message has a follow-up's form
    parts.flow,  # a message that asks two things: each confident part answered, in order
    clarify.flow,  # between the thresholds: up to three options, or a yes/no confirmation
    orders.flow,  # an answer about one order: ask for its number, or hand off with it
    sizing.flow,  # a size from the height and weight the buyer gave
    kinds.photos,  # an answer that asks for photos expects one next
)


def run(draft: TurnDraft, shop: Shop) -> TurnDraft:
    for step in FLOWS:
        draft = step(draft, shop)
    return draft


__all__ = ["FLOWS", "Flow", "TurnDraft", "run"]
