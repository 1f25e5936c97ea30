"""Matches + anger + session + thresholds → one Decision: answer, clarify or hand off.

The confidence is the best intent's score reduced by how close the runner-up comes: a near tie is
not confidence. Secondary intents (greeting, thanks…) give way when another intent has evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.model import Action, Candidate, Decision, HandoffReason, Match, Session

# A secondary intent (greeting, thanks…) gives way to any other intent at least this strong.
_YIELD_TO = 0.35
# The raw evidence score understates how often the best intent is right (measured with `bot eval`:
# raw 0.6-0.75 is right 82-89% of the time); a monotone power curve puts it on the probability scale
# without changing any order. Check it with the reliability table of `bot eval` after changing scoring.
_CALIBRATION_POWER = 0.75


# A short fragment after an answer ("多久", "M码呢") is answered with the previous intent, unless it
# names another topic: confidence and one keyword both at least this ("那发票呢" switches topic; the
# size letter in "M码呢" does not).
FOLLOW_UP_SWITCH = 0.85
# The confidence given to such a follow-up: the previous turn settled the topic.
FOLLOW_UP_CONFIDENCE = 0.8


@dataclass(frozen=True, slots=True, kw_only=True)
class Signals:
    """What the engine noticed about a message besides its matches."""

    angry: bool = False
    short: bool = False  # a few characters only
    continues: bool = False  # starts with 那 / 那么 / 还有: "and what about…"
    elliptic: bool = False  # ends with 呢: "M码呢"
    not_helpful: bool = False  # "还是不行", "没用" right after an answer


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    answer_at: float
    handoff_below: float
    misses_before_handoff: int
    handoff_intents: frozenset[str]


def rank(matches: Sequence[Match]) -> list[Match]:
    """Matches in the order the bot considers them: vetoed out, secondary intents yielding."""
    live = [m for m in matches if not m.vetoed and m.score > 0]
    if any(not m.secondary and m.score >= _YIELD_TO for m in live):
        live = [m for m in live if not m.secondary]
    return live


def confidence(ranked: Sequence[Match]) -> float:
    """One number in [0, 1]: the best score, lowered by the runner-up's closeness and by the part
    of the message the best intent does not explain."""
    if not ranked:
        return 0.0
    best = ranked[0]
    # thanks vs goodbye is no real ambiguity: both are polite closings.
    rivals = [m for m in ranked[1:] if not (best.secondary and m.secondary)]
    second = rivals[0].score if rivals else 0.0
    closeness = min(1.0, second / best.score) if best.score else 1.0
    # A secondary intent (greeting…) must explain the whole message: "你好，怎样提现" is no greeting.
    explained = 0.5 + 0.5 * best.coverage if best.secondary else 0.85 + 0.15 * best.coverage
    raw = max(0.0, min(1.0, best.score * (1 - 0.5 * closeness**3) * explained))
    return round(float(raw**_CALIBRATION_POWER), 4)


def _strongest(match: Match) -> float:
    """The weight of the strongest single keyword or pattern behind a match."""
    return max((e.weight for e in match.evidence if e.kind in ("keyword", "pattern")), default=0.0)


def decide(matches: Sequence[Match], signals: Signals, session: Session, policy: Policy) -> Decision:
    ranked = rank(matches)
    conf = confidence(ranked)
    top = tuple(Candidate(intent_id=m.intent_id, score=m.score) for m in ranked[:3])
    # Below handoff_below nothing was recognised: the guesses stay in `alternatives` only.
    best = ranked[0].intent_id if ranked and conf >= policy.handoff_below else None
    previous = session.last_intent
    if signals.angry:
        return Decision(action=Action.HANDOFF, intent_id=best, confidence=conf, alternatives=top,
                        reason=HandoffReason.ANGRY)  # fmt: skip
    if signals.not_helpful and previous is not None:
        if session.misses + 1 >= policy.misses_before_handoff:
            return Decision(action=Action.HANDOFF, intent_id=previous, confidence=0.0, alternatives=top,
                            reason=HandoffReason.REPEATED_MISSES)  # fmt: skip
        return Decision(action=Action.CLARIFY, intent_id=previous, confidence=0.0, prompt="not_helpful")
    if best in policy.handoff_intents and conf >= policy.handoff_below:
        reason = HandoffReason.ASKED_FOR_PERSON if best == "human" else HandoffReason.INTENT_FLAGGED
        return Decision(
            action=Action.HANDOFF, intent_id=best, confidence=conf, alternatives=top, reason=reason
        )
    glue = bool(ranked) and ranked[0].secondary and conf >= policy.handoff_below
    # A fragment leans on the previous answer: "多久", "M码呢", "那运费多少", unless it names a topic.
    fragment = signals.continues or signals.elliptic or (signals.short and conf < policy.answer_at)
    topic = (
        bool(ranked)
        and conf >= FOLLOW_UP_SWITCH
        and (signals.continues or _strongest(ranked[0]) >= FOLLOW_UP_SWITCH)
    )
    if fragment and previous is not None and not topic and not glue:
        # "那退货呢" switches topic with its own evidence; "多久" / "M码呢" leans on the last answer.
        return Decision(action=Action.ANSWER, intent_id=previous, confidence=FOLLOW_UP_CONFIDENCE,
                        alternatives=top, follow_up=True)  # fmt: skip
    if conf >= policy.answer_at:
        return Decision(action=Action.ANSWER, intent_id=best, confidence=conf, alternatives=top)
    if session.misses + 1 >= policy.misses_before_handoff:
        return Decision(action=Action.HANDOFF, intent_id=best, confidence=conf, alternatives=top,
                        reason=HandoffReason.REPEATED_MISSES)  # fmt: skip
    if conf >= policy.handoff_below:
        return Decision(action=Action.CLARIFY, intent_id=best, confidence=conf, alternatives=top)
    return Decision(action=Action.HANDOFF, intent_id=best, confidence=conf, alternatives=top,
                    reason=HandoffReason.LOW_CONFIDENCE)  # fmt: skip
