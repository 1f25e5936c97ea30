"""A shop's day in numbers, from its stored turns and tickets: what `/dashboard` draws and
`GET /v1/stats` returns.

A day is a calendar day on the shop's clock (`service.utc_offset`). The figures, as a shop owner
reads them:
- 接待量 (`conversations`): conversations in which a buyer wrote that day; `messages`: buyer messages.
- 机器人独立解决 (`bot_resolved`): those conversations in which the bot answered at least once and no
  person was needed (no ticket opened that day).
- 转人工 (`handoffs`): tickets opened that day, by reason.
- Agents' first response (`first_response`): from a ticket's opening to the first message of a person
  in that conversation; tickets nobody has answered yet are counted apart (`unanswered_tickets`).
- The busiest intents and topics, the most frequent questions the bot could not answer (asked back or
  handed off for want of confidence; digits folded so that order numbers neither split a question nor
  show), messages per hour, and the reliability of the bot's answers per confidence band.

Live traffic has no labels, so reliability is read from what the buyer did next: an answer after
which the conversation still went to a person within `NEXT_TURNS` buyer messages is counted as not
kept. It is a lower bound on how often answers were right (a kept answer may still be wrong).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from bot.model import Action, HandoffReason, Ticket, TurnRecord
from bot.storage import Storage

NEXT_TURNS = 2
TOP = 10
BANDS = (0.0, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0001)  # the last edge takes confidence 1.0 in
UNANSWERED = frozenset({HandoffReason.LOW_CONFIDENCE, HandoffReason.REPEATED_MISSES})

_DIGITS = re.compile(r"\d{2,}")
_NOISE = re.compile(r"[\s，。,.!！?？~～、…]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Band:
    low: float
    high: float
    answers: int
    kept: int  # answers after which no person was needed within NEXT_TURNS buyer messages


@dataclass(frozen=True, slots=True, kw_only=True)
class Responses:
    """How fast people answered the tickets of the day, in seconds."""

    answered: int
    median: float | None
    p90: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DayStats:
    shop: str
    day: dt.date
    utc_offset_hours: float
    conversations: int
    messages: int
    bot_resolved: int
    handed_off: int  # conversations with a ticket opened that day
    handoffs: tuple[tuple[str, int], ...]  # reason → tickets, most first
    first_response: Responses
    unanswered_tickets: int
    intents: tuple[tuple[str, int], ...]
    topics: tuple[tuple[str, int], ...]
    unanswered: tuple[tuple[str, int], ...]  # question as asked (digits masked) → times
    hours: tuple[int, ...]  # buyer messages in each hour of the day, 0-23
    reliability: tuple[Band, ...]

    @property
    def resolved_rate(self) -> float:
        return self.bot_resolved / self.conversations if self.conversations else 0.0

    @property
    def handoff_rate(self) -> float:
        return self.handed_off / self.conversations if self.conversations else 0.0


def bounds(day: dt.date, utc_offset_hours: float) -> tuple[float, float]:
    """The day's first instant and the next day's, as Unix times, on the shop's clock."""
    zone = dt.timezone(dt.timedelta(hours=utc_offset_hours))
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    return start.timestamp(), (start + dt.timedelta(days=1)).timestamp()


def today(now: float, utc_offset_hours: float) -> dt.date:
    return dt.datetime.fromtimestamp(now, dt.timezone(dt.timedelta(hours=utc_offset_hours))).date()


async def day_stats(storage: Storage, shop: str, day: dt.date, utc_offset_hours: float) -> DayStats:
    start, end = bounds(day, utc_offset_hours)
    history = await storage.history(shop, start, end)
    return compute(shop, day, utc_offset_hours, history.turns, history.tickets)


