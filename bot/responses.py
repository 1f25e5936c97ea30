"""responses/*.yaml → `Template`s, checked against the variables the shop defines."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from pathlib import Path

from bot import yamlfile
from bot.model import Origin, Template
from bot.problems import Problem, errors, problem
from bot.render import variables
from bot.schema import ResponseFile, validate


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
    answers_at = document.get("answers")
    used: set[str] = set()
    known = set(defined) | set(context)
    plain = False
    for i, answer in enumerate(parsed.answers):
        where = (
            yamlfile.origin_of(answers_at, i)
            if isinstance(answers_at, yamlfile.YList)
            else Origin(file=shown)
        )
        names, bad = variables(answer)
        for name in bad:
            problems.append(problem("unsafe-template", where, name=name))
        plain = plain or not any(name in context for name in names)
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, list(known), n=1)
                problems.append(
                    problem(
                        "unknown-variable",
                        where,
                        name=name,
                        allowed=", ".join(sorted(known)),
                        hint=f"是不是想写 {{{close[0]}}}？" if close else "",
                        hint_en=f" Did you mean {{{close[0]}}}?" if close else "",
                    )
                )
        used.update(names)
    if not plain:
        problems.append(problem("no-plain-answer", yamlfile.origin_of(document, "answers")))
    template = Template(
        intent_id=parsed.intent,
        variants=tuple(parsed.answers),
        variables=frozenset(used),
        origin=yamlfile.origin_of(document, "intent"),
    )
    return template, problems
