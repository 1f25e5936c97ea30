"""The frozen values that cross module boundaries. Imports nothing from `bot`."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType


class Action(enum.StrEnum):
    """What the bot does with a message."""

    ANSWER = "answer"
    CLARIFY = "clarify"
    HANDOFF = "handoff"
    HUMAN = "human"  # a person holds the conversation: the bot only says so
    AGENT = "agent"  # a turn of the agent's: a person wrote to the buyer (no buyer message)


class HandoffReason(enum.StrEnum):
    """Why a buyer is handed to a person."""

    ASKED_FOR_PERSON = "asked_for_person"
    ANGRY = "angry"
    LOW_CONFIDENCE = "low_confidence"
    REPEATED_MISSES = "repeated_misses"
    INTENT_FLAGGED = "intent_flagged"
    ORDER_LOOKUP = "order_lookup"  # the buyer gave an order number: a person looks it up
    PHOTO = "photo"  # the buyer sent the photos the bot asked for: a person looks at them
    EMPTY = "empty"


class EvidenceKind(enum.StrEnum):
    """What a piece of evidence is."""

    KEYWORD = "keyword"
    PATTERN = "pattern"
    NEGATIVE = "negative"
    COUNTER_EXAMPLE = "counter_example"
    EXAMPLE = "example"
    FOLLOW_UP = "follow_up"  # the message leans on the last answer
    ANSWER_RULE = "answer_rule"
    CHOICE = "choice"  # the buyer picked an option of the last clarifying question
    SLOT = "slot"  # the buyer gave what the bot asked for
    CONCEPT = "concept"  # a word read as its concept (同义词): 邮费 → 运费
    SOUND = "sound"  # a word typed by sound read as the shop's word (同音字): 发火 → 发货


class Asked(enum.StrEnum):
    """What the bot asked the buyer for in its last reply."""

    CHOICE = "choice"  # which of the offered options
    CONFIRM = "confirm"  # yes or no to one offered option
    HEIGHT = "height"
    WEIGHT = "weight"
    SIZE = "size"  # height and weight
    ORDER = "order"  # an order number
    PHOTO = "photo"  # photos of a problem with the goods


class Priority(enum.StrEnum):
    """How soon a person should take a ticket."""

    HIGH = "high"
    NORMAL = "normal"


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """Where a value was read: a file path and a 1-based line and column."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Example:
    """One buyer phrasing (问法) of an intent, as written; `topic` is the full id of the topic it asks
    about (`returns.shipping_fee`), None for the intent's general phrasings."""

    text: str
    origin: Origin
    topic: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Keyword:
    """A word or phrase that is evidence for an intent (and for `topic`, if set), with a weight in (0, 1]."""

    text: str
    weight: float
    origin: Origin
    topic: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Pattern:
    """A regular expression that is evidence for an intent."""

    regex: str
    weight: float
    origin: Origin


def intent_of(target: str) -> str:
    """The intent of an intent id or a full topic id (`returns.shipping_fee` → `returns`)."""
    return target.split(".", 1)[0]


def topic_of(target: str) -> str | None:
    """The topic of a full topic id, None for a plain intent id."""
    return target if "." in target else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Topic:
    """A sub-question of an intent (知识点) with answers of its own; `id` is `intent.topic`."""

    id: str
    title: str
    origin: Origin
    needs_order: bool = False  # about one order (where is it, urge it): a person looks the order up


