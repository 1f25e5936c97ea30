"""店小二 (dianxiaoer): a rule-based auto-responder for Chinese online shops.

from bot import Bot
shop = Bot.from_config("config.yaml")
reply = shop.reply("buyer-42", "啥时候发货呀")
reply.text, reply.action, reply.intent, reply.confidence
"""

from bot.engine import Bot
from bot.model import Action, Candidate, Evidence, HandoffReason, Origin, Reply
from bot.problems import LoadError, Problem

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
