"""A shop loaded from its files: settings, intents, answers and the compiled stages that serve it.

`load_shop` does all the reading and checking; the engine only uses what it returns.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from bot import context
from bot.loading.concepts import Concept, load_concepts
from bot.loading.config import read_settings
from bot.loading.intents import load_intents
from bot.loading.responses import load_templates
from bot.model import Intent, IntentSet, Match, Message, Origin, Template
from bot.problems import Problem, errors, problem
from bot.settings import Settings
from bot.stages.decide import Policy
from bot.stages.followup import FollowUpReader
from bot.stages.handoff import AngerDetector
from bot.stages.index import Index
from bot.stages.match import Compiled, ExampleEntry, Matcher, Phrase
from bot.stages.normalize import Normalizer
from bot.stages.placeholders import Placeholders
from bot.stages.render import fill, shop_values
from bot.stages.segment import Segmenter
from bot.stages.sounds import Sounds
from bot.templates import variables

# Names the fixed replies of config.yaml may use besides {shop.xxx}.
REPLY_VARIABLES = frozenset(
    {"first", "second", "options", "next_open", "order_number", "height", "weight_jin", "size", "looser",
     "tighter"}
)  # fmt: skip


def builtin_lexicon() -> dict[str, Any]:
    """The shipped language data: slang map, domain words, stopwords, anger words."""
    text = resources.files("bot").joinpath("data/lexicon.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return data


@dataclasses.dataclass(frozen=True, slots=True)
class Shop:
    """A loaded shop: its settings, intents and the compiled stages that serve it."""

    settings: Settings
    intents: IntentSet
    normalize: Normalizer
    segment: Segmenter
    index: Index
    matcher: Matcher
    anger: AngerDetector
    policy: Policy
    values: Mapping[str, str]
    follow_up: FollowUpReader
    placeholders: Placeholders
    concepts: tuple[Concept, ...]
    sounds: Sounds
    # (intent, topic) → everything the answers of that topic (None: the intent's own) say, normalised
    answer_words: Callable[[str, str | None], str]

    def read(self, raw: str, sounds: bool = True) -> tuple[Message, list[Match]]:
        """Normalise, segment and match one text: the message as read, and the ranked matches. A
        message without evidence is read once more with its words typed by sound corrected (发火),
        unless `sounds` is False (a piece of a message)."""
        normalized, concepts = self.normalize.read(raw)
        message, matches = self._match(raw, normalized)
        message = dataclasses.replace(message, concepts=concepts) if concepts else message
        if not sounds or _best(matches) >= self.policy.handoff_below:
            return message, matches
        corrected, heard = self.sounds.correct(message.text)
        if not heard:
            return message, matches
        second, rematched = self._match(raw, corrected)
        if _best(rematched) <= _best(matches):
            return message, matches
        return dataclasses.replace(second, heard=heard, concepts=concepts), rematched

    def _match(self, raw: str, normalized: str) -> tuple[Message, list[Match]]:
        tokens = self.segment(normalized)
        content = self.segment.content(tokens)
        hits = self.index.search(t.text for t in content)
        matches = self.matcher.score(normalized, content, [(h.doc, h.share) for h in hits])
        return Message(raw=raw, text=normalized, tokens=tokens), matches


def _best(matches: list[Match]) -> float:
    return max((m.score for m in matches if not m.vetoed), default=0.0)


def load_shop(config_path: Path, use_concepts: bool = True) -> tuple[Shop | None, list[Problem]]:
    """Load everything a shop is made of; (None, problems) when any error is found. `use_concepts`
    False reads every word as written (lint compares the two)."""
    settings, problems = read_settings(config_path)
    if settings is None:
        return None, problems
    root = settings.root
    values = shop_values(settings.shop)
    intents, found = load_intents(settings.intents_dir, root)
    problems += found
    templates, found = load_templates(settings.responses_dir, root, set(values), context.VARIABLES)
    problems += found
    problems += _check_replies(settings, config_path.name, set(values))
    problems += _cross_check(intents, templates, settings)
    concepts, found = load_concepts(settings.concepts_dir, root)
    problems += found
    if errors(problems):
        return None, problems
    if not use_concepts:
        concepts = []

    lexicon = builtin_lexicon()
    normalize = Normalizer(
        {**lexicon["slang"], **settings.slang},
        {word: c.name for c in concepts for word in (c.name, *c.words)},
    )
    segment = Segmenter(
        [*lexicon["words"], *settings.words, *(c.name for c in concepts)], lexicon["stopwords"]
    )

    entries = []
    for intent in intents:
        for example in intent.examples:
            normalized = normalize(example.text)
            tokens = tuple(t.text for t in segment.content(segment(normalized)))
            entries.append(
                ExampleEntry(
                    intent_id=intent.id,
                    topic=example.topic,
                    text=example.text,
                    normalized=normalized,
                    tokens=tokens,
                    origin=example.origin,
                )
            )
    compiled = [
        Compiled(
            intent=intent,
            keywords=_keywords(intent, normalize),
            negatives=tuple(
                Phrase(intent_id=intent.id, text=normalize(n.text), weight=1.0, origin=n.origin)
                for n in intent.negatives
                if normalize(n.text)
            ),
            counters=tuple(
                Phrase(intent_id=intent.id, text=normalize(c.text), weight=1.0, origin=c.origin)
                for c in intent.counter_examples
                if normalize(c.text)
            ),
            patterns=tuple((re.compile(p.regex), p.weight, p.origin) for p in intent.patterns),
        )
        for intent in intents
    ]
    intent_set = IntentSet(
        intents=tuple(intents),
        templates=MappingProxyType({t.intent_id: t for t in templates}),
        fingerprint=_fingerprint(config_path, settings),
    )
    shop = Shop(
        settings=settings,
        intents=intent_set,
        normalize=normalize,
        segment=segment,
        index=Index([e.tokens for e in entries]),
        matcher=Matcher(compiled, entries),
        anger=AngerDetector(
            [*lexicon["anger_words"], *settings.anger_words],
            [*lexicon["calm_phrases"], *settings.calm_phrases],
            lexicon["anger_emoji"],
        ),
        policy=Policy(
            answer_at=settings.answer_at,
            handoff_below=settings.handoff_below,
            misses_before_handoff=settings.misses_before_handoff,
            handoff_intents=frozenset(i.id for i in intents if i.handoff),
        ),
        values=MappingProxyType(values),
        answer_words=_answer_words(templates, values, normalize),
        follow_up=_follow_up_reader(lexicon, settings, normalize),
        placeholders=Placeholders(settings.placeholders),
        concepts=tuple(concepts),
        sounds=Sounds(
            {p.text for c in compiled for p in c.keywords} | {c.name for c in concepts}
            if settings.sound_alike
            else ()
        ),
    )
    return shop, problems


def _follow_up_reader(
    lexicon: Mapping[str, Any], settings: Settings, normalize: Normalizer
) -> FollowUpReader:
    """The follow-up reader, its words read as the matcher reads messages (a concept word as its name)."""
    words = lexicon["follow_up"]

    def read(items: Iterable[str]) -> list[str]:
        return [normalize(w) or w for w in items]

    return FollowUpReader(
        leads=read(words["leads"]),
        tails=read(words["tails"]),
        questions=read([*words["questions"], *settings.follow_up.questions]),
        fillers=set(read(words["fillers"])) | set(lexicon["stopwords"]) - set(words["pointers"]),
        values=words["values"],
        accepts=words["accepts"],
        not_helpful=read(lexicon["not_helpful"]),
        announces=read(words["announces"]),
        pointers=read(words["pointers"]),
        money_questions=read(words["money_questions"]),
    )


def _keywords(intent: Intent, normalize: Normalizer) -> tuple[Phrase, ...]:
    """An intent's keywords as matched: normalised, and once each (two spellings that normalise alike,
    or two words of one concept, are one piece of evidence: the stronger, a topic's before the intent's)."""
    kept: dict[str, Phrase] = {}
    for k in intent.keywords:
        text = normalize(k.text)
        if not text:
            continue
        phrase = Phrase(intent_id=intent.id, topic=k.topic, text=text, weight=k.weight, origin=k.origin)
        before = kept.get(text)
        if before is None or (phrase.weight, phrase.topic is not None) > (
            before.weight,
            before.topic is not None,
        ):
            kept[text] = phrase
    return tuple(kept.values())


def _answer_words(
    templates: list[Template], values: Mapping[str, str], normalize: Normalizer
) -> Callable[[str, str | None], str]:
    """Everything the answers of an intent's topic (or its own) say, filled and normalised on first
    use (not at every load): what a follow-up of that answer may take up."""
    by_intent = {t.intent_id: t for t in templates}

    @functools.cache
    def words(intent_id: str, topic: str | None) -> str:
        t = by_intent.get(intent_id)
        if t is None:
            return ""
        a = t.for_topic(topic)
        return normalize(
            " ".join(fill(v, values) for v in (*a.variants, *(v for r in a.rules for v in r.variants)))
        )

    return words


def _check_replies(settings: Settings, shown: str, defined: set[str]) -> list[Problem]:
    problems = []
    allowed = defined | REPLY_VARIABLES
    texts = [(f"replies.{key}", text) for key, text in settings.replies.items()]
    texts += [("service.welcome", settings.service.welcome)]
    texts += [(f"service.canned[{i}]", text) for i, text in enumerate(settings.service.canned)]
    for key, text in texts:
        names, bad = variables(text)
        where = Origin(file=shown)
        problems += [problem("unsafe-template", where, name=n) for n in bad]
        problems += [
            problem(
                "unknown-variable",
                where,
                name=n,
                allowed=", ".join(sorted(allowed)),
                hint=f"（{key}）",
            )
            for n in names
            if n not in allowed
        ]
    return problems


def _cross_check(intents: list[Intent], templates: list[Template], settings: Settings) -> list[Problem]:
    intent_ids = {i.id: i for i in intents}
    template_ids = {t.intent_id: t for t in templates}
    problems = [
        problem("intent-without-response", i.origin, intent=i.id) for i in intents if i.id not in template_ids
    ]
    for intent in intents:
        answered = template_ids.get(intent.id)
        if answered is None:
            continue
        own = {t.id for t in intent.topics}
        problems += [
            problem(
                "topic-without-answer", t.origin, topic=t.id, intent=intent.id, name=t.id.split(".", 1)[1]
            )
            for t in intent.topics
            if t.id not in answered.topics
        ]
        for topic_id, topic in answered.topics.items():
            if topic_id not in own:
                close = difflib.get_close_matches(topic_id, sorted(own), n=1)
                problems.append(problem(
                    "answer-without-topic", topic.origin, topic=topic_id, intent=intent.id,
                    name=topic_id.split(".", 1)[1], hint=f"是不是想写 {close[0]}？" if close else "",
                    hint_en=f" Did you mean {close[0]}?" if close else "",
                ))  # fmt: skip
    problems += [
        problem("response-without-intent", t.origin, intent=t.intent_id)
        for t in templates
        # an intent file that exists but failed to load has its own problems already
        if t.intent_id not in intent_ids and not (settings.intents_dir / f"{t.intent_id}.yaml").exists()
    ]
    return problems


def _fingerprint(config_path: Path, settings: Settings) -> str:
    digest = hashlib.sha256()
    files = [
        config_path,
        *sorted(settings.intents_dir.glob("*.yaml")),
        *sorted(settings.responses_dir.glob("*.yaml")),
        *sorted(settings.concepts_dir.glob("*.yaml")),
    ]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
