"""Score intents for one message: keywords, patterns, vetoes and the nearest examples.

Each intent gets a score in [0, 1] that combines, as independent evidence (noisy-or):
- keywords and patterns found in the text, each with its weight;
- the similarity of the nearest example among the candidates the index returned.
A negative word of an intent vetoes it. `coverage` says how much of the message the intent's
evidence explains, so that one shared word in a long unrelated message is not taken for much.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.model import Evidence, EvidenceKind, Intent, Match, Origin, Token
from bot.stages.phrases import Phrases


@dataclass(frozen=True, slots=True, kw_only=True)
class Phrase:
    intent_id: str
    text: str
    weight: float
    origin: Origin
    topic: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExampleEntry:
    """One example as the matcher sees it: normalised text and its meaningful tokens."""

    intent_id: str
    text: str
    normalized: str
    tokens: tuple[str, ...]
    origin: Origin
    topic: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Compiled:
    """An intent's evidence, normalised like buyer text."""

    intent: Intent
    keywords: tuple[Phrase, ...]
    negatives: tuple[Phrase, ...]
    counters: tuple[Phrase, ...]
    patterns: tuple[tuple[re.Pattern[str], float, Origin], ...]


# A message this close to a counter-example (反例) of an intent is not that intent.
COUNTER_SIMILARITY = 0.9
# An example less similar than this to a message is no evidence for its intent.
EXAMPLE_FLOOR = 0.5


class Matcher:
    """Scores every intent with evidence for a message; built once per shop."""

    def __init__(self, compiled: Sequence[Compiled], examples: Sequence[ExampleEntry]) -> None:
        self._compiled = {c.intent.id: c for c in compiled}
        self._order = tuple(c.intent.id for c in compiled)
        self._position = {intent_id: i for i, intent_id in enumerate(self._order)}  # ties: file order
        self._with_patterns = tuple(c for c in compiled if c.patterns)
        self.examples = tuple(examples)
        phrases = [k for c in compiled for k in c.keywords]
        by_text: dict[str, list[Phrase]] = {}
        for phrase in phrases:
            by_text.setdefault(phrase.text, []).append(phrase)
        self._keywords = by_text
        # The longest keyword at every position, so overlapping ones ("穿什么" and "什么码") both count.
        self._phrases = Phrases(by_text)

    def vetoes(self, intent_id: str, text: str) -> bool:
        """Whether a negative word of the intent is in normalised `text` (the intent is out)."""
        compiled = self._compiled.get(intent_id)
        return compiled is not None and any(n.text in text for n in compiled.negatives)

    def keywords(self) -> frozenset[str]:
        """Every keyword of every intent, normalised as the matcher reads them."""
        return frozenset(self._keywords)

    def score(
        self, text: str, content: Sequence[Token], candidates: Sequence[tuple[int, float]]
    ) -> list[Match]:
        """Ranked matches (best first) for normalised `text`, its meaningful tokens and candidate examples."""
        found: dict[str, list[tuple[Phrase | None, float, int, int, str, Origin]]] = {}
        end = 0
        for start in range(len(text)):
            word = self._phrases.longest_at(text, start)
            if word is None or start + len(word) <= end:
                continue  # none, or inside a longer keyword: "运费" in "退货运费" is no evidence of its own
            end = start + len(word)
            for phrase in self._keywords[word]:
                found.setdefault(phrase.intent_id, []).append(
                    (phrase, phrase.weight, start, end, "keyword", phrase.origin)
                )
        for compiled in self._with_patterns:
            for regex, weight, origin in compiled.patterns:
                hit = regex.search(text)
                if hit:
                    found.setdefault(compiled.intent.id, []).append(
                        (None, weight, hit.start(), hit.end(), f"pattern {regex.pattern}", origin)
                    )

        # The nearest example of each intent's topic (None: its general examples).
        near_topic: dict[tuple[str, str | None], tuple[float, ExampleEntry]] = {}
        for doc, share in candidates:
            entry = self.examples[doc]
            # Edit similarity, counted only as far as the example's meaningful (rare) words are
            # in the message too: "老人能用吗" shares 能用吗 with "白条能用吗" but not 白条.
            weight = 0.6 + 0.4 * share
            key = (entry.intent_id, entry.topic)
            # Under EXAMPLE_FLOOR an example is no evidence: rapidfuzz may stop early below it.
            best = max(near_topic.get(key, (0.0, entry))[0], EXAMPLE_FLOOR)
            if best >= weight:
                continue  # even a perfect match would not beat the topic's best so far
            sim = similarity(text, entry.normalized, at_least=best / weight) * weight
            if sim > best:
                near_topic[key] = (sim, entry)
        nearest: dict[str, tuple[float, ExampleEntry]] = {}
        for (intent_id, _), value in near_topic.items():
            if value[0] > nearest.get(intent_id, (0.0,))[0]:
                nearest[intent_id] = value

        content_chars = sum(t.end - t.start for t in content)
        matches = []
        for intent_id in set(found) | set(nearest):
            if intent_id not in found and nearest[intent_id][0] < EXAMPLE_FLOOR:
                continue  # no evidence worth a score: it could only ever rank as 0
            compiled = self._compiled[intent_id]
            evidence: list[Evidence] = []
            vetoes = [n for n in compiled.negatives if n.text in text]
            vetoes += [
                c
                for c in compiled.counters
                if similarity(text, c.text, COUNTER_SIMILARITY) >= COUNTER_SIMILARITY
            ]
            kw_miss = 1.0
            topic_miss: dict[str, float] = {}
            covered = [False] * len(text)
            counted: set[str] = set()
            for source, weight, start, end, kind, origin in found.get(intent_id, []):
                covered[start:end] = [True] * (end - start)
                detail = source.text if source is not None else kind
                if detail in counted:
                    continue  # a word said twice (看有没有问题…没有问题) is one piece of evidence
                counted.add(detail)
                kw_miss *= 1 - weight
                if source is not None and source.topic is not None:
                    topic_miss[source.topic] = topic_miss.get(source.topic, 1.0) * (1 - weight)
                evidence.append(
                    Evidence(
                        kind=EvidenceKind.KEYWORD if source else EvidenceKind.PATTERN,
                        detail=detail,
                        weight=weight,
                        origin=origin,
                    )
                )
            keyword_score = 1 - kw_miss
            example_score = 0.0
            if intent_id in nearest:
                sim, entry = nearest[intent_id]
                example_score = max(0.0, (sim - EXAMPLE_FLOOR) / (1 - EXAMPLE_FLOOR))
                evidence.append(
                    Evidence(
                        kind=EvidenceKind.EXAMPLE,
                        detail=entry.text,
                        weight=round(sim, 3),
                        origin=entry.origin,
                    )
                )
                if sim >= EXAMPLE_FLOOR:
                    for token in set(entry.tokens):
                        for start in _find_all(text, token):
                            covered[start : start + len(token)] = [True] * len(token)
            coverage = _coverage(content, covered, content_chars)
            score = 1 - (1 - keyword_score) * (1 - example_score)
            for veto in vetoes:
                veto_kind = (
                    EvidenceKind.COUNTER_EXAMPLE if veto in compiled.counters else EvidenceKind.NEGATIVE
                )
                evidence.append(Evidence(kind=veto_kind, detail=veto.text, weight=-1.0, origin=veto.origin))
            matches.append(
                Match(
                    intent_id=intent_id,
                    score=0.0 if vetoes else round(score, 4),
                    keyword_score=round(keyword_score, 4),
                    example_score=round(example_score, 4),
                    coverage=round(coverage, 4),
                    vetoed=bool(vetoes),
                    secondary=compiled.intent.secondary,
                    evidence=tuple(evidence),
                    topic=(_topic(intent_id, topic_miss, near_topic) or compiled.intent.default_topic)
                    if compiled.intent.topics
                    else None,
                )
            )
        matches.sort(key=lambda m: (-m.score, -m.coverage, self._position[m.intent_id]))
        return matches