@dataclass(frozen=True, slots=True, kw_only=True)
class Intent:
    """One thing a buyer can ask, with everything that recognises it. `examples` and `keywords`
    hold the general ones and those of every topic (each says which)."""

    id: str
    title: str
    examples: tuple[Example, ...]
    counter_examples: tuple[Example, ...]
    keywords: tuple[Keyword, ...]
    negatives: tuple[Keyword, ...]
    patterns: tuple[Pattern, ...]
    handoff: bool
    secondary: bool
    origin: Origin
    topics: tuple[Topic, ...] = ()
    default_topic: str | None = None  # answered when the message names no topic of the intent


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerRule:
    """Answers used instead of the plain ones while the caller's context matches and the date is valid."""

    when: Mapping[str, frozenset[str]]
    valid: tuple[date, date] | None
    variants: tuple[str, ...]
    origin: Origin

    def holds(self, values: Mapping[str, str], today: date) -> bool:
        if self.valid is not None and not self.valid[0] <= today <= self.valid[1]:
            return False
        return all(values.get(name) in allowed for name, allowed in self.when.items())

    def describe(self) -> str:
        parts = [f"{k}={'|'.join(sorted(v))}" for k, v in self.when.items()]
        if self.valid is not None:
            parts.append(f"valid {self.valid[0]}..{self.valid[1]}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """The answer variants (话术) of one intent, its conditional answers and the variables they use;
    `topics` holds a template per topic id, used instead of the intent's when that topic is asked."""

    intent_id: str
    variants: tuple[str, ...]
    variables: frozenset[str]
    origin: Origin
    rules: tuple[AnswerRule, ...] = ()
    topics: Mapping[str, Template] = field(default_factory=lambda: MappingProxyType({}))

    def for_topic(self, topic: str | None) -> Template:
        return self.topics.get(topic, self) if topic is not None else self

    def answers_of(
        self, topic: str | None, values: Mapping[str, str], today: date
    ) -> tuple[tuple[str, ...], AnswerRule | None]:
        """A topic's variants: those of its first rule that holds, else those of the intent's first
        rule on the order that holds (an order already refunding is answered so whatever the topic;
        a rule on dates only, a sale, stays with its own answers), else its own."""
        own = self.for_topic(topic)
        variants, rule = own.answers_for(values, today)
        if rule is None and own is not self:
            for general in self.rules:
                if general.when and general.holds(values, today):
                    return general.variants, general
        return variants, rule

    def answers_for(
        self, values: Mapping[str, str], today: date
    ) -> tuple[tuple[str, ...], AnswerRule | None]:
        """The variants to choose from: those of the first rule that holds, else the plain ones."""
        for rule in self.rules:
            if rule.holds(values, today):
                return rule.variants, rule
        return self.variants, None


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentSet:
    """Every intent and answer of a shop, loaded and validated once."""

    intents: tuple[Intent, ...]
    templates: Mapping[str, Template]
    fingerprint: str

    def intent(self, intent_id: str) -> Intent:
        for intent in self.intents:
            if intent.id == intent_id:
                return intent
        raise KeyError(intent_id)

    def title(self, intent_id: str, topic: str | None = None) -> str:
        """What a buyer reads for an intent, or for one of its topics."""
        intent = self.intent(intent_id)
        for t in intent.topics:
            if t.id == topic:
                return t.title
        return intent.title


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A buyer's message: what was typed, its normalised form and its tokens."""

    raw: str
    text: str
    tokens: tuple[Token, ...] = ()
    heard: tuple[tuple[str, str], ...] = ()  # words typed by sound and the shop's words read instead
    concepts: tuple[tuple[str, str], ...] = ()  # words read as a concept (同义词), and the concept

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(token.text for token in self.tokens)


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """One reason for a score: a keyword, a pattern, a veto or a nearest example."""

    kind: EvidenceKind
    detail: str
    weight: float
    origin: Origin | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """How strongly one intent fits a message, and why."""

    intent_id: str
    score: float
    keyword_score: float = 0.0
    example_score: float = 0.0
    coverage: float = 0.0
    vetoed: bool = False
    secondary: bool = False
    evidence: tuple[Evidence, ...] = ()
    topic: str | None = None  # the intent's topic with the strongest evidence, None: the general one


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    intent_id: str
    score: float
    topic: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    """One choice of a clarifying question (猜你想问), most likely first."""

    intent: str
    title: str
    topic: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowUp:
    """Why a message was read against the last answer: its form, the words and the setting."""

    form: str  # "ellipsis" | "question" | "value" | "not_helpful"
    words: tuple[str, ...]
    previous: str  # the intent of the last answer
    setting: str  # the config.yaml key whose weight governs it


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What to do with a message: answer, ask which of two, or hand to a person."""

    action: Action
    intent_id: str | None
    confidence: float
    alternatives: tuple[Candidate, ...] = ()
    reason: HandoffReason | None = None
    prompt: str | None = None  # a fixed reply to use (config replies), e.g. "not_helpful"
    follow_up: FollowUp | None = None  # read against the previous answer
    topic: str | None = None  # the topic of `intent_id` answered (None: the intent's general answer)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """The public result of one turn."""

    text: str
    action: Action
    intent: str | None
    confidence: float
    reason: HandoffReason | None
    session_id: str
    turn: int
    candidates: tuple[Candidate, ...] = ()
    tokens: tuple[str, ...] = ()
    normalized: str = ""
    evidence: tuple[Evidence, ...] = ()
    anger: int = 0  # intensity of anger signals, 0 when calm
    variant: str | None = None  # the answer variant of responses/ the text was filled from
    slots: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({})
    )  # the session's, after the turn
    options: tuple[Option, ...] = ()  # a clarifying question's choices, for buttons
    follow_up: FollowUp | None = None  # set when the message was read against the last answer
    kind: str = "text"  # "text", or what a chat platform inserted: "image", "video", "link", "emoji"…
    topic: str | None = None  # the topic of `intent` answered, `returns.shipping_fee`
    parts: tuple[Part, ...] = ()  # a message that asked two things: what each part was read as


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One question of a message that asked several, as it was read."""

    text: str
    intent: str | None
    topic: str | None
    confidence: float
    action: Action


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueState:
    """Where the conversation stands after a turn: what the bot asked, what it offered, what it answered."""

    asked: Asked | None = None  # what the last reply asked the buyer for
    # intents (or `intent.topic` ids) offered by the last clarifying question, in order
    options: tuple[str, ...] = ()
    answered: str | None = None  # the intent the last reply answered (None: it did not answer)
    answered_confidence: float = 0.0  # how sure that answer was, before any follow-up
    answered_topic: str | None = None  # the topic of that answer

    def to_dict(self) -> dict[str, object]:
        return {
            "asked": self.asked.value if self.asked else None,
            "options": list(self.options),
            "answered": self.answered,
            "answered_confidence": self.answered_confidence,
            "answered_topic": self.answered_topic,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> DialogueState:
        asked, options, answered = data.get("asked"), data.get("options"), data.get("answered")
        confidence = data.get("answered_confidence")
        return cls(
            asked=Asked(asked) if isinstance(asked, str) and asked in Asked._value2member_map_ else None,
            options=tuple(o for o in options if isinstance(o, str)) if isinstance(options, list) else (),
            answered=answered if isinstance(answered, str) else None,
            answered_confidence=float(confidence) if isinstance(confidence, int | float) else 0.0,
            answered_topic=topic if isinstance(topic := data.get("answered_topic"), str) else None,
        )


# The shop a server hosts when it hosts one (and the shop of data stored before there were several).
DEFAULT_SHOP = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """What the bot remembers of one conversation between turns."""

    key: str  # the session id
    shop: str = DEFAULT_SHOP
    turns: int = 0
    last_intent: str | None = None
    misses: int = 0
    slots: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # what the buyer told
    state: DialogueState = DialogueState()
    handed_off: bool = False
    updated_at: float = 0.0


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnRecord:
    """One buyer message and the bot's reply, as kept in the transcript."""

    session_id: str
    turn: int
    at: float
    message: str
    reply: str
    action: Action
    intent: str | None = None
    confidence: float = 0.0
    reason: HandoffReason | None = None
    buyer_id: str | None = None
    shop: str = DEFAULT_SHOP
    id: int | None = None
    topic: str | None = None
    message_id: str | None = None  # the caller's id of the message: a retry with it is not a new turn
    agent: str | None = None  # who wrote `reply` when a person did (action AGENT)


@dataclass(frozen=True, slots=True, kw_only=True)
class Agent:
    """A person who answers handed-off buyers (an admin may also reload shops and manage agents)."""

    name: str
    admin: bool = False
    created_at: float = 0.0
    revoked_at: float | None = None


class Verdict(enum.StrEnum):
    """What an admin did with a cluster of mined misses (`bot mine`, the dashboard)."""

    ACCEPTED = "accepted"  # its proposal was applied
    IGNORED = "ignored"  # left to people


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    """An admin's verdict on the question a cluster of misses asks (`key`, stable while the traffic
    grows): its misses up to `at` are done with; later ones form the cluster again."""

    shop: str
    key: str
    verdict: Verdict
    by: str
    at: float


class KeyKind(enum.StrEnum):
    SERVER = "server"  # the shop's own server: chats for any buyer of the shop
    WIDGET = "widget"  # public, in a web page: chats only in the buyer's own conversation


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """A key that lets a caller chat for one shop."""

    shop: str
    name: str
    kind: KeyKind
    created_at: float = 0.0
    revoked_at: float | None = None


class EventKind(enum.StrEnum):
    """What happened to a conversation that people on either end want to hear about at once."""

    TICKET_OPENED = "ticket.opened"
    TICKET_CLAIMED = "ticket.claimed"
    TICKET_CLOSED = "ticket.closed"
    BUYER_MESSAGE = "buyer.message"  # the buyer wrote while a person holds the conversation
    AGENT_MESSAGE = "agent.message"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One thing that happened, as every replica's listeners receive it. `id` is given when it is
    published ("<milliseconds>-<sequence>", increasing), so a listener can resume after the last
    one it saw."""

    kind: EventKind
    shop: str
    session_id: str
    at: float
    ticket_id: int | None = None
    data: Mapping[str, str] = field(default_factory=dict)  # text, agent, note …
    id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    """A buyer waiting for a person: why, how urgent, and where it stands."""

    session_id: str
    shop: str = DEFAULT_SHOP
    reason: HandoffReason
    priority: Priority
    created_at: float
    status: TicketStatus = TicketStatus.OPEN
    id: int | None = None
    buyer_id: str | None = None
    claimed_by: str | None = None
    claimed_at: float | None = None
    closed_at: float | None = None
    note: str | None = None
    left_messages: tuple[str, ...] = ()  # what the buyer wrote while waiting for a person
    questions: tuple[str, ...] = ()  # what else the buyer asked in the message that was handed off
    order_number: str | None = None  # captured from the conversation, for the agent to look up
