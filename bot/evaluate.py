"""`bot eval`: run labelled messages through a bot and count what a buyer would have got.

Each message is asked in a fresh session. Outcomes:
- resolved: in scope, answered with its label or its `alt` (a `goodbye` answer to `thanks` counts, and
  a handoff to a person counts for a buyer who asked for one, `human`);
- wrong: answered with another intent, or an out-of-scope (`other`) message answered at all;
- deferred: a clarifying question or a handoff.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.engine import Bot
from bot.model import Action, Reply, Session

OUT_OF_SCOPE = "other"
# An answer with the key intent resolves a message labelled with any of the values.
EQUIVALENT = {"goodbye": {"thanks"}, "thanks": {"goodbye"}}
BANDS = (0.0, 0.45, 0.6, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Labelled:
    text: str
    intent: str
    alt: str | None
    line: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    item: Labelled
    reply: Reply
    verdict: str  # "resolved" | "wrong" | "deferred"


@dataclass(slots=True)
class EvalReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        n = len(self.outcomes)
        in_scope = [o for o in self.outcomes if o.item.intent != OUT_OF_SCOPE]
        verdicts = Counter(o.verdict for o in self.outcomes)
        per_intent: dict[str, dict[str, float | int]] = {}
        for intent in sorted({o.item.intent for o in self.outcomes}):
            group = [o for o in self.outcomes if o.item.intent == intent]
            counts = Counter(o.verdict for o in group)
            per_intent[intent] = {
                "n": len(group),
                "resolved": _ratio(counts["resolved"], len(group)),
                "wrong": _ratio(counts["wrong"], len(group)),
                "deferred": _ratio(counts["deferred"], len(group)),
            }
        confusions = Counter(
            (o.item.intent, o.reply.intent or "-") for o in self.outcomes if o.verdict == "wrong"
        )
        return {
            "n": n,
            "in_scope": len(in_scope),
            "resolved": _ratio(sum(o.verdict == "resolved" for o in in_scope), len(in_scope)),
            "wrong": _ratio(verdicts["wrong"], n),
            "deferred": _ratio(verdicts["deferred"], n),
            "answered": _ratio(sum(o.reply.action is Action.ANSWER for o in self.outcomes), n),
            "per_intent": per_intent,
            "confusions": [
                {"label": label, "answered": got, "n": count}
                for (label, got), count in confusions.most_common(10)
            ],
            "reliability": self.reliability(),
        }

    def reliability(self) -> dict[str, dict[str, int]]:
        """For each confidence band: how many answers were given in it and how many were right."""
        table = {_band_name(i): {"n": 0, "right": 0} for i in range(len(BANDS) - 1)}
        for o in self.outcomes:
            if o.reply.action is Action.ANSWER:
                row = table[_band_name(_band(o.reply.confidence))]
                row["n"] += 1
                row["right"] += o.verdict == "resolved"
        return table


def _band(confidence: float) -> int:
    return max(i for i in range(len(BANDS) - 1) if BANDS[i] <= confidence)


def _band_name(i: int) -> str:
    return f"{BANDS[i]:.2f}-{BANDS[i + 1]:.2f}"


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def verdict(item: Labelled, reply: Reply) -> str:
    if reply.action is Action.ANSWER:
        if item.intent == OUT_OF_SCOPE:
            return "wrong"
        accepted = {item.intent, *([item.alt] if item.alt else [])}
        for label in list(accepted):
            accepted |= {k for k, v in EQUIVALENT.items() if label in v}
        return "resolved" if reply.intent in accepted else "wrong"
    if reply.action is Action.HANDOFF and reply.intent == "human" and "human" in (item.intent, item.alt):
        return "resolved"
    return "deferred"


class DataError(Exception):
    """A line of a labelled file that cannot be read; the message says which and why."""


def read_labelled(path: Path) -> Iterator[Labelled]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, intent = row["text"], row["intent"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DataError(
                    f'{path}:{number}: 这一行不是 {{"text": …, "intent": …}} 形式的 JSON '
                    f"(line is not a JSON object with text and intent: {exc})"
                ) from exc
            if not isinstance(text, str) or not isinstance(intent, str):
                raise DataError(
                    f"{path}:{number}: text 和 intent 必须是文字 (text and intent must be strings)"
                )
            alt = row.get("alt")
            yield Labelled(text=text, intent=intent, alt=alt if isinstance(alt, str) else None, line=number)


def evaluate(bot: Bot, items: Iterable[Labelled]) -> EvalReport:
    report = EvalReport()
    for item in items:
        # A fresh session per message, never stored: evaluating twice with one Bot gives the same result.
        reply, _ = bot.respond(Session(key=f"eval-{item.line}"), item.text)
        report.outcomes.append(Outcome(item=item, reply=reply, verdict=verdict(item, reply)))
    return report
