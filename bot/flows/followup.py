"""Read a message against the last answer, only when it has the form of a follow-up.

多久 / 运费谁出 / 那新疆呢 after an answer take that answer's topic, at a confidence computed from
their form and evidence (bot/followup.py); 还是不行 after an answer is a miss. Any other message
keeps the decision it got on its own terms; so does one that plainly names another topic.
"""

from __future__ import annotations

import dataclasses

from bot.flows.draft import TurnDraft
from bot.model import Action, Candidate, Decision, Evidence, EvidenceKind, FollowUp, HandoffReason
from bot.shop import Shop
from bot.stages.decide import rank, strongest
from bot.stages.followup import confidence


def flow(draft: TurnDraft, shop: Shop) -> TurnDraft:
    state = draft.session.state
    previous, own = state.answered, draft.decision
    if draft.settled or previous is None or draft.anger is not None or own is None:
        return draft
    text = draft.message.text
    policy = shop.policy
    phrase = shop.follow_up.not_helpful(text)
    if phrase is not None:
        follow = FollowUp(form="not_helpful", words=(phrase,), previous=previous,
                          setting="thresholds.misses_before_handoff")  # fmt: skip
        if draft.session.misses + 1 >= policy.misses_before_handoff:
            decision = Decision(action=Action.HANDOFF, intent_id=previous, confidence=0.0,
                                alternatives=own.alternatives, reason=HandoffReason.REPEATED_MISSES,
                                follow_up=follow)  # fmt: skip
        else:
            decision = Decision(action=Action.CLARIFY, intent_id=previous, confidence=0.0,
                                prompt="not_helpful", follow_up=follow)  # fmt: skip
        return _with(draft, decision, follow, 0.0)
    lean = shop.follow_up.lean(
        draft.message, previous, draft.matches, shop.answer_words(previous, state.answered_topic)
    )
    if lean is None:
        return draft  # no follow-up form, or something left that the last topic does not explain
    follow = lean.follow
    weights = shop.settings.follow_up
    conf = confidence(weights.of(follow.form), lean.support, state.answered_confidence)
    ranked = rank(draft.matches)
    names_other = bool(ranked) and (
        strongest(ranked[0]) >= weights.switch_at or lean.by in ("answer", "evidence")
    )
    if own.action is Action.ANSWER and own.intent_id != previous and names_other:
        return draft  # it names another topic: answered on its own terms
    if own.action is Action.ANSWER and own.intent_id == previous and own.confidence >= conf:
        return draft  # its own terms say as much
    if own.action is Action.HANDOFF and own.reason is not HandoffReason.LOW_CONFIDENCE:
        return draft  # the buyer asked for a person, or the topic is one for a person
    if conf < policy.handoff_below:
        return draft
    others = tuple(c for c in own.alternatives if c.intent_id != previous)
    # 那运费呢 after how to return asks that topic's shipping fee; 多久 keeps the topic it follows.
    named = next((m.topic for m in draft.matches if m.intent_id == previous and m.topic), None)
    alternatives = (Candidate(intent_id=previous, score=conf, topic=named or state.answered_topic), *others)[
        :3
    ]
    action = Action.ANSWER if conf >= policy.answer_at else Action.CLARIFY
    decision = Decision(action=action, intent_id=previous, confidence=conf, alternatives=alternatives,
                        follow_up=follow, topic=named or state.answered_topic)  # fmt: skip
    return _with(draft, decision, follow, conf)


def _with(draft: TurnDraft, decision: Decision, follow: FollowUp, conf: float) -> TurnDraft:
    words = "、".join(follow.words) or "-"
    detail = f"接着上一轮「{follow.previous}」：{follow.form}（{words}），设置 {follow.setting}"
    evidence = Evidence(kind=EvidenceKind.FOLLOW_UP, detail=detail, weight=conf)
    return dataclasses.replace(draft, decision=decision, evidence=(*draft.evidence, evidence))
