"""A message that asks two things (「什么时候发货 能开发票吗」): each confident part is answered, in
message order, at most two; a part that asks for a person hands the whole message off, and the
other part goes into the ticket. A greeting or thanks beside a question is no part of its own.

A message answered as a whole is cut only when its own matches name two intents and it is short
enough to be a list (MAX_LISTED); only parts that ask (`bot.stages.asking.asks`) with a word of their own
are answered beside the message's own answer: one question in several sentences (「你好，我昨天买
的，什么时候发货」, 「还没发货吧 帮我改个地址」) stays one question. A message not answered as a whole
may be answered by the one clear question among its sentences, when no other part reads otherwise.
"""

from __future__ import annotations

import dataclasses

from bot.flows.draft import TurnDraft
from bot.model import Action, Decision, HandoffReason, Part
from bot.shop import Shop
from bot.stages.asking import asks
from bot.stages.decide import decide, strongest
from bot.stages.parts import points_back, split

MAX_ANSWERS = 2
# Buyers who list questions write short messages (「有货吗 包邮吗」); a longer one that tells a story in
# several sentences is one case, whatever words its sentences share with other intents (measured on
# tests/data/dev.jsonl: two answers to messages longer than this were wrong more often than right).
MAX_LISTED = 24
# A part is answered on its own only with a keyword or pattern of its intent at least this strong.
OWN_WORD = 0.8
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
    # Two named intents may be two questions; a message not answered as a whole may hold one clear
    # question among sentences that tell the story (「我昨天买的，朋友说不好看，能退吗」).
    if len(named) < (2 if whole.action is Action.ANSWER else 1):
        return draft
    pieces = split(shop.normalize.simplified(draft.message.raw))
    if len(pieces) < 2:
        return draft
    confident = whole.action is Action.ANSWER
    asking = [asks(piece) for piece in pieces]
    # A piece that asks nothing can still ask for a person (转人工), if the message names one.
    person_named = bool(named & policy.handoff_intents)
    if confident and not person_named and len(draft.message.text) > MAX_LISTED:
        return draft  # answered as a whole, and too long to be a list of questions
    if not any(asking) and not person_named:
        return draft  # nothing here asks: no piece can be answered
    read: dict[int, Decision | None] = {}
    for i, piece in enumerate(pieces):
        if asking[i] or person_named:
            read[i] = _decide(piece, named, shop)
    if confident and not any(
        d is not None
        and ((d.action is Action.ANSWER and d.intent_id != whole.intent_id) or d.reason in _PERSON)
        for d in read.values()
    ):
        return draft  # no piece asks what the message's own answer does not cover
    if confident:  # where in the message is the question the whole message was answered on?
        read |= {i: _decide(piece, named, shop) for i, piece in enumerate(pieces) if i not in read}
    parts: list[tuple[Part, Decision]] = []
    for i in sorted(read):
        decision = read[i]
        if decision is None or decision.intent_id is None:
            continue
        # 「还没发货吧，帮我把地址改一下」 asks one thing: a part that only tells the situation is
        # answered only as what the whole message was already answered as.
        told = decision.action is Action.ANSWER and not asking[i]
        if told and not (confident and decision.intent_id == whole.intent_id):
            continue
        part = Part(text=pieces[i], intent=decision.intent_id, topic=decision.topic,
                    confidence=decision.confidence, action=decision.action)  # fmt: skip
        parts.append((part, decision))
    if len(parts) < 2 and not (parts and not confident):
        return draft
    recorded = tuple(p for p, _ in parts)
    person = next((d for _, d in parts if d.action is Action.HANDOFF and d.reason in _PERSON), None)
    if whole.action is Action.HANDOFF and whole.reason is not HandoffReason.LOW_CONFIDENCE:
        return dataclasses.replace(draft, parts=recorded)
    if person is not None:
        handoff = dataclasses.replace(person, alternatives=whole.alternatives)
        return dataclasses.replace(draft, decision=handoff, parts=recorded)
    answered: list[Decision] = []
    for part, decision in parts:
        if answered and points_back(part.text):
            continue  # 「订单显示缺货，这个货什么时候能到」: still the first question
        if decision.action is Action.ANSWER and all(
            (a.intent_id, a.topic) != (decision.intent_id, decision.topic) for a in answered
        ):
            answered.append(decision)
    if not answered or (len(answered) == 1 and confident):
        return draft
    if len(answered) > 1 and len(draft.message.text) > MAX_LISTED:
        answered = answered[:1]
    if len(answered) == 1 and any(d.intent_id != answered[0].intent_id for _, d in parts):
        return draft  # one clear question among others that are not: still unclear
    answered = answered[:MAX_ANSWERS]
    first = dataclasses.replace(
        answered[0], confidence=min(a.confidence for a in answered), alternatives=whole.alternatives
    )
    return dataclasses.replace(draft, decision=first, also=tuple(answered[1:]), parts=recorded)


def _decide(piece: str, named: set[str], shop: Shop) -> Decision | None:
    """A piece on its own terms, if it is about an intent the whole message names. A piece answered
    without a word of its own for that intent (「会发到哪里」, only an example's likeness) is
    kept as not confident: it leans on the pieces before it."""
    message, matches = shop.read(piece, sounds=False)
    decision = decide(matches, False, 0, shop.policy)
    if not message.text or decision.intent_id not in named:
        return None
    if decision.action is Action.ANSWER:
        match = next(m for m in matches if m.intent_id == decision.intent_id)
        if strongest(match) < OWN_WORD:
            return dataclasses.replace(decision, action=Action.CLARIFY)
    return decision
