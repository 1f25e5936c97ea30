"""Problems found in a shop's files, as text for a person, GitHub annotations or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.model import Severity
from bot.problems import Problem


def problems_text(problems: Sequence[Problem]) -> str:
    """Problems for a person: each with where, what and the fix; then a count."""
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    if not problems:
        return "没有发现问题 (no problems found)"
    body = "\n".join(p.render() for p in problems)
    return f"{body}\n\n{errors} 个错误，{warnings} 个警告 ({errors} errors, {warnings} warnings)"


def problems_github(problems: Sequence[Problem]) -> str:
    """GitHub Actions annotations: one line per problem, shown on the changed lines of a pull request."""
    lines = []
    for p in problems:
        kind = "error" if p.severity is Severity.ERROR else "warning"
        where = f"file={p.origin.file},line={max(p.origin.line, 1)},col={max(p.origin.column, 1)}"
        text = f"[{p.code}] {p.message_zh} 改法：{p.fix_zh} ({p.message_en})".replace("\n", " ")
        lines.append(f"::{kind} {where}::{text}")
    return "\n".join(lines)


def problems_json(problems: Sequence[Problem]) -> str:
    return json.dumps(
        [
            {"code": p.code, "severity": p.severity.value, "file": p.origin.file, "line": p.origin.line,
             "column": p.origin.column, "message_zh": p.message_zh, "fix_zh": p.fix_zh,
             "message_en": p.message_en, "fix_en": p.fix_en}
            for p in problems
        ],
        ensure_ascii=False,
        indent=2,
    )  # fmt: skip
