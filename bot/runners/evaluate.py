"""`bot eval`: run labelled messages through a bot and count what a buyer would have got.

Each message is asked in a fresh session, or (`after`) right after the given turns in the same
session, as buyers write inside a conversation. Outcomes:
- resolved: in scope, answered with its label or its `alt` (a `goodbye` answer to `thanks` counts, and
  a handoff to a person counts for a buyer who asked for one, `human`); a message answered in two
  parts must have both answers among them;
- wrong: answered with another intent, or an out-of-scope (`other`) message answered at all;
- deferred: a clarifying question or a handoff.
Where a message is labelled with a topic (`returns.shipping_fee`), a resolved answer is also checked
for the topic: `topic_right` is the share of those answers that answered the sub-question asked.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.engine import Engine
from bot.model import Action, EvidenceKind, Origin, Reply, Session

# Ordinary first questions, one per core intent: `bot eval --after-each` runs the file after each.
FIRST_QUESTIONS = (
    "什么时候发货",
    "快递到哪了",
    "身高170体重65穿什么码",
    "能退货吗",
    "优惠券在哪领",
    "能开发票吗",
    "有货吗",
    "现在有什么活动",
    "收到的东西有质量问题",
    "可以用花呗吗",
)

OUT_OF_SCOPE = "other"
# The clock of an evaluation: a Monday at 10:00 China time, inside business hours, so that two
# runs give the same result whatever the hour.
EVAL_NOW = 1_767_578_400.0
# An answer with the key intent resolves a message labelled with any of the values.
EQUIVALENT = {"goodbye": {"thanks"}, "thanks": {"goodbye"}}
BANDS = (0.0, 0.45, 0.6, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
FOLLOW_UP_ROW = "follow_up"


@dataclass(frozen=True, slots=True, kw_only=True)
class Labelled:
    text: str
    intent: str
    alt: str | None
    line: int
    after: tuple[str, ...] = ()  # the buyer's earlier messages in the same session
    topic: str | None = None  # the sub-question asked, `returns.shipping_fee`


class Verdict(enum.StrEnum):
    RESOLVED = "resolved"
    WRONG = "wrong"
    DEFERRED = "deferred"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    item: Labelled
    reply: Reply
    verdict: Verdict


@dataclass(slots=True)
class EvalReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            **_figures(self.outcomes),
            "per_intent": self.per_intent(),
            "confusions": self.confusions(),
            "reliability": self.reliability(),
            "halves": {name: _figures(group) for name, group in self.halves().items()},
            "per_topic": self.per_topic(),
        }

    def per_topic(self) -> dict[str, dict[str, float | int]]:
        """For each labelled topic: how many, how many resolved, and how many of those got its answer."""
        table: dict[str, dict[str, float | int]] = {}
        for topic in sorted({o.item.topic for o in self.outcomes if o.item.topic}):
            group = [o for o in self.outcomes if o.item.topic == topic]
            resolved = [o for o in group if o.verdict is Verdict.RESOLVED]
            table[topic] = {
                "n": len(group),
                "resolved": _ratio(len(resolved), len(group)),
                "topic_right": _ratio(sum(_topic_right(o) for o in resolved), len(resolved)),
            }
        return table

    def halves(self) -> dict[str, list[Outcome]]:
        """The outcomes split in two by a hash of the text: a gap between the halves means the shop
        learned sentences, not buyers (learn from the failures of the first half only)."""
        split: dict[str, list[Outcome]] = {"first": [], "second": []}
        for o in self.outcomes:
            split[half(o.item.text)].append(o)
        return split

    def per_intent(self) -> dict[str, dict[str, float | int]]:
        per_intent: dict[str, dict[str, float | int]] = {}
        for intent in sorted({o.item.intent for o in self.outcomes}):
            group = [o for o in self.outcomes if o.item.intent == intent]
            counts = Counter(o.verdict for o in group)
            per_intent[intent] = {
                "n": len(group),
                "resolved": _ratio(counts[Verdict.RESOLVED], len(group)),
                "wrong": _ratio(counts[Verdict.WRONG], len(group)),
                "deferred": _ratio(counts[Verdict.DEFERRED], len(group)),
            }
        return per_intent

    def confusions(self) -> list[dict[str, object]]:
        confusions = Counter(
            (o.item.intent, o.reply.intent or "-") for o in self.outcomes if o.verdict == "wrong"
        )
        return [
            {"label": label, "answered": got, "n": count}
            for (label, got), count in confusions.most_common(10)
        ]

    def reliability(self) -> dict[str, dict[str, float]]:
        """For each confidence band: how many answers were given in it and how many were right.
        Answers that followed up the previous turn have their own row, `follow_up`, with the mean
        confidence they were given."""
        table: dict[str, dict[str, float]] = {
            _band_name(i): {"n": 0, "right": 0} for i in range(len(BANDS) - 1)
        }
        follow = [
            o for o in self.outcomes if o.reply.action is Action.ANSWER and o.reply.follow_up is not None
        ]
        for o in self.outcomes:
            if o.reply.action is Action.ANSWER and o.reply.follow_up is None:
                row = table[_band_name(_band(o.reply.confidence))]
                row["n"] += 1
                row["right"] += o.verdict == "resolved"
        table[FOLLOW_UP_ROW] = {
            "n": len(follow),
            "right": sum(o.verdict == "resolved" for o in follow),
            "mean_confidence": round(sum(o.reply.confidence for o in follow) / len(follow), 4)
            if follow
            else 0.0,
        }
        return table


def _figures(outcomes: list[Outcome]) -> dict[str, float]:
    """resolved (of in-scope), wrong and deferred (of all), and how often a clarifying question
    offered the right intent (of in-scope messages that got one)."""
    n = len(outcomes)
    in_scope = [o for o in outcomes if o.item.intent != OUT_OF_SCOPE]
    verdicts = Counter(o.verdict for o in outcomes)
    clarified = [o for o in in_scope if o.reply.action is Action.CLARIFY and o.reply.options]
    topical = [o for o in in_scope if o.item.topic and o.verdict is Verdict.RESOLVED]
    return {
        "n": n,
        "in_scope": len(in_scope),
        "resolved": _ratio(sum(o.verdict == "resolved" for o in in_scope), len(in_scope)),
        "wrong": _ratio(verdicts[Verdict.WRONG], n),
        "deferred": _ratio(verdicts[Verdict.DEFERRED], n),
        "answered": _ratio(sum(o.reply.action is Action.ANSWER for o in outcomes), n),
        "clarified": _ratio(sum(o.reply.action is Action.CLARIFY for o in outcomes), n),
        "handed_off": _ratio(sum(o.reply.action in (Action.HANDOFF, Action.HUMAN) for o in outcomes), n),
        "clarified_right": _ratio(sum(_offered_right(o) for o in clarified), len(clarified)),
        # in scope, and either answered right or asked a question that offered the right intent
        "resolved_or_offered": _ratio(
            sum(
                o.verdict is Verdict.RESOLVED or (o.reply.action is Action.CLARIFY and _offered_right(o))
                for o in in_scope
            ),
            len(in_scope),
        ),
        "topic_right": _ratio(sum(_topic_right(o) for o in topical), len(topical)),
        "topic_labelled": len(topical),
    }


def _topic_right(o: Outcome) -> bool:
    """A resolved answer that answered the labelled topic (in any of its parts)."""
    return o.item.topic in {o.reply.topic, *(p.topic for p in o.reply.parts if p.action is Action.ANSWER)}


def _offered_right(o: Outcome) -> bool:
    wanted = {o.item.intent, *([o.item.alt] if o.item.alt else [])}
    return any(option.intent in wanted for option in o.reply.options)


def half(text: str) -> str:
    """Which half of a labelled file a message is in, by a hash of its text."""
    return "first" if hashlib.sha256(text.encode()).digest()[0] % 2 == 0 else "second"


def _band(confidence: float) -> int:
    return max(i for i in range(len(BANDS) - 1) if BANDS[i] <= confidence)


def _band_name(i: int) -> str:
    return f"{BANDS[i]:.2f}-{BANDS[i + 1]:.2f}"


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def verdict(item: Labelled, reply: Reply) -> Verdict:
    if reply.action is Action.ANSWER:
        if item.intent == OUT_OF_SCOPE:
            return Verdict.WRONG
        accepted = {item.intent, *([item.alt] if item.alt else [])}
        for label in list(accepted):
            accepted |= {k for k, v in EQUIVALENT.items() if label in v}
        answered = {reply.intent, *(p.intent for p in reply.parts if p.action is Action.ANSWER)}
        return Verdict.RESOLVED if answered <= accepted else Verdict.WRONG
    if reply.action is Action.HANDOFF and reply.intent == "human" and "human" in (item.intent, item.alt):
        return Verdict.RESOLVED
    return Verdict.DEFERRED


class DataError(Exception):
    """A line of a labelled file that cannot be read; the message says which and why."""


def text_key(text: str) -> str:
    """How a topic label file names a message without holding its text: 16 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _rows(path: Path, keys: tuple[str, str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSON-lines file that hold both `keys`, with their line numbers."""
    shape = "{" + ", ".join(f'"{k}": …' for k in keys) + "}"
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                missing = [key for key in keys if key not in row]
                if missing:
                    raise KeyError(missing[0])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DataError(
                    f"{path}:{number}: 这一行不是 {shape} 形式的 JSON "
                    f"(line is not a JSON object with {' and '.join(keys)}: {exc})"
                ) from exc
            yield number, row


def read_topics(path: Path) -> dict[str, str]:
    """A topic label file: JSON lines {"sha": text_key(text), "topic": "intent.topic" or null}."""
    return {
        row["sha"]: row["topic"]
        for _, row in _rows(path, ("sha", "topic"))
        if isinstance(row["sha"], str) and isinstance(row["topic"], str)
    }


def with_topics(items: Iterable[Labelled], topics: Mapping[str, str]) -> list[Labelled]:
    """The items, each with the topic the label file gives its text (a topic of its own stays)."""
    return [
        item if item.topic or text_key(item.text) not in topics
        else dataclasses.replace(item, topic=topics[text_key(item.text)])
        for item in items
    ]  # fmt: skip


def read_labelled(path: Path) -> Iterator[Labelled]:
    for number, row in _rows(path, ("text", "intent")):
        text, intent = row["text"], row["intent"]
        if not isinstance(text, str) or not isinstance(intent, str):
            raise DataError(f"{path}:{number}: text 和 intent 必须是文字 (text and intent must be strings)")
        alt, after, topic = row.get("alt"), row.get("after", []), row.get("topic")
        if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
            raise DataError(f"{path}:{number}: after 必须是文字的列表 (after must be a list of strings)")
        yield Labelled(
            text=text,
            intent=intent,
            alt=alt if isinstance(alt, str) else None,
            line=number,
            after=tuple(after),
            topic=topic if isinstance(topic, str) else None,
        )


def evaluate(bot: Engine, items: Iterable[Labelled], after: tuple[str, ...] = ()) -> EvalReport:
    """Each message in a fresh session (never stored: evaluating twice with one Bot gives the same
    result), right after the turns `after` and the item's own `after`."""
    report = EvalReport()
    opened: dict[tuple[str, ...], Session] = {}
    for item in items:
        earlier = after + item.after
        session = opened.get(earlier)
        if session is None:
            session = Session(key="eval")
            for text in earlier:
                _, session = bot.respond(session, text, now=EVAL_NOW)
            opened[earlier] = session
        reply, _ = bot.respond(session, item.text, now=EVAL_NOW)
        report.outcomes.append(Outcome(item=item, reply=reply, verdict=verdict(item, reply)))
    return report


def evaluate_after_each(
    bot: Engine, items: list[Labelled], firsts: Iterable[str] = FIRST_QUESTIONS
) -> dict[str, EvalReport]:
    """The whole file after each ordinary first question, one report per question."""
    return {first: evaluate(bot, items, (first,)) for first in firsts}


def after_summary(reports: Mapping[str, EvalReport]) -> dict[str, object]:
    """`after` of the JSON output: figures per preceding question and over all of them."""
    everything = EvalReport(outcomes=[o for r in reports.values() for o in r.outcomes])
    return {
        "overall": _figures(everything.outcomes),
        "reliability": everything.reliability(),
        "per_question": {first: _figures(r.outcomes) for first, r in reports.items()},
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdAdvice:
    """One setting of the two thresholds and what it would have done on a labelled file."""

    answer_at: float
    handoff_below: float
    single: Mapping[str, float]  # figures on single messages
    conversation: Mapping[str, float]  # figures after each ordinary first question
    meets: bool  # wrong ≤ the target both ways


# A keyword misleads when, over at least KEYWORD_MIN_SEEN labelled messages where it counted, it
# pointed at its intent markedly less often than its weight claims.
KEYWORD_MIN_SEEN = 4
KEYWORD_MARGIN = 0.15
KEYWORD_FLOOR = 0.45  # the weight suggested for a misleading keyword is its precision, not less than this


@dataclass(frozen=True, slots=True, kw_only=True)
class KeywordReliability:
    """How often a keyword or pattern of an intent was right where it counted as evidence."""

    intent: str
    word: str  # the keyword, or "pattern <regex>"
    weight: float
    origin: Origin
    seen: int  # labelled messages in which it was evidence for `intent`
    right: int  # of those, labelled with `intent` (or its alternative)
    labels: tuple[tuple[str, int], ...]  # what those messages were labelled, most first

    @property
    def precision(self) -> float:
        return (self.right + 1) / (self.seen + 2)  # smoothed: two sightings are not a verdict

    @property
    def misleads(self) -> bool:
        return (
            self.seen >= KEYWORD_MIN_SEEN
            and self.precision < self.weight - KEYWORD_MARGIN
            and self.weight > KEYWORD_FLOOR
        )

    @property
    def suggested(self) -> float:
        return round(max(KEYWORD_FLOOR, self.precision), 2) if self.misleads else self.weight


def keyword_reliability(bot: Engine, items: Iterable[Labelled]) -> list[KeywordReliability]:
    """Every keyword and pattern that was evidence in the labelled messages, the most misleading first
    (weight far above how often it was right)."""
    seen: dict[tuple[str, str], Counter[str]] = {}
    right: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], tuple[float, Origin]] = {}
    for item in items:
        _, matches, _ = bot.understand(item.text)
        for match in matches:
            for evidence in match.evidence:
                if evidence.kind not in (EvidenceKind.KEYWORD, EvidenceKind.PATTERN):
                    continue
                key = (match.intent_id, evidence.detail)
                seen.setdefault(key, Counter())[item.intent] += 1
                right[key] += match.intent_id in (item.intent, item.alt)
                where[key] = (evidence.weight, evidence.origin)
    rows = [
        KeywordReliability(intent=intent, word=word, weight=where[key][0], origin=where[key][1],
                           seen=sum(labels.values()), right=right[key], labels=tuple(labels.most_common(3)))
        for key, labels in seen.items()
        for intent, word in [key]
    ]  # fmt: skip
    rows.sort(key=lambda r: (not r.misleads, r.precision - r.weight, -r.seen))
    return rows


ANSWER_AT_GRID = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
HANDOFF_BELOW_GRID = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55)


