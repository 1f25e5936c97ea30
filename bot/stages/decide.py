"""Matches + anger + session + thresholds → one Decision: answer, clarify or hand off.

The confidence is the best intent's score reduced by how close the runner-up comes: a near tie is
not confidence. Secondary intents (greeting, thanks…) give way when another intent has evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.model import Action, Candidate, Decision, EvidenceKind, HandoffReason, Match

# A secondary intent (greeting, thanks…) gives way to any other intent at least this strong.
_YIELD_TO = 0.35
# The raw evidence score understates how often the best intent is right (measured with `bot eval`:
# raw 0.6-0.75 is right 82-89% of the time); a monotone power curve puts it on the probability scale
# without changing any order. Check it with the reliability table of `bot eval` after changing scoring.
_CALIBRATION_POWER = 0.75


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


def strongest(match: Match) -> float:
    """The weight of the strongest single keyword or pattern behind a match: how plainly the
    message names that intent's topic."""
    kinds = (EvidenceKind.KEYWORD, EvidenceKind.PATTERN)
    return max((e.weight for e in match.evidence if e.kind in kinds), default=0.0)


def decide(matches: Sequence[Match], angry: bool, misses: int, policy: Policy) -> Decision:
    """The decision on the message's own terms, exactly as in a fresh session; `misses` counts the
    unclear messages right before it."""
    ranked = rank(matches)
    conf = confidence(ranked)
    top = tuple(Candidate(intent_id=m.intent_id, score=m.score, topic=m.topic) for m in ranked[:3])
    # Below handoff_below nothing was recognised: the guesses stay in `alternatives` only.
    best = ranked[0].intent_id if ranked and conf >= policy.handoff_below else None
    topic = ranked[0].topic if best is not None else None
    if angry:
        return Decision(action=Action.HANDOFF, intent_id=best, confidence=conf, alternatives=top,
                        reason=HandoffReason.ANGRY)  # fmt: skip
    if best in policy.handoff_intents and conf >= policy.handoff_below:
        reason = HandoffReason.ASKED_FOR_PERSON if best == "human" else HandoffReason.INTENT_FLAGGED
        return Decision(
            action=Action.HANDOFF, intent_id=best, confidence=conf, alternatives=top, reason=reason
        )
    if conf >= policy.answer_at:
        return Decision(action=Action.ANSWER, intent_id=best, confidence=conf, alternatives=top, topic=topic)
    if misses + 1 >= policy.misses_before_handoff:
        return Decision(action=Action.HANDOFF, intent_id=best, confidence=conf, alternatives=top,
                        reason=HandoffReason.REPEATED_MISSES)  # fmt: skip
    if conf >= policy.handoff_below:
        return Decision(action=Action.CLARIFY, intent_id=best, confidence=conf, alternatives=top, topic=topic)
    return Decision(action=Action.HANDOFF, intent_id=best, confidence=conf, alternatives=top,
                    reason=HandoffReason.LOW_CONFIDENCE)  # fmt: skip
