"""The request and response bodies of the HTTP API (pydantic), with the examples the OpenAPI page shows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.loading.schema import ContextShape


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Context = ContextShape  # the caller's context, shaped once for HTTP and dialogue files


class ChatRequest(_Body):
    session_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[^\x00-\x1f\x7f/]+$",
        description="your id of the conversation: no '/' and no control characters (it is part of URLs)",
        examples=["taobao-buyer-42"],
    )
    message: str = Field(examples=["亲，啥时候发货呀？"])
    buyer_id: str | None = Field(default=None, max_length=128)
    shop_id: str | None = Field(default=None, max_length=128)
    message_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="your id of this message (printable ASCII): sent again after a lost reply, it gets "
        "the reply already given (replayed: true) instead of a second turn",
        examples=["msg-8f14e45f"],
    )
    context: Context | None = Field(
        default=None,
        examples=[
            {
                "order": {
                    "status": "shipped",
                    "shipped_at": "11月20日",
                    "courier": "中通",
                    "tracking_no": "ZT1",
                }
            }
        ],
    )


class CandidateOut(BaseModel):
    intent: str
    score: float
    topic: str | None = None


class PartOut(BaseModel):
    text: str = Field(description="the part of the message (lower case, simplified Chinese)")
    intent: str | None
    topic: str | None
    confidence: float
    action: str


class OptionOut(BaseModel):
    intent: str
    topic: str | None = None
    title: str = Field(description="what a chat window shows on the button")


class HandoffOut(BaseModel):
    ticket_id: int
    reason: str
    priority: str


class ChatResponse(BaseModel):
    session_id: str
    turn_id: int
    reply: str
    action: str = Field(description="answer | clarify | handoff | human (a person holds the session)")
    intent: str | None
    topic: str | None = Field(
        default=None, description="the topic answered, intent.topic (returns.shipping_fee)"
    )
    confidence: float
    candidates: list[CandidateOut]
    parts: list[PartOut] = Field(
        default_factory=list,
        description="a message that asked several things: each part as read (answered ones are in `reply`, in order)",
    )
    options: list[OptionOut] = Field(
        default_factory=list,
        description="a clarifying question's choices, most likely first: the buyer answers 1, 2, 3 or taps one",
    )
    follow_up: bool = Field(default=False, description="the message was read against the previous answer")
    kind: str = Field(default="text", description="text, or what the platform inserted: image, video, link…")
    handoff: HandoffOut | None = None
    session_token: str = Field(
        description="proves this conversation is the buyer's: pass it to read the transcript or its events"
    )
    replayed: bool = Field(
        default=False, description="this message_id was answered before: the stored reply, not a new turn"
    )


class TurnOut(BaseModel):
    turn: int
    at: str = Field(description="ISO 8601 with the shop's time zone", examples=["2026-12-01T10:00:00+08:00"])
    message: str
    reply: str
    action: str
    intent: str | None
    topic: str | None = None
    confidence: float
    reason: str | None
    message_id: str | None = None
    agent: str | None = Field(
        default=None, description="who wrote the reply, on an agent's turn (action agent)"
    )


class TicketOut(BaseModel):
    id: int
    session_id: str
    buyer_id: str | None
    reason: str
    priority: str
    status: str = Field(
        description="open (waiting for a person) | claimed (with an agent) | closed (back to the bot)"
    )
    created_at: str = Field(description="ISO 8601 with the shop's time zone")
    waited_seconds: float = Field(
        description="how long the buyer has waited for a person (until claimed or closed)"
    )
    claimed_by: str | None
    claimed_at: str | None
    closed_at: str | None
    note: str | None
    left_messages: list[str]
    questions: list[str] = Field(
        default_factory=list, description="what else the buyer asked in the message that was handed off"
    )
    order_number: str | None
    transcript: list[TurnOut]


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


class TransferRequest(_Body):
    to: str = Field(
        min_length=1, max_length=64, description="the agent who takes over", examples=["客服小美"]
    )
    note: str | None = Field(default=None, max_length=2000, examples=["买家要换货，订单号在记录里"])


class MessageRequest(_Body):
    text: str = Field(min_length=1, max_length=2000, examples=["亲，已经帮您补发了，单号稍后发您~"])


class AgentTurnOut(BaseModel):
    turn: int
    at: str
    text: str
    agent: str


class CloseRequest(_Body):
    note: str | None = Field(default=None, max_length=2000, examples=["已告知发货时间，买家满意"])


class Count(BaseModel):
    name: str = Field(description="an intent, topic or handoff reason id, or a question as asked")
    title: str = Field(description="what a shop owner reads for it")
    count: int


class BandOut(BaseModel):
    low: float
    high: float
    answers: int
    kept: int = Field(
        description="answers after which no person was needed within the next two buyer messages"
    )


class StatsOut(BaseModel):
    shop_id: str
    day: str = Field(description="the calendar day on the shop's clock", examples=["2026-12-01"])
    utc_offset_hours: float
    conversations: int = Field(description="接待量: conversations in which a buyer wrote that day")
    messages: int = Field(description="buyer messages that day")
    bot_resolved: int = Field(description="conversations the bot answered in and no person was needed")
    bot_resolved_rate: float = Field(description="机器人独立解决率: bot_resolved / conversations")
    handed_off: int = Field(description="conversations with a ticket opened that day")
    handoff_rate: float = Field(description="转人工率: handed_off / conversations")
    handoffs: list[Count] = Field(description="tickets opened that day, by reason, most first")
    first_response_median_seconds: float | None
    first_response_p90_seconds: float | None
    tickets_answered: int = Field(description="tickets of the day a person has written in")
    tickets_unanswered: int
    intents: list[Count] = Field(description="the intents answered most")
    topics: list[Count] = Field(description="the topics answered most")
    unanswered: list[Count] = Field(
        description="questions the bot asked back on or handed off unsure, digits masked"
    )
    hours: list[int] = Field(description="buyer messages in each hour of the day, 00-23")
    reliability: list[BandOut]


class NearestOut(BaseModel):
    intent: str | None = Field(description="the intent the shop leans toward for these messages")
    topic: str | None
    score: float
    evidence: list[str] = Field(description="the keywords and patterns that lean that way")


class ProposalOut(BaseModel):
    id: str = Field(examples=["p3f9a1c2e"])
    kind: str = Field(
        description="examples (add 问法 to a topic), new_topic, concept (a word joins a concept), or people"
    )
    intent: str | None
    topic: str | None
    examples: list[str] = Field(description="the buyers' messages it adds as 问法")
    answer: str | None = Field(description="the draft answer of a new topic (the agents' commonest reply)")
    synonym: dict[str, str] | None = Field(
        default=None, description="a concept proposal's {word, concept}: the word joins that concept"
    )
    patch: str = Field(description="a unified diff of the shop's files")
    dialogue: str = Field(description="the regression dialogue (YAML) that pins the new behaviour")


class ClusterOut(BaseModel):
    id: str
    key: str = Field(description="the question it asks; an admin's verdict is kept by it")
    count: int = Field(description="热度: buyers (sessions) who asked")
    messages: list[str] = Field(description="up to five of their messages, personal data masked")
    bot_did: dict[str, int] = Field(description="what the bot did with them: answer, clarify, handoff…")
    nearest: NearestOut
    agent_reply: str | None = Field(description="the agents' commonest reply to them")
    proposal: ProposalOut | None


class MiningOut(BaseModel):
    shop_id: str
    days: int = Field(description="how many days of stored turns were mined")
    clusters: list[ClusterOut] = Field(
        description="the most asked first; questions decided on leave out what came before"
    )


class EvalOut(BaseModel):
    file: str = Field(description="a labelled file of the shop's tests/data")
    resolved: float
    wrong: float


class ChecksOut(BaseModel):
    lint_errors: list[str]
    dialogues_passing: int
    dialogues_failing: int
    evals: list[EvalOut]


class AcceptRequest(_Body):
    answer: str | None = Field(
        default=None, min_length=1, max_length=2000,
        description="a new topic's answer (instead of the agents' reply; needed when no agent replied)",
        examples=["亲，这款面料是95%棉加5%氨纶，亲肤透气~"],
    )  # fmt: skip


class AcceptedOut(BaseModel):
    proposal: str
    key: str
    accepted: bool = Field(description="true: written to the shop's files and reloaded")
    fingerprint: str = Field(description="the shop's intents fingerprint after the reload")
    before: ChecksOut
    after: ChecksOut


class ReviewOut(BaseModel):
    proposal: str
    key: str
    verdict: str = Field(examples=["ignored"])
    by: str
    at: str


class ErasedOut(BaseModel):
    session_id: str
    shop_id: str
    sessions: int
    turns: int
    tickets: int
    events: int
