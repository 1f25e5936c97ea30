"""responses/*.yaml → `Template`s, checked against the variables the shop defines."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Collection
from datetime import date
from pathlib import Path
from types import MappingProxyType

from bot.loading import yamlfile
from bot.loading.schema import ResponseFile, TopicAnswersShape, validate
from bot.model import AnswerRule, Origin, Template
from bot.problems import Problem, errors, problem
from bot.templates import variables


def load_templates(
    directory: Path, shown_root: Path, defined: Collection[str], context: Collection[str] = frozenset()
) -> tuple[list[Template], list[Problem]]:
    """Every response file in `directory`; `defined` are the shop's variables, always present;
    `context` are variables the caller may pass (an answer using them needs a plain sibling)."""
    shown_dir = yamlfile.shown(directory, shown_root)
    if not directory.is_dir():
        return [], [problem("file-missing", Origin(file=shown_dir), path=shown_dir)]
    templates, problems = [], []
    for path in sorted(directory.glob("*.yaml")):
        template, found = load_template(path, yamlfile.shown(path, shown_root), defined, context)
        problems += found
        if template is not None:
            templates.append(template)
    return templates, problems


def load_template(
    path: Path, shown: str, defined: Collection[str], context: Collection[str] = frozenset()
) -> tuple[Template | None, list[Problem]]:
    document, problems = yamlfile.read(path, shown)
    if errors(problems):
        return None, problems
    parsed, shape_problems = validate(ResponseFile, document, shown)
    problems += shape_problems
    if parsed is None or not isinstance(document, yamlfile.YMap):
        return None, problems
    known = set(defined) | set(context)
    template, problems_found = _template(parsed.intent, parsed, document, shown, known, context)
    problems += problems_found
    topics_at = document.get("topics")
    topics: dict[str, Template] = {}
    for name, shape in parsed.topics.items():
        node = topics_at.get(name) if isinstance(topics_at, yamlfile.YMap) else None
        where = yamlfile.origin_of(topics_at, name, template.origin)
        if not isinstance(node, yamlfile.YMap):
            continue  # the schema said what is wrong
        topic, found = _template(parsed.intent, shape, node, shown, known, context, where)
        problems += found
        topics[f"{parsed.intent}.{name}"] = topic
    return dataclasses.replace(template, topics=MappingProxyType(topics)), problems


def _template(
    intent_id: str,
    parsed: ResponseFile | TopicAnswersShape,
    document: yamlfile.YMap,
    shown: str,
    known: set[str],
    context: Collection[str],
    where: Origin | None = None,
) -> tuple[Template, list[Problem]]:
    """The answers and conditional answers of an intent, or of one of its topics."""
    problems: list[Problem] = []
    found, used, plain = _check_answers(parsed.answers, document.get("answers"), shown, known, context)
    problems += found
    if not plain:
        problems.append(problem("no-plain-answer", yamlfile.origin_of(document, "answers")))
    rules = []
    rules_at = document.get("conditional")
    for i, shape in enumerate(parsed.conditional):
        node = rules_at[i] if isinstance(rules_at, yamlfile.YList) else None
        rule_at = yamlfile.origin_of(rules_at, i, Origin(file=shown))
        answers_at = node.get("answers") if isinstance(node, yamlfile.YMap) else None
        found, names, _ = _check_answers(shape.answers, answers_at, shown, known, context)
        problems += found
        used |= names
        for name in shape.when:
            if name not in context:
                close = difflib.get_close_matches(name, sorted(context), n=1)
                problems.append(problem(
                    "unknown-condition", yamlfile.origin_of(node, "when", rule_at), name=name,
                    allowed=", ".join(sorted(context)),
                    hint=f"是不是想写 {close[0]}？" if close else "", hint_en=f" Did you mean {close[0]}?" if close else "",
                ))  # fmt: skip
        window = None
        if shape.valid is not None:
            window = _window(shape.valid)
            if window is None:
                problems.append(
                    problem("bad-valid-window", yamlfile.origin_of(node, "valid", rule_at), value=shape.valid)
                )
        when = {k: frozenset([v] if isinstance(v, str) else v) for k, v in shape.when.items()}
        rules.append(
            AnswerRule(
                when=MappingProxyType(when), valid=window, variants=tuple(shape.answers), origin=rule_at
            )
        )
    template = Template(
        intent_id=intent_id,
        variants=tuple(parsed.answers),
        variables=frozenset(used),
        origin=where or yamlfile.origin_of(document, "intent"),
        rules=tuple(rules),
    )
    return template, problems


def _check_answers(
    answers: list[str], answers_at: object, shown: str, known: set[str], context: Collection[str]
) -> tuple[list[Problem], set[str], bool]:
    """Problems of a list of answer variants, the variables they use, and whether one needs no context."""
    problems: list[Problem] = []
    used: set[str] = set()
    plain = False
    for i, answer in enumerate(answers):
        where = yamlfile.origin_of(answers_at, i, Origin(file=shown))
        names, bad = variables(answer)
        problems += [problem("unsafe-template", where, name=name) for name in bad]
        plain = plain or not any(name in context for name in names)
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, list(known), n=1)
                problems.append(problem(
                    "unknown-variable", where, name=name, allowed=", ".join(sorted(known)),
                    hint=f"是不是想写 {{{close[0]}}}？" if close else "",
                    hint_en=f" Did you mean {{{close[0]}}}?" if close else "",
                ))  # fmt: skip
        used.update(names)
    return problems, used, plain


def _window(text: str) -> tuple[date, date] | None:
    """'2026-11-01..2026-11-11' → the two dates, both included; None if it is not such a window."""
    start, sep, end = text.partition("..")
    try:
        window = (date.fromisoformat(start.strip()), date.fromisoformat(end.strip()))
    except ValueError:
        return None
    return window if sep and window[0] <= window[1] else None
