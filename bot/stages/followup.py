"""Does a message lean on the last answer? Its follow-up form, the words that make it one, and how sure.

A message is read against the previous answer only when its form says so:
- an ellipsis: 那退货呢, M码呢, 还有黑色吗 (`leads`/`tails` in the lexicon);
- a bare question about the last answer: 多久, 运费谁出, 怎么弄 (`questions`);
- a value the last topic takes, alone: XL after sizing, 新疆 after logistics (`values`, `accepts`);
- 还是不行 / 没用 right after an answer (`not_helpful`).
What is left of the message besides those words must be explained, by nothing (多久), by a value the
topic takes (那新疆呢) or by the last topic's own evidence (运费谁出 after returns). Anything else is a
new message, decided on its own terms exactly as in a fresh session.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.model import Evidence, EvidenceKind, FollowUp, Match, Message, Token
from bot.stages import asking

_EDGES = " ?？。.!！~～，,、…"
# The last topic's own evidence explains the rest of a follow-up from this score on, fully from
# EVIDENCE_FULL on ("运费谁出" after returns: 运费 is returns' too).
EVIDENCE_FLOOR = 0.2
EVIDENCE_FULL = 0.5
# A fragment leaves at most this many characters besides its form words: more is a message of its own.
MAX_REST = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class Form:
    """The follow-up form of a message before it is checked against the last topic."""

    form: str  # "ellipsis" | "question" | "value"
    words: tuple[str, ...]  # the words that make it one
    rest: str  # what is left to explain, fillers removed
    asks: bool = False  # it has a question tail or word (那X呢, 多久), not only a lead (那我先收藏了)


class FollowUpReader:
    """Reads the follow-up form of normalised messages; built once per shop from the lexicon."""

    def __init__(
        self,
        leads: Iterable[str],
        tails: Iterable[str],
        questions: Iterable[str],
        fillers: Iterable[str],
        values: Mapping[str, str],
        accepts: Mapping[str, Iterable[str]],
        not_helpful: Iterable[str],
        announces: Iterable[str] = (),
        pointers: Iterable[str] = (),
        money_questions: Iterable[str] = (),
    ) -> None:
        self._leads = _longest_first(leads)
        self._tails = _longest_first(tails)
        self._questions = _longest_first(questions)
        self._fillers = frozenset(fillers)
        self._values = {name: re.compile(f"(?:{regex})") for name, regex in values.items()}
        self._money = frozenset(money_questions)
        self._accepts = {intent: tuple(kinds) for intent, kinds in accepts.items()}
        self._not_helpful = tuple(not_helpful)
        self.announces = frozenset(announces)
        self.pointers = frozenset(pointers)

    def form(self, text: str, tokens: Sequence[Token]) -> Form | None:
        """The follow-up form of a normalised message and its tokens, or None when it has none: no
        form words and nothing but fillers, or more of its own than a fragment has."""
        start, end = 0, len(text)
        while start < end and text[start] in _EDGES:
            start += 1
        while end > start and text[end - 1] in _EDGES:
            end -= 1
        words: list[str] = []
        spans: list[tuple[int, int]] = []
        kind = None
        lead = next((w for w in self._leads if text.startswith(w, start) and end - start > len(w)), None)
        if lead is not None:
            words.append(lead)
            spans.append((start, start + len(lead)))
            kind = "ellipsis"
        tail = next((w for w in self._tails if text.endswith(w, start, end)), None)
        if tail is not None:
            words.append(tail)
            spans.append((end - len(tail), end))
            kind = "ellipsis"
        for question in self._questions:
            at = text.find(question, start, end)
            if at >= 0 and not any(a <= at < b for a, b in spans):
                words.append(question)
                spans.append((at, at + len(question)))
                kind = kind or "question"
                break
        pieces = []
        for token in tokens:  # what each token keeps outside the form words, fillers dropped
            kept = "".join(
                ch
                for i, ch in enumerate(token.text, token.start)
                if start <= i < end and ch not in _EDGES and not any(a <= i < b for a, b in spans)
            )
            if kept and kept not in self._fillers:
                pieces.append(kept)
        rest = "".join(pieces)
        if len(rest) > MAX_REST or (kind is None and not rest):
            return None
        asks = tail is not None or len(words) > (lead is not None) or asking.asks(text[start:end])
        return Form(form=kind or "value", words=tuple(words), rest=rest, asks=asks)

    def value_of(self, rest: str, intent_id: str) -> str | None:
        """The kind of value (size, colour, region…) that the whole of `rest` is, if `intent_id` takes it."""
        for kind in self._accepts.get(intent_id, ()):
            if kind in self._values and self._values[kind].fullmatch(rest):
                return kind
        return None

    def takes(self, form: Form, intent_id: str) -> bool:
        """Whether the topic takes the form's question: a money question only follows up a topic about money."""
        money = any(w in self._money for w in form.words)
        return not money or "price" in self._accepts.get(intent_id, ())

    def not_helpful(self, text: str) -> str | None:
        """The phrase that says the last answer did not help (还是不行, 没用), if one is in the text."""
        return next((p for p in self._not_helpful if p in text), None)

    def lean(self, message: Message, previous: str, matches: Sequence[Match], answer: str) -> Lean | None:
        """The follow-up reading of a message on the topic `previous` (whose answer read `answer`):
        what explains the rest of it, nothing left (多久), a value the topic takes (那新疆呢), words
        of the last answer (叠加 after the promotion answer) or the topic's own evidence for those
        words (运费谁出 after returns). None when it has no follow-up form or something is left
        unexplained."""
        form = self.form(message.text, message.tokens)
        if form is None or not self.takes(form, previous):
            return None
        own = next((m for m in matches if m.intent_id == previous and not m.vetoed), None)
        rest = form.rest
        explained, note = _explain(self, form, previous, own, answer)
        if explained is None:
            return None
        words = form.words + ((f"{rest}（{note}）",) if rest else ())
        follow = FollowUp(form=form.form, words=words, previous=previous, setting=f"follow_up.{form.form}")
        support = 1.0 if explained != "evidence" or own is None else min(1.0, own.score / EVIDENCE_FULL)
        return Lean(follow=follow, by=explained, support=support)


