"""The matcher's own verdict on every example and counter-example.

example-stolen     an example is answered (or would be) as another intent.
example-unsure     an example reaches its intent, but below `answer_at`: buyers typing it get a question.
counter-contradicts  a counter-example (反例) so close to one of the intent's own examples that it vetoes
                     it. (A counter-example itself can never be answered as its intent: at similarity
                     >= COUNTER_SIMILARITY it vetoes the intent.)

Failing:  intents/address_change.yaml example "能寄到另一个地址吗" → logistics, through 寄到.
Fixed:    rephrase it, add a distinguishing negative word to the stealing intent, or move it.
"""

from __future__ import annotations

from bot.engine import Engine
from bot.model import Action, Example, HandoffReason, Intent, Match, Reply, Session
from bot.problems import Problem, problem
from bot.stages.match import COUNTER_SIMILARITY, similarity


def check(bot: Engine) -> list[Problem]:
    problems = []
    answer_at = bot.shop.policy.answer_at
    for intent in bot.shop.intents.intents:
        for index, example in enumerate(intent.examples, 1):
            reply = _ask(bot, example)
            top = reply.candidates[0].intent_id if reply.candidates else None
            if top is not None and top != intent.id:
                problems.append(problem(
                    "example-stolen", example.origin, index=index, text=example.text, other=top,
                    title=bot.title(top), confidence=f"{reply.confidence:.2f}", why=_why(bot, example.text, top),
                ))  # fmt: skip
            elif not _reaches(reply, intent) or reply.confidence < answer_at:
                rival = reply.candidates[1].intent_id if len(reply.candidates) > 1 else None
                problems.append(problem(
                    "example-unsure", example.origin, index=index, text=example.text,
                    confidence=f"{reply.confidence:.2f}", answer_at=answer_at,
                    rival=bot.title(rival) if rival else "无", why=_why(bot, example.text, rival) if rival else "-",
                ))  # fmt: skip
        problems += _contradictions(bot, intent)
    return problems


def _contradictions(bot: Engine, intent: Intent) -> list[Problem]:
    """Counter-examples so close to one of the intent's own examples that they veto it."""
    normalize = bot.shop.normalize
    found = []
    for index, counter in enumerate(intent.counter_examples, 1):
        for example in intent.examples:
            if similarity(normalize(counter.text), normalize(example.text)) >= COUNTER_SIMILARITY:
                found.append(problem(
                    "counter-contradicts", counter.origin, index=index, text=counter.text,
                    example=example.text, where=example.origin,
                ))  # fmt: skip
                break
    return found


def _ask(bot: Engine, example: Example) -> Reply:
    reply, _ = bot.respond(Session(key=f"lint:{example.origin}"), example.text)
    return reply


def _reaches(reply: Reply, intent: Intent) -> bool:
    """Answered, or handed off because the intent says so (转人工) or to look up the order the
    example names (快递到哪了 with an order number: the bot understood, a person looks)."""
    return (
        reply.action is Action.ANSWER
        or (intent.handoff and reply.action is Action.HANDOFF)
        or reply.reason is HandoffReason.ORDER_LOOKUP
    )


def _why(bot: Engine, text: str, intent_id: str | None) -> str:
    """The evidence that pulled `text` toward `intent_id`, with where each piece is written."""
    _, matches, _ = bot.understand(text)
    match: Match | None = next((m for m in matches if m.intent_id == intent_id), None)
    if match is None:
        return "-"
    parts = [f"'{e.detail}'({e.origin})" for e in match.evidence if e.weight > 0][:3]
    return "、".join(parts) or "-"
