"""`Bot`: loads a shop once, then runs normalise → segment → match → decide → render per message."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from bot import hours
from bot.config import Settings, read_settings
from bot.decide import Policy, decide
from bot.handoff import AngerDetector
from bot.index import Index
from bot.intents import load_intents
from bot.match import Compiled, ExampleEntry, Matcher, Phrase
from bot.model import (
    Action,
    Decision,
    Evidence,
    HandoffReason,
    Intent,
    IntentSet,
    Message,
    Origin,
    Reply,
    Session,
    Template,
)
from bot.normalize import Normalizer
from bot.problems import LoadError, Problem, errors, problem
from bot.render import CONTEXT_VARIABLES, compose, fill, shop_values, variables
from bot.responses import load_templates
from bot.segment import Segmenter
from bot.session import MemoryStore, SessionStore

# Messages longer than this are cut before matching: no question needs more, and cost stays bounded.
MAX_MATCH_CHARS = 1000


def builtin_lexicon() -> dict[str, Any]:
    """The shipped language data: slang map, domain words, stopwords, anger words."""
    text = resources.files("bot").joinpath("data/lexicon.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@dataclasses.dataclass(frozen=True, slots=True)
class Shop:
    """A loaded shop: its settings, intents and the compiled stages that serve it."""

    settings: Settings
    intents: IntentSet
    normalize: Normalizer
    segment: Segmenter
    index: Index
    matcher: Matcher
    anger: AngerDetector
    policy: Policy
    values: Mapping[str, str]


def load_shop(config_path: Path) -> tuple[Shop | None, list[Problem]]:
    """Load everything a shop is made of; (None, problems) when any error is found."""
    settings, problems = read_settings(config_path)
    if settings is None:
        return None, problems
    root = settings.root
    values = shop_values(settings.shop)
    intents, found = load_intents(settings.intents_dir, root)
    problems += found
    templates, found = load_templates(settings.responses_dir, root, set(values), CONTEXT_VARIABLES)
    problems += found
    problems += _check_replies(settings, config_path.name, set(values))
    problems += _cross_check(intents, templates, settings)
    if errors(problems):
        return None, problems

    lexicon = builtin_lexicon()
    normalize = Normalizer({**lexicon["slang"], **settings.slang})
    segment = Segmenter([*lexicon["words"], *settings.words], lexicon["stopwords"])

    entries = []
    for intent in intents:
        for example in intent.examples:
            normalized = normalize(example.text)
            tokens = tuple(t.text for t in segment.content(segment(normalized)))
            entries.append(
                ExampleEntry(
                    intent_id=intent.id,
                    text=example.text,
                    normalized=normalized,
                    tokens=tokens,
                    origin=example.origin,
                )
            )
    compiled = [
        Compiled(
            intent=intent,
            keywords=tuple(
                Phrase(intent_id=intent.id, text=normalize(k.text), weight=k.weight, origin=k.origin)
                for k in intent.keywords
                if normalize(k.text)
            ),
            negatives=tuple(
                Phrase(intent_id=intent.id, text=normalize(n.text), weight=1.0, origin=n.origin)
                for n in intent.negatives
                if normalize(n.text)
            ),
            counters=tuple(
                Phrase(intent_id=intent.id, text=normalize(c.text), weight=1.0, origin=c.origin)
                for c in intent.counter_examples
                if normalize(c.text)
            ),
            patterns=tuple((re.compile(p.regex), p.weight, p.origin) for p in intent.patterns),
        )
        for intent in intents
    ]
    intent_set = IntentSet(
        intents=tuple(intents),
        templates=MappingProxyType({t.intent_id: t for t in templates}),
        fingerprint=_fingerprint(config_path, settings),
    )
    shop = Shop(
        settings=settings,
        intents=intent_set,
        normalize=normalize,
        segment=segment,
        index=Index([e.tokens for e in entries]),
        matcher=Matcher(compiled, entries),
        anger=AngerDetector(
            [*lexicon["anger_words"], *settings.anger_words],
            [*lexicon["calm_phrases"], *settings.calm_phrases],
        ),
        policy=Policy(
            answer_at=settings.answer_at,
            handoff_below=settings.handoff_below,
            misses_before_handoff=settings.misses_before_handoff,
            handoff_intents=frozenset(i.id for i in intents if i.handoff),
        ),
        values=MappingProxyType(values),
    )
    return shop, problems


class Bot:
    """A shop's auto-responder. Build it with `Bot.from_config`; call `reply` per buyer message."""

    def __init__(self, shop: Shop, sessions: SessionStore | None = None) -> None:
        self.shop = shop
        self.sessions: SessionStore = sessions if sessions is not None else MemoryStore()

    @classmethod
    def from_config(cls, path: str | Path = "config.yaml", sessions: SessionStore | None = None) -> Bot:
        """Load the shop described by config.yaml; raise `LoadError` listing every problem."""
        shop, problems = load_shop(Path(path))
        if shop is None:
            raise LoadError(problems)
        return cls(shop, sessions)

    def understand(self, text: str) -> tuple[Message, list[Any], Any]:
        """Normalise, segment and match one message (no session, no reply)."""
        shop = self.shop
        raw = text[:MAX_MATCH_CHARS]
        normalized = shop.normalize(raw)
        tokens = shop.segment(normalized)
        message = Message(raw=raw, text=normalized, tokens=tokens)
        content = shop.segment.content(tokens)
        hits = shop.index.search(t.text for t in content)
        matches = shop.matcher.score(normalized, content, [(h.doc, h.share) for h in hits])
        anger = shop.anger(raw, normalized)
        return message, matches, anger

    def reply(self, session_id: str, text: str, context: Mapping[str, str] | None = None) -> Reply:
        """Answer one buyer message in the session `session_id` (kept in `self.sessions`)."""
        reply, session = self.respond(self.sessions.get(session_id), text, context)
        self.sessions.put(session)
        return reply

    def respond(
        self, session: Session, text: str, context: Mapping[str, str] | None = None, now: float | None = None
    ) -> tuple[Reply, Session]:
        """One turn: the reply to `text` and the session as it stands after it. Pure: stores nothing.

        `context` holds what the caller knows, as flat names (`order.courier`, `order.tracking_no`);
        answer variants that use such a name are chosen only when the caller gave it."""
        turn = session.turns + 1
        at = time.time() if now is None else now
        message, matches, anger = self.understand(text)
        values = {
            **self.shop.values,
            **{k: str(v) for k, v in (context or {}).items() if v not in (None, "")},
            "next_open": hours.next_open(at, self.shop.settings.service),
        }
        if not message.text:
            reply = Reply(
                text=fill(self.shop.settings.replies["empty"], values),
                action=Action.CLARIFY,
                intent=None,
                confidence=0.0,
                reason=None,
                session_id=session.key,
                turn=turn,
            )
            return reply, dataclasses.replace(session, turns=turn, updated_at=at)
        decision = self._chosen(session, message.text) or decide(
            matches, anger is not None, session, self.shop.policy
        )
        evidence = tuple(e for m in matches if m.intent_id == decision.intent_id for e in m.evidence)
        vetoes = tuple(
            dataclasses.replace(e, detail=f"{m.intent_id}: {e.detail}")
            for m in matches
            if m.vetoed and m.intent_id != decision.intent_id
            for e in m.evidence
            if e.weight < 0
        )
        missed = decision.action is Action.CLARIFY or decision.reason in (
            HandoffReason.LOW_CONFIDENCE,
            HandoffReason.REPEATED_MISSES,
        )
        options = (
            [c.intent_id for c in decision.alternatives[:2]] if decision.action is Action.CLARIFY else []
        )
        after = dataclasses.replace(
            session,
            turns=turn,
            last_intent=decision.intent_id if decision.action is Action.ANSWER else session.last_intent,
            misses=0 if not missed or decision.action is Action.HANDOFF else session.misses + 1,
            slots=MappingProxyType({f"choice.{i}": intent for i, intent in enumerate(options, 1)}),
            handed_off=session.handed_off or decision.action is Action.HANDOFF,
            updated_at=at,
        )
        service = self.shop.settings.service
        text, variant, rule = compose(
            decision, self.shop.intents.templates, self.shop.settings.replies, values, self.title,
            session_id=session.key, turn=turn, today=hours.local(at, service).date(),
        )  # fmt: skip
        if decision.action is Action.HANDOFF and not hours.is_open(at, service):
            text += "\n" + fill(self.shop.settings.replies["after_hours"], values)
        if session.turns == 0 and service.welcome:
            welcome = fill(service.welcome, values)
            text = welcome if decision.intent_id == "greeting" else f"{welcome}\n{text}"
        if rule is not None:
            evidence += (
                Evidence(kind="answer_rule", detail=rule.describe(), weight=1.0, origin=rule.origin),
            )
        reply = Reply(
            text=text,
            variant=variant,
            action=decision.action,
            intent=decision.intent_id,
            confidence=decision.confidence,
            reason=decision.reason,
            session_id=session.key,
            turn=turn,
            candidates=decision.alternatives,
            tokens=message.words,
            normalized=message.text,
            evidence=evidence + vetoes,
            anger=anger.intensity if anger else 0,
        )
        return reply, after

    def _chosen(self, session: Session, text: str) -> Decision | None:
        """The buyer's answer to the last clarifying question: "1", "第二个", or an intent's title."""
        options = {key: value for key, value in session.slots.items() if key.startswith("choice.")}
        if not options:
            return None
        picks = {"1": "choice.1", "第一个": "choice.1", "前者": "choice.1", "是": "choice.1", "是的": "choice.1",
                 "对": "choice.1", "2": "choice.2", "第二个": "choice.2", "后者": "choice.2"}  # fmt: skip
        key = picks.get(text.strip(" .,!?~。，！？"))
        chosen = options.get(key) if key else None
        if chosen is None:
            chosen = next((i for i in options.values() if self.title(i) in text), None)
        if chosen is None:
            return None
        return Decision(action=Action.ANSWER, intent_id=chosen, confidence=1.0)

    def title(self, intent_id: str) -> str:
        return self.shop.intents.intent(intent_id).title


