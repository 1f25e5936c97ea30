"""intents/*.yaml → `Intent`s, with every problem found and where it is."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from bot.loading import yamlfile
from bot.loading.schema import INTENT_IDS, IntentFile, validate
from bot.model import Example, Intent, Keyword, Origin, Pattern, Topic
from bot.problems import Problem, errors, problem

_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")


def load_intents(directory: Path, shown_root: Path) -> tuple[list[Intent], list[Problem]]:
    """Every intent file in `directory`, sorted by name; problems carry paths relative to `shown_root`."""
    if not directory.is_dir():
        return [], [
            problem(
                "file-missing",
                Origin(file=yamlfile.shown(directory, shown_root)),
                path=yamlfile.shown(directory, shown_root),
            )
        ]
    intents: list[Intent] = []
    problems: list[Problem] = []
    seen: dict[str, Origin] = {}
    for path in sorted(directory.glob("*.yaml")):
        intent, found = load_intent(path, yamlfile.shown(path, shown_root))
        problems += found
        if intent is None:
            continue
        if intent.id in seen:
            problems.append(
                problem("duplicate-intent", intent.origin, intent=intent.id, other=seen[intent.id])
            )
            continue
        seen[intent.id] = intent.origin
        intents.append(intent)
    return intents, problems


def load_intent(path: Path, shown: str) -> tuple[Intent | None, list[Problem]]:
    document, problems = yamlfile.read(path, shown)
    if errors(problems):
        return None, problems
    parsed, shape_problems = validate(IntentFile, document, shown)
    problems += shape_problems
    if parsed is None or not isinstance(document, yamlfile.YMap):
        return None, problems
    here = yamlfile.origin_of(document, "id")
    if not _ID.fullmatch(parsed.id):
        problems.append(problem("bad-intent-id", here, intent=parsed.id))
        return None, problems
    close = difflib.get_close_matches(parsed.id, INTENT_IDS, n=1, cutoff=0.75)
    if parsed.id not in INTENT_IDS and close:
        problems.append(problem("unknown-intent", here, intent=parsed.id, close=close[0]))
    if parsed.id != path.stem:
        problems.append(problem("id-mismatch", here, stem=path.stem, intent=parsed.id))
    examples_at = document.get("examples")
    counters_at = document.get("counter_examples")
    keywords_at = document.get("keywords")
    negatives_at = document.get("negatives")
    patterns_at = document.get("patterns")
    patterns = []
    for i, shape in enumerate(parsed.patterns):
        where = yamlfile.origin_of(patterns_at, i) if isinstance(patterns_at, yamlfile.YList) else here
        try:
            re.compile(shape.regex)
        except re.error as exc:
            problems.append(problem("bad-regex", where, regex=shape.regex, detail=str(exc)))
            continue
        patterns.append(Pattern(regex=shape.regex, weight=shape.weight, origin=where))
    topics, examples, keywords, found = _topics(parsed, document, shown)
    problems += found
    default = f"{parsed.id}.{parsed.default_topic}" if parsed.default_topic else None
    if default is not None and default not in {t.id for t in topics}:
        known = ", ".join(t.id.split(".", 1)[1] for t in topics) or "-"
        where = yamlfile.origin_of(document, "default_topic")
        problems.append(problem("unknown-default-topic", where, topic=parsed.default_topic, known=known))
        default = None
    intent = Intent(
        id=parsed.id,
        title=parsed.title,
        examples=tuple(
            Example(text=text, origin=yamlfile.origin_of(examples_at, i))
            for i, text in enumerate(parsed.examples)
        )
        + examples,
        counter_examples=tuple(
            Example(text=text, origin=yamlfile.origin_of(counters_at, i))
            for i, text in enumerate(parsed.counter_examples)
        ),
        keywords=tuple(
            Keyword(text=word, weight=weight, origin=yamlfile.origin_of(keywords_at, word))
            for word, weight in parsed.keywords.items()
        )
        + keywords,
        negatives=tuple(
            Keyword(text=word, weight=1.0, origin=yamlfile.origin_of(negatives_at, i))
            for i, word in enumerate(parsed.negatives)
        ),
        patterns=tuple(patterns),
        handoff=parsed.handoff,
        secondary=parsed.secondary,
        origin=Origin(file=shown, line=1, column=1),
        topics=topics,
        default_topic=default,
    )
    return intent, problems


def _topics(
    parsed: IntentFile, document: yamlfile.YMap, shown: str
) -> tuple[tuple[Topic, ...], tuple[Example, ...], tuple[Keyword, ...], list[Problem]]:
    """An intent's topics, and their examples and keywords (each naming its topic)."""
    topics: list[Topic] = []
    examples: list[Example] = []
    keywords: list[Keyword] = []
    problems: list[Problem] = []
    seen: dict[str, Origin] = {}
    topics_at = document.get("topics")
    for i, shape in enumerate(parsed.topics):
        node = topics_at[i] if isinstance(topics_at, yamlfile.YList) else None
        where = yamlfile.origin_of(node, "id", Origin(file=shown))
        if not _ID.fullmatch(shape.id):
            problems.append(problem("bad-topic-id", where, intent=parsed.id, topic=shape.id))
            continue
        full = f"{parsed.id}.{shape.id}"
        if full in seen:
            problems.append(problem("duplicate-topic", where, topic=full, other=seen[full]))
            continue
        seen[full] = where
        topics.append(Topic(id=full, title=shape.title, origin=where, needs_order=shape.needs_order))
        examples_at = node.get("examples") if isinstance(node, yamlfile.YMap) else None
        keywords_at = node.get("keywords") if isinstance(node, yamlfile.YMap) else None
        examples += [
            Example(text=text, origin=yamlfile.origin_of(examples_at, j, where), topic=full)
            for j, text in enumerate(shape.examples)
        ]
        keywords += [
            Keyword(text=word, weight=weight, origin=yamlfile.origin_of(keywords_at, word, where), topic=full)
            for word, weight in shape.keywords.items()
        ]
    return tuple(topics), tuple(examples), tuple(keywords), problems
