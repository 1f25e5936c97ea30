"""Deciding from scores: answer, ask or hand off, with a calibrated confidence."""

import pytest

from bot.model import Action, HandoffReason, Match
from bot.stages.decide import Policy, confidence, decide, rank

POLICY = Policy(
    answer_at=0.75, handoff_below=0.45, misses_before_handoff=2, handoff_intents=frozenset({"human"})
)


def m(
    intent: str, score: float, coverage: float = 1.0, secondary: bool = False, vetoed: bool = False
) -> Match:
    return Match(intent_id=intent, score=score, coverage=coverage, secondary=secondary, vetoed=vetoed)


@pytest.mark.parametrize(
    ("matches", "action", "reason"),
    [
        ([m("invoice", 0.95)], Action.ANSWER, None),
        ([m("invoice", 0.95), m("returns", 0.9)], Action.CLARIFY, None),  # near tie
        ([m("invoice", 0.2)], Action.HANDOFF, HandoffReason.LOW_CONFIDENCE),
        ([], Action.HANDOFF, HandoffReason.LOW_CONFIDENCE),
        ([m("human", 0.95)], Action.HANDOFF, HandoffReason.ASKED_FOR_PERSON),
        ([m("invoice", 0.95, vetoed=True)], Action.HANDOFF, HandoffReason.LOW_CONFIDENCE),
    ],
)
def test_decision_follows_thresholds(
    matches: list[Match], action: Action, reason: HandoffReason | None
) -> None:
    """Answer above answer_at, ask between, hand off below or when a person is asked for."""
    decision = decide(matches, False, 0, POLICY)
    assert (action, reason) == (decision.action, decision.reason)


def test_anger_hands_off_whatever_the_match() -> None:
    decision = decide([m("invoice", 1.0)], True, 0, POLICY)
    assert (Action.HANDOFF, HandoffReason.ANGRY) == (decision.action, decision.reason)


def test_second_miss_in_a_row_hands_off() -> None:
    """After one unresolved turn, the next unclear one goes to a person instead of a loop."""
    decision = decide([m("invoice", 0.6)], False, 1, POLICY)
    assert HandoffReason.REPEATED_MISSES == decision.reason


def test_secondary_intent_gives_way() -> None:
    """'你好，发票怎么开' is about the invoice: greeting yields to a real question."""
    ranked = rank([m("greeting", 0.9, secondary=True), m("invoice", 0.9)])
    assert ["invoice"] == [x.intent_id for x in ranked]


def test_near_tie_lowers_confidence_and_confidence_stays_in_range() -> None:
    alone = confidence([m("invoice", 0.9)])
    tied = confidence([m("invoice", 0.9), m("returns", 0.89)])
    assert 0.0 <= tied < alone <= 1.0


def test_unexplained_message_lowers_confidence_of_a_greeting() -> None:
    """A greeting word in a long unrelated message is not a greeting."""
    assert confidence([m("greeting", 0.9, coverage=0.2, secondary=True)]) < POLICY.answer_at
