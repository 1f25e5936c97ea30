"""The request and response bodies of the HTTP API (pydantic), with the examples the OpenAPI page shows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.loading.schema import ContextShape


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Context = ContextShape  # the caller's context, shaped once for HTTP and dialogue files


class ChatRequest(_Body):
    session_id: str = Field(min_length=1, max_length=128, examples=["taobao-buyer-42"])
    message: str = Field(examples=["亲，啥时候发货呀？"])
    buyer_id: str | None = Field(default=None, max_length=128)
    shop_id: str | None = Field(default=None, max_length=128)
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


class TurnOut(BaseModel):
    turn: int
    at: float
    message: str
    reply: str
    action: str
    intent: str | None
    topic: str | None = None
    confidence: float
    reason: str | None


class TicketOut(BaseModel):
    id: int
    session_id: str
    buyer_id: str | None
    reason: str
    priority: str
    status: str
    created_at: float
    claimed_by: str | None
    closed_at: float | None
    note: str | None
    left_messages: list[str]
    questions: list[str] = Field(
        default_factory=list, description="what else the buyer asked in the message that was handed off"
    )
    order_number: str | None
    transcript: list[TurnOut]


class ClaimRequest(_Body):
    agent: str = Field(min_length=1, max_length=64, examples=["客服小美"])


class CloseRequest(_Body):
    note: str | None = Field(default=None, max_length=2000)