def compute(
    shop: str,
    day: dt.date,
    utc_offset_hours: float,
    turns: tuple[TurnRecord, ...],
    tickets: tuple[Ticket, ...],
) -> DayStats:
    """The day's figures from its turns (any order) and the tickets opened that day."""
    start, _ = bounds(day, utc_offset_hours)
    by_session: dict[str, list[TurnRecord]] = defaultdict(list)
    for turn in turns:
        by_session[turn.session_id].append(turn)
    for session in by_session.values():
        session.sort(key=lambda t: t.turn)
    buyer = [t for t in turns if t.action is not Action.AGENT]
    talked = {t.session_id for t in buyer}
    ticketed = {t.session_id for t in tickets}
    answered = {t.session_id for t in buyer if t.action is Action.ANSWER}

    delays: list[float] = []
    for ticket in tickets:
        first = next(
            (
                t.at
                for t in by_session.get(ticket.session_id, ())
                if t.action is Action.AGENT and t.at >= ticket.created_at
            ),
            None,
        )
        if first is not None:
            delays.append(first - ticket.created_at)

    missed: Counter[str] = Counter()
    shown: dict[str, Counter[str]] = defaultdict(Counter)
    for t in buyer:
        if t.action is Action.CLARIFY or (t.action is Action.HANDOFF and t.reason in UNANSWERED):
            masked = _DIGITS.sub(lambda m: "#" * len(m.group()), t.message.strip())
            key = _NOISE.sub("", masked.lower())
            if key:
                missed[key] += 1
                shown[key][masked] += 1

    hours = [0] * 24
    for t in buyer:
        hours[min(23, max(0, int((t.at - start) // 3600)))] += 1

    return DayStats(
        shop=shop,
        day=day,
        utc_offset_hours=utc_offset_hours,
        conversations=len(talked),
        messages=len(buyer),
        bot_resolved=len((answered & talked) - ticketed),
        handed_off=len(ticketed),
        handoffs=tuple(Counter(t.reason.value for t in tickets).most_common()),
        first_response=_responses(delays),
        unanswered_tickets=len(tickets) - len(delays),
        intents=tuple(
            Counter(t.intent for t in buyer if t.action is Action.ANSWER and t.intent).most_common(TOP)
        ),
        topics=tuple(
            Counter(t.topic for t in buyer if t.action is Action.ANSWER and t.topic).most_common(TOP)
        ),
        unanswered=tuple((shown[key].most_common(1)[0][0], n) for key, n in missed.most_common(TOP)),
        hours=tuple(hours),
        reliability=_reliability(by_session, tickets),
    )


def _responses(delays: list[float]) -> Responses:
    if not delays:
        return Responses(answered=0, median=None, p90=None)
    ordered = sorted(delays)
    return Responses(
        answered=len(ordered),
        median=round(ordered[(len(ordered) - 1) // 2], 1),
        p90=round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
    )


def _reliability(by_session: dict[str, list[TurnRecord]], tickets: tuple[Ticket, ...]) -> tuple[Band, ...]:
    opened: dict[str, list[float]] = defaultdict(list)
    for ticket in tickets:
        opened[ticket.session_id].append(ticket.created_at)
    answers = [0] * (len(BANDS) - 1)
    kept = [0] * (len(BANDS) - 1)
    for session_id, session in by_session.items():
        buyer = [t for t in session if t.action is not Action.AGENT]
        for i, turn in enumerate(buyer):
            if turn.action is not Action.ANSWER:
                continue
            band = next(b for b in range(len(BANDS) - 1) if turn.confidence < BANDS[b + 1])
            answers[band] += 1
            later = buyer[i + 1 : i + 1 + NEXT_TURNS]
            until = later[-1].at if later else turn.at
            needed = any(t.action is Action.HANDOFF for t in later) or any(
                turn.at < at <= until for at in opened.get(session_id, ())
            )
            kept[band] += not needed
    return tuple(
        Band(low=BANDS[b], high=min(1.0, BANDS[b + 1]), answers=answers[b], kept=kept[b])
        for b in range(len(BANDS) - 1)
        if answers[b]
    )


__all__ = ["Band", "DayStats", "Responses", "bounds", "compute", "day_stats", "today"]