def _topic(
    intent_id: str,
    keyword_miss: dict[str, float],
    nearest: dict[tuple[str, str | None], tuple[float, ExampleEntry]],
) -> str | None:
    """The intent's topic with the strongest evidence (its keywords and its nearest example, noisy-or);
    None when no topic has evidence (the intent's general examples never pick one)."""
    topics = dict.fromkeys([*keyword_miss, *(t for i, t in nearest if i == intent_id and t is not None)])
    best, best_score = None, 0.0
    for topic in topics:
        sim = nearest.get((intent_id, topic), (0.0,))[0]
        example = max(0.0, (sim - EXAMPLE_FLOOR) / (1 - EXAMPLE_FLOOR))
        score = 1 - keyword_miss.get(topic, 1.0) * (1 - example)
        if score > best_score:
            best, best_score = topic, score
    return best


def similarity(text: str, example: str, at_least: float = 0.0) -> float:
    """How alike a message and an example are, in [0, 1]: edit similarity, with a partial
    match counted when the example is contained in a longer message. A value under `at_least` may
    come back as anything under it (rapidfuzz stops early), so callers that only compare save work."""
    if not text or not example:
        return 0.0
    whole = fuzz.ratio(text, example, score_cutoff=at_least * 100) / 100
    shorter, longer = len(text), len(example)
    if shorter > longer:
        shorter, longer = longer, shorter
    if shorter < 3:
        return whole
    factor = (shorter / longer) ** 0.25
    floor = (whole if whole > at_least else at_least) / factor * 100  # below it the partial cannot win
    if floor > 100:
        return whole
    part = fuzz.partial_ratio(text, example, score_cutoff=floor) / 100 * factor
    return part if part > whole else whole


def _coverage(content: Sequence[Token], covered: list[bool], total: int) -> float:
    """The share of the meaningful tokens' characters that lie in a token touched by evidence."""
    if not total:
        return 1.0
    touched = sum(t.end - t.start for t in content if any(covered[t.start : t.end]))
    return touched / total


def _find_all(text: str, token: str) -> list[int]:
    starts, i = [], text.find(token)
    while i >= 0 and token:
        starts.append(i)
        i = text.find(token, i + 1)
    return starts
