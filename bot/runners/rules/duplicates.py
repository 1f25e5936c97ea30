"""duplicate-example: the same phrasing (after normalisation) in two intents.

Failing:  intents/returns.yaml has "能退吗" and intents/quality.yaml has "能退吗？"
Fixed:    keep it in the one intent it belongs to.
"""

from __future__ import annotations

import re

from bot.engine import Engine
from bot.model import Origin
from bot.problems import Problem, problem

_PUNCTUATION = re.compile(r"[\W_]+")


def check(bot: Engine) -> list[Problem]:
    seen: dict[str, tuple[str, Origin]] = {}
    problems = []
    for entry in bot.shop.matcher.examples:
        key = _PUNCTUATION.sub("", entry.normalized)  # "能退吗" and "能退吗?" are one phrasing
        first = seen.get(key)
        if first is None:
            seen[key] = (entry.intent_id, entry.origin)
        elif first[0] != entry.intent_id:
            problems.append(
                problem("duplicate-example", entry.origin, text=entry.text, intent=first[0], other=first[1])
            )
        else:
            problems.append(problem("repeated-example", entry.origin, text=entry.text, other=first[1]))
    return problems