def _check_replies(settings: Settings, shown: str, defined: set[str]) -> list[Problem]:
    problems = []
    allowed = defined | {"first", "second", "next_open"}
    for key, text in settings.replies.items():
        names, bad = variables(text)
        where = Origin(file=shown)
        problems += [problem("unsafe-template", where, name=n) for n in bad]
        problems += [
            problem(
                "unknown-variable",
                where,
                name=n,
                allowed=", ".join(sorted(allowed)),
                hint=f"（replies.{key}）",
            )
            for n in names
            if n not in allowed
        ]
    return problems


def _cross_check(intents: list[Intent], templates: list[Template], settings: Settings) -> list[Problem]:
    intent_ids = {i.id: i for i in intents}
    template_ids = {t.intent_id: t for t in templates}
    problems = [
        problem("intent-without-response", i.origin, intent=i.id) for i in intents if i.id not in template_ids
    ]
    problems += [
        problem("response-without-intent", t.origin, intent=t.intent_id)
        for t in templates
        # an intent file that exists but failed to load has its own problems already
        if t.intent_id not in intent_ids and not (settings.intents_dir / f"{t.intent_id}.yaml").exists()
    ]
    return problems


def _fingerprint(config_path: Path, settings: Settings) -> str:
    digest = hashlib.sha256()
    files = [
        config_path,
        *sorted(settings.intents_dir.glob("*.yaml")),
        *sorted(settings.responses_dir.glob("*.yaml")),
    ]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


__all__ = ["Bot", "LoadError", "load_shop"]
