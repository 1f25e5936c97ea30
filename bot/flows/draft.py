"""The typed draft of one turn that the flows pass along."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.model import Asked, Decision, Evidence, Match, Message, Part, Session
from bot.stages.extract import Body
from bot.stages.handoff import Anger


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnDraft:
    """One turn as the flows work it out: what was read, and the decision so far."""

    session: Session  # as it stood before this turn
    message: Message
    kind: str  # "text", or what the platform inserted: "image", "link", "emoji"…
    matches: tuple[Match, ...]
    anger: Anger | None
    values: Mapping[str, str]  # shop facts and the caller's context, for answers
    measured: Body
    numbers: tuple[str, ...]  # order and tracking numbers in the message
    slots: Mapping[str, str]  # what the buyer has told, after this turn
    decision: Decision | None = None
    settled: bool = False  # the buyer answered the bot's own question: no other reading
    asked: Asked | None = None  # what this turn's reply asks the buyer for
    reply_text: str | None = None  # a reply a flow made instead of the intent's answer
    extra: tuple[str, ...] = ()  # lines after the reply
    evidence: tuple[Evidence, ...] = ()  # what the flows add to explain the turn
    parts: tuple[Part, ...] = ()  # a message that asked several things: each part as read
    also: tuple[Decision, ...] = ()  # the answers after `decision`'s, for a message that asked two things
