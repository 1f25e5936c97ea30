"""The syntax of answer templates: `{shop.name}`-style fields, `{{` and `}}` for literal braces."""

from __future__ import annotations

import functools
import re

FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


@functools.lru_cache(maxsize=4096)
def variables(template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The variable names a template uses, and the fields that are not valid names (cached: the
    same few templates are asked about at every reply)."""
    names: list[str] = []
    bad: list[str] = []
    for m in FIELD.finditer(template):
        field = m.group(1)
        if field is None:
            continue
        (names if NAME.fullmatch(field) else bad).append(field)
    rest = FIELD.sub("", template)  # what is left of a brace is one left open or never opened
    for stray in re.finditer(r"[{}][^{}]{0,20}", rest):
        bad.append(stray.group(0).strip("{}") + ("…" if stray.group(0)[0] == "{" else ""))
    return tuple(names), tuple(bad)