@dataclass(frozen=True, slots=True, kw_only=True)
class Lean:
    """A message read against the last answer, and what explained what was left of it."""

    follow: FollowUp
    by: str  # "nothing" | "value" | "answer" | "evidence"
    support: float  # how fully: 1, or the topic's own evidence on the scale of EVIDENCE_FULL


def _explain(
    reader: FollowUpReader, form: Form, previous: str, own: Match | None, answer: str
) -> tuple[str | None, str]:
    rest = form.rest
    if not rest:
        return "nothing", ""
    value = reader.value_of(rest, previous)
    if value is not None:
        return "value", value
    if rest in reader.announces:
        return None, ""  # 还有个问题: a new question is coming
    # Words of the last answer explain a question about them (叠加呢 after the promotion answer), not a
    # remark (那我先收藏了 after 可以先收藏) and not a pointer at a product (这个呢).
    if (
        rest in answer
        and form.asks
        and rest not in reader.pointers
        and (len(rest) > 1 or form.form != "value")
    ):
        return "answer", "上一轮回答里的词"
    if form.form == "value":
        return None, ""  # a bare word that is no value of the topic: a message of its own
    if own is not None and own.score >= EVIDENCE_FLOOR and any(_covers(e, rest) for e in own.evidence):
        return "evidence", f"{previous} 的依据"
    return None, ""


def _covers(evidence: Evidence, rest: str) -> bool:
    """Whether a piece of the topic's evidence is about the words left in the message."""
    if evidence.kind is EvidenceKind.EXAMPLE:
        return rest in evidence.detail
    return evidence.weight > 0 and (evidence.detail in rest or rest in evidence.detail)


def confidence(weight: float, support: float, prior: float) -> float:
    """How sure a follow-up answer is: the form's weight (config.yaml `follow_up:`), times how fully
    the rest of the message is explained, times how sure the last answer was (its square root: the
    buyer's follow-up confirms the topic). Calibrated on tests/data/conversations.jsonl; `bot eval`
    shows follow-ups in a row of their own in the reliability table."""
    return round(max(0.0, min(1.0, weight * support * math.sqrt(prior))), 4)


def _longest_first(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({w for w in words if w}, key=len, reverse=True))