def advise_thresholds(bot: Engine, items: list[Labelled], target_wrong: float) -> list[ThresholdAdvice]:
    """Every setting of the grid, best first: those that keep wrong answers at or under the target
    on single messages and in conversation, by resolved in conversation, then the rest by wrong."""
    advice = []
    understood: dict[str, Any] = {}

    def understand(text: str) -> Any:  # matching does not depend on the thresholds: once per text
        if text not in understood:
            understood[text] = bot.understand(text)
        return understood[text]

    for answer_at in ANSWER_AT_GRID:
        for handoff_below in HANDOFF_BELOW_GRID:
            if handoff_below >= answer_at:
                continue
            policy = dataclasses.replace(bot.shop.policy, answer_at=answer_at, handoff_below=handoff_below)
            trial = Engine(dataclasses.replace(bot.shop, policy=policy))
            trial.understand = understand  # type: ignore[method-assign]
            single = _figures(evaluate(trial, items).outcomes)
            together = [o for r in evaluate_after_each(trial, items).values() for o in r.outcomes]
            conversation = _figures(together)
            meets = float(single["wrong"]) <= target_wrong and float(conversation["wrong"]) <= target_wrong
            advice.append(ThresholdAdvice(answer_at=answer_at, handoff_below=handoff_below, single=single,
                                          conversation=conversation, meets=meets))  # fmt: skip
    advice.sort(
        key=lambda a: (
            not a.meets,
            -float(a.conversation["resolved"]) if a.meets else float(a.conversation["wrong"]),
        )
    )
    return advice
