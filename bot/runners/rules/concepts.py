"""What the shop's concepts (同义词) do to its own phrasings.

concept-unused   no example or keyword uses a word of the concept: it changes nothing.
concept-steals   with the concepts an example is answered as another intent, without them as its own.

Failing:  concepts/ecommerce.yaml 到账: [退回来]  makes returns' "退回来运费谁出" read "到账运费谁出".
Fixed:    drop 退回来 from 到账 (it means two things), or rephrase the example.
"""

from __future__ import annotations

from bot.engine import Engine
from bot.model import Action, Session
from bot.problems import Problem, problem


def check(bot: Engine, plain: Engine | None) -> list[Problem]:
    """`plain` is the same shop read without concepts (None when it does not load)."""
    shop = bot.shop
    spelled = shop.normalize.spelled
    written = [spelled(e.text) for i in shop.intents.intents for e in i.examples]
    written += [spelled(k.text) for i in shop.intents.intents for k in (*i.keywords, *i.negatives)]
    corpus = "\n".join(written)
    problems = [
        problem("concept-unused", c.origin, concept=c.name)
        for c in shop.concepts
        if not any(word in corpus for word in (c.name, *c.words))
    ]
    if plain is None:
        return problems
    names_of = {c.name for c in shop.concepts if c.words}
    for intent in shop.intents.intents:
        for index, example in enumerate(intent.examples, 1):
            now = _top(bot, example.text)
            if now in (None, intent.id) or _top(plain, example.text) != intent.id:
                continue
            read = shop.normalize(example.text)
            used = {f"{name}（{word}）" for word, name in shop.normalize.concepts_in(example.text)}
            used |= {name for name in names_of if name in read and not any(u.startswith(name) for u in used)}
            names = "、".join(sorted(used)) or "-"
            problems.append(problem(
                "concept-steals", example.origin, concepts=names, intent=intent.id, index=index,
                text=example.text, other=now, title=bot.title(now),
            ))  # fmt: skip
    return problems


def _top(bot: Engine, text: str) -> str | None:
    reply, _ = bot.respond(Session(key="lint:concepts"), text)
    if reply.action is Action.ANSWER:
        return reply.intent
    return reply.candidates[0].intent_id if reply.candidates else None
