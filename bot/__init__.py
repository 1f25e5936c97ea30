"""店小二 (dianxiaoer): a rule-based auto-responder for Chinese online shops.

from bot import Bot
shop = Bot.from_config("config.yaml")
reply = shop.reply("buyer-42", "啥时候发货呀")
reply.text, reply.action, reply.intent, reply.confidence
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.model import Action, Candidate, Evidence, HandoffReason, Origin, Reply
    from bot.problems import LoadError, Problem
    from bot.service import Bot

# Imported on first use, so that `bot.faces.cli` can set up the process before the engine loads.
_HOMES = {"Bot": "bot.service", "LoadError": "bot.problems", "Problem": "bot.problems"}


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(_HOMES.get(name, "bot.model")), name)
    raise AttributeError(f"module 'bot' has no attribute {name!r}")


__all__ = [
    "Action",
    "Bot",
    "Candidate",
    "Evidence",
    "HandoffReason",
    "LoadError",
    "Origin",
    "Problem",
    "Reply",
]
