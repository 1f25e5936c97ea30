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
    directory: Path, shown_root: Path, defined: Collection[str]
) -> tuple[list[Template], list[Problem]]:
    """Every response file in `directory`; `defined` are the variable names templates may use."""
    shown_dir = yamlfile.shown(directory, shown_root)
    if not directory.is_dir():
        return [], [problem("file-missing", Origin(file=shown_dir), path=shown_dir)]
    templates, problems = [], []
    for path in sorted(directory.glob("*.yaml")):
        template, found = load_template(path, yamlfile.shown(path, shown_root), defined)
        problems += found
        if template is not None:
            templates.append(template)
    return templates, problems


def load_template(path: Path, shown: str, defined: Collection[str]) -> tuple[Template | None, list[Problem]]:
    document, problems = yamlfile.read(path, shown)
    if errors(problems):
        return None, problems
    parsed, shape_problems = validate(ResponseFile, document, shown)
    problems += shape_problems
    if parsed is None or not isinstance(document, yamlfile.YMap):
        return None, problems
    answers_at = document.get("answers")
    used: set[str] = set()
    for i, answer in enumerate(parsed.answers):
        where = (
            yamlfile.origin_of(answers_at, i)
            if isinstance(answers_at, yamlfile.YList)
            else Origin(file=shown)
        )
        names, bad = variables(answer)
        for name in bad:
            problems.append(problem("unsafe-template", where, name=name))
        for name in names:
            if name not in defined:
                close = difflib.get_close_matches(name, list(defined), n=1)
                problems.append(
                    problem(
                        "unknown-variable",
                        where,
                        name=name,
                        allowed=", ".join(sorted(defined)),
                        hint=f"是不是想写 {{{close[0]}}}？" if close else "",
                        hint_en=f" Did you mean {{{close[0]}}}?" if close else "",
                    )
                )
        used.update(names)
    template = Template(
        intent_id=parsed.intent,
        variants=tuple(parsed.answers),
        variables=frozenset(used),
        origin=yamlfile.origin_of(document, "intent"),
    )
    return template, problems
