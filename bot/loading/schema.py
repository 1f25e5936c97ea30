"""The shapes of the shop's YAML files (pydantic), and their errors as `Problem`s.

The same models give the JSON Schema that editors use for completion.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from bot import context
from bot.loading.yamlfile import YList, YMap, origin_of
from bot.model import Origin
from bot.problems import Problem, problem

# The ten high-frequency questions (seed 004), then the conversation glue. Ids are fixed: tools depend on them.
CORE_INTENTS = (
    "shipping_time", "logistics", "sizing", "returns", "coupons",
    "invoice", "stock", "promotion", "quality", "payment",
)  # fmt: skip
INTENT_IDS = (*CORE_INTENTS, "greeting", "thanks", "goodbye", "human", "bargain", "address_change")


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class PatternShape(_Shape):
    regex: str = Field(min_length=1, description="Python regular expression, matched on normalised text")
    weight: float = Field(default=0.8, gt=0, le=1)


class ShapeError(ValueError):
    """A value one of our validators refuses, said in Chinese and in English: the problem shows
    each in its own language (pydantic's own message would put English inside the Chinese line)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh}{_BETWEEN}{en}")


_BETWEEN = " \u2016 "  # between the two languages of a ShapeError's message


def _check_weights(value: dict[str, float]) -> dict[str, float]:
    for word, weight in value.items():
        if not 0 < weight <= 1:
            raise ShapeError(
                f"「{word}」的权重是 {weight}，要在 0 和 1 之间（大于 0，最大 1，例如 0.8）",
                f"weight of {word} is {weight}; it must be in (0, 1], e.g. 0.8",
            )
    return value


class TopicShape(_Shape):
    """One sub-question (知识点) of an intent, with its own phrasings, keywords and answers."""

    id: str = Field(description="topic id inside the intent ([a-z][a-z0-9_]*); the full id is intent.topic")
    title: str = Field(min_length=1, description="中文名, shown in clarifying questions")
    examples: list[str] = Field(min_length=1, description="buyer phrasings (问法) of this sub-question")
    keywords: dict[str, float] = Field(
        default_factory=dict, description="word or phrase → weight in (0, 1]: evidence for this topic"
    )
    needs_order: bool = Field(
        default=False,
        description="要看具体订单才能答（快递到哪了、催发货）：买家给了订单号就转人工去查，没给就先请他发订单号",
    )

    @field_validator("keywords")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_weights(value)


class IntentFile(_Shape):
    """intents/<id>.yaml: how buyers ask one thing."""

    id: str = Field(description="fixed intent id, the same as the file name")
    title: str = Field(min_length=1, description="中文名, shown in clarifying questions")
    handoff: bool = Field(default=False, description="always hand this intent to a person")
    secondary: bool = Field(
        default=False,
        description="次要意图 (greeting, thanks…): gives way when the same message has evidence for another intent",
    )
    examples: list[str] = Field(min_length=1, description="buyer phrasings (问法)")
    counter_examples: list[str] = Field(
        default_factory=list,
        description="反例: phrasings that must NOT land on this intent (不想退了 for returns)",
    )
    keywords: dict[str, float] = Field(
        default_factory=dict, description="word or phrase → weight in (0, 1]: evidence for this intent"
    )
    negatives: list[str] = Field(default_factory=list, description="words that veto this intent")
    patterns: list[PatternShape] = Field(default_factory=list)
    topics: list[TopicShape] = Field(
        default_factory=list,
        description="知识点: the sub-questions of this intent, each answered by its own answers in responses/",
    )
    default_topic: str | None = Field(
        default=None,
        description="the topic answered when a message names the intent but none of its topics "
        "(the most common sub-question); without it such a message gets the intent's own answers",
    )

    @field_validator("keywords")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_weights(value)


class AnswerRuleShape(_Shape):
    when: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="conditions on what the caller passed: order.status: shipped, product.category: [dress, skirt]",
    )
    valid: str | None = Field(
        default=None, description="dates the rule is valid, e.g. 2026-11-01..2026-11-11"
    )
    answers: list[str] = Field(min_length=1)


class TopicAnswersShape(_Shape):
    answers: list[str] = Field(min_length=1, description="answer variants for this topic")
    conditional: list[AnswerRuleShape] = Field(
        default_factory=list, description="the topic's answers under conditions, as for the intent"
    )


class ResponseFile(_Shape):
    """responses/<id>.yaml: what the bot answers for one intent."""

    intent: str
    answers: list[str] = Field(
        min_length=1,
        description="answer variants (话术); {shop.xxx} fills in shop facts. Used when no topic is recognised",
    )
    conditional: list[AnswerRuleShape] = Field(
        default_factory=list,
        description="answers used instead of the plain ones when their conditions hold; the first that holds wins",
    )
    topics: dict[str, TopicAnswersShape] = Field(
        default_factory=dict, description="topic id (of intents/<id>.yaml) → its answers"
    )


class Thresholds(_Shape):
    answer_at: float = Field(default=0.75, ge=0, le=1)
    handoff_below: float = Field(default=0.45, ge=0, le=1)
    misses_before_handoff: int = Field(default=2, ge=1)


class Paths(_Shape):
    intents: str = "intents"
    responses: str = "responses"
    concepts: str = Field(default="concepts", description="同义词 files (concepts/*.yaml); none when missing")


class ConceptFile(_Shape):
    """concepts/*.yaml: words that mean the same for matching (同义词)."""

    concepts: dict[str, list[str]] = Field(
        description="name → words: each word, in buyer messages and in the shop's 问法 and keywords alike, "
        "is read as the name before matching"
    )


# What chat platforms insert for a message that is not text → its kind.
PlaceholderKind = Literal["image", "video", "voice", "sticker", "link", "order", "file"]
PLACEHOLDERS: dict[str, PlaceholderKind] = {
    "[图片]": "image", "[照片]": "image", "[image]": "image", "[视频]": "video", "[video]": "video",
    "[语音]": "voice", "[voice]": "voice", "[表情]": "sticker", "[动画表情]": "sticker", "[sticker]": "sticker",
    "[商品链接]": "link", "[链接]": "link", "[宝贝链接]": "link", "[商品]": "link", "[订单]": "order",
    "[订单链接]": "order", "[文件]": "file",
}  # fmt: skip


class Language(_Shape):
    slang: dict[str, str] = Field(
        default_factory=dict, description="buyer word → standard word, added to the built-in map"
    )
    words: list[str] = Field(default_factory=list, description="extra dictionary words for segmentation")
    sound_alike: bool = Field(
        default=False,
        description="read a word typed by sound (发飘 for 发票) as the shop's keyword, for messages with no "
        "other evidence; off by default: on the shipped shop it added wrong answers and resolved no more",
    )
    placeholders: dict[str, PlaceholderKind] = Field(
        default_factory=lambda: dict(PLACEHOLDERS),
        description="what the chat platform inserts for a non-text message → its kind",
    )


class FollowUp(_Shape):
    """How a message that leans on the last answer (那X呢, 多久, 谁出) is weighed."""

    ellipsis: float = Field(default=0.9, ge=0, le=1, description="那…呢 / 还有…吗 / …呢")
    question: float = Field(default=0.85, ge=0, le=1, description="a bare question word: 多久, 谁出, 怎么弄")
    value: float = Field(default=0.85, ge=0, le=1, description="a value the last topic takes: XL, 黑色, 新疆")
    switch_at: float = Field(
        default=0.85, ge=0, le=1, description="a keyword of another topic this strong switches to it"
    )
    questions: list[str] = Field(default_factory=list, description="extra follow-up question words")


class HandoffRules(_Shape):
    anger_words: list[str] = Field(default_factory=list, description="extra words that mean an angry buyer")
    calm_phrases: list[str] = Field(default_factory=list, description="phrases that look angry but are not")


class Replies(_Shape):
    clarify: str = "亲，您是想问「{first}」还是「{second}」呢？回复 1 或 2 就可以哦~"
    confirm: str = "亲，您是想问「{first}」吗？是的话回复 1 哦~"
    handoff: str = "亲，这个问题小二马上请人工客服来为您处理，请稍等哦~"
    low_confidence: str = "亲，这个问题小二没太看明白，已经为您转接人工客服，请稍等~"
    angry: str = "非常抱歉给您带来不好的体验，您的心情我们完全理解，这件事我们一定负责到底。已为您优先转接人工客服，马上为您处理！"
    after_hours: str = (
        "现在是人工客服下班时间，客服{next_open}上线。请先留言说明您的问题，客服上线后第一时间回复您~"
    )
    message_left: str = "收到您的留言啦~ 客服{next_open}上线后第一时间处理，请耐心等待哦。"
    size_recommend: str = "亲，按您身高{height}cm、体重{weight_jin}斤，推荐{size}码~"
    size_looser: str = "喜欢宽松一点可以选{looser}码"
    size_tighter: str = "想穿得修身一点可以选{tighter}码"
    ask_height: str = "亲，再告诉小二您的身高（例如 165cm 或 1米65），马上帮您推荐尺码~"
    ask_weight: str = "亲，再告诉小二您的体重（例如 110斤 或 55kg），马上帮您推荐尺码~"
    ask_order: str = "需要小二帮您查具体订单的话，请把订单号发过来哦~"
    order_lookup: str = "好的亲，订单 {order_number} 已记下，马上请人工客服帮您查询，请稍等~"
    not_helpful: str = "抱歉没能帮到您~ 能再具体说说是哪里不行吗？小二换个方式帮您看看。"
    holding: str = "亲，人工客服正在为您处理，请稍候~ 您可以继续留言，客服会一并查看。"
    empty: str = "亲，您好像没有输入内容哦~ 有什么可以帮您的吗？"
    clarify_options: str = "亲，小二猜您想问：\n{options}\n回复数字就可以哦~"
    photo_received: str = "收到您的图片啦~ 小二已经转给人工客服核实，马上为您处理，请稍等哦。"
    ask_about_image: str = (
        "亲，小二暂时看不了图片和视频哦~ 请用文字说一下您想问的问题；需要客服看图的话，回复「人工」就可以~"
    )
    voice: str = "亲，小二暂时听不了语音哦~ 请打字告诉小二您想问的问题~"
    emoji_only: str = "亲~ 有什么问题可以直接问小二哦，发货、物流、尺码、退换都可以问~"
    ask_about_link: str = (
        "亲，收到您发的宝贝链接啦~ 请问您想了解它的什么呢？尺码、库存、发货还是优惠，直接问小二就好~"
    )
    ask_about_order: str = "亲，收到您发的订单啦~ 请问这个订单有什么需要小二帮忙的吗？"


class SizeRow(_Shape):
    size: str = Field(min_length=1, description="the size name buyers pick, e.g. M")
    height: str = Field(pattern=r"^\d{2,3}-\d{2,3}$", description="身高范围 cm, e.g. 158-168")
    weight: str = Field(pattern=r"^\d{2,3}-\d{2,3}$", description="体重范围 kg, e.g. 48-58")


class Sizing(_Shape):
    """Size charts: which size fits a buyer's height and weight, per product category."""

    default_chart: str = Field(default="", description="the chart used when the caller names no category")
    charts: dict[str, list[SizeRow]] = Field(
        default_factory=dict, description="chart name → rows, smallest first"
    )
    categories: dict[str, str] = Field(default_factory=dict, description="product.category → chart name")
    recommend_topics: list[str] = Field(
        default_factory=lambda: ["sizing.which"],
        description="topics answered by a size recommendation (and the general sizing answer); other sizing "
        "topics keep their answer and add the recommendation when the buyer gave height and weight",
    )


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Service(_Shape):
    """When people answer, and what the bot says on a buyer's first message."""

    utc_offset: float = Field(
        default=8, ge=-12, le=14, description="hours from UTC of the shop's clock (China: 8)"
    )
    open: str = Field(
        default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="人工客服上线时间 HH:MM"
    )
    close: str = Field(
        default="23:00", pattern=r"^([01]\d|2[0-4]):[0-5]\d$", description="人工客服下线时间 HH:MM"
    )
    days: list[Day] = Field(default_factory=lambda: list(DAYS), description="days people answer")
    welcome: str = Field(
        default="", description="said before the first reply of a conversation; empty: nothing"
    )
    canned: list[str] = Field(
        default_factory=list,
        description="快捷短语: the agents' ready replies in the console, {shop.xxx} filled in",
    )


class Privacy(_Shape):
    mask_transcripts: bool = Field(
        default=False,
        description="store buyers' messages and replies with phone numbers, addresses, names, ID, order and"
        " tracking numbers masked (the bot still reads them whole; a ticket keeps its order number)",
    )
    retention_days: float | None = Field(
        default=None, gt=0, description="erase conversations older than this, daily (bot db purge does it by hand)"
    )


class Storage(_Shape):
    url: str = Field(
        default="sqlite:///data/dianxiaoer.db",
        min_length=1,
        description="where sessions, transcripts and tickets are kept: sqlite:///relative/path.db, "
        "sqlite:////absolute/path.db, postgresql://user:password@host/db or memory:// (lost at exit);"
        " BOT_STORAGE_URL overrides it",
    )
    sessions_url: str | None = Field(
        default=None,
        description="redis://host:6379/0: session state and conversation locks shared by replicas, in front"
        " of url; BOT_SESSIONS_URL overrides it",
    )


class ShopRef(_Shape):
    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="the shop's id in requests (shop_id): lowercase letters, digits, - and _; not 'default'",
    )
    folder: str = Field(
        min_length=1, description="the shop's folder (its config.yaml), relative to this file"
    )


def _unique_shops(value: list[ShopRef]) -> list[ShopRef]:
    ids = [s.id for s in value]
    if "default" in ids:
        raise ShapeError("default 是这个文件自己的店铺，列出的店铺请换一个 id",
                         "'default' is this file's own shop: give the listed shop another id")  # fmt: skip
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ShapeError(f"店铺 id 不能重复：{'、'.join(twice)} 出现了两次",
                         f"shop ids must differ: {', '.join(twice)} listed twice")  # fmt: skip
    return value


class RateLimit(_Shape):
    per_second: float = Field(gt=0, description="requests each client may make per second, on average")
    burst: int = Field(default=20, ge=1, description="requests a client may make at once after a pause")
    exempt: list[str] = Field(
        default_factory=list, description="client addresses never limited (a monitor, a trusted backend)"
    )


class Server(_Shape):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    session_idle_minutes: float = Field(
        default=30, gt=0, description="a session starts afresh after this idle time"
    )
    max_message_chars: int = Field(default=500, ge=1, le=100_000)
    cors_origins: list[str] = Field(default_factory=list, description="web origins allowed to call the API")
    max_in_flight: int = Field(
        default=128, ge=1, description="requests handled at once per worker; more get 503 with Retry-After"
    )
    max_body_bytes: int = Field(default=65536, ge=1024, description="largest request body accepted")
    header_timeout_seconds: float = Field(
        default=10, gt=0, description="a request's line and headers must arrive within this (then 408, closed)"
    )
    body_timeout_seconds: float = Field(
        default=20, gt=0, description="a request's body must arrive within this, before it takes a slot (408)"
    )
    request_timeout_seconds: float = Field(
        default=30, gt=0, description="answering a request may take this long (then 503 with Retry-After)"
    )
    keep_alive_seconds: float = Field(default=5, gt=0, description="an idle keep-alive connection is closed after this")
    max_header_bytes: int = Field(default=16384, ge=1024, description="largest request line and headers (431)")
    max_connections: int = Field(
        default=2048, ge=16, description="open connections per worker; kept below the open-file limit"
    )
    worker_hung_seconds: float = Field(
        default=10, gt=0, description="bot serve --workers N replaces a worker whose loop is silent this long"
    )
    allowed_hosts: list[str] | None = Field(
        default=None,
        description="Host names the server answers (* any, *.shop.cn a domain); unset: bot serve on a loopback"
        " host answers only localhost, 127.0.0.1 and ::1 (no DNS rebinding), on another host any name",
    )
    watch: bool = Field(
        default=False, description="reload when a file of the shop changes (bot serve --watch)"
    )
    rate_limit: RateLimit | None = Field(
        default=None,
        description="per client (its shop key when the shop has keys, else its address): more get 429 with"
        " Retry-After; counted in Redis across replicas when storage.sessions_url is set; unset: no limit",
    )


class Webhook(_Shape):
    url: str = Field(pattern=r"^https?://\S+$", description="where events are POSTed (http or https)")
    secret_env: str = Field(
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="environment variable holding the shared secret the body is signed with (HMAC-SHA256)",
    )
    events: list[str] = Field(
        default_factory=lambda: [
            "ticket.opened",
            "ticket.claimed",
            "ticket.closed",
            "buyer.message",
            "agent.message",
        ],
        description="which events: ticket.opened, ticket.claimed, ticket.closed, buyer.message, agent.message",
    )

    @field_validator("events")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        known = {"ticket.opened", "ticket.claimed", "ticket.closed", "buyer.message", "agent.message"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ShapeError(f"没有这些事件：{'、'.join(unknown)}；可以用的有 {'、'.join(sorted(known))}",
                             f"unknown events {unknown}; known: {sorted(known)}")  # fmt: skip
        return value


class ConfigFile(_Shape):
    """config.yaml: shop facts, thresholds, paths, language and fixed replies."""

    shop: dict[str, str | int | float | list[str]] = Field(
        default_factory=dict, description="shop facts, used in answers as {shop.key}"
    )
    thresholds: Thresholds = Thresholds()
    paths: Paths = Paths()
    language: Language = Language()
    handoff: HandoffRules = HandoffRules()
    replies: Replies = Replies()
    service: Service = Service()
    sizing: Sizing = Sizing()
    follow_up: FollowUp = FollowUp()
    server: Server = Server()
    storage: Storage = Storage()
    privacy: Privacy = Privacy()
    webhooks: list[Webhook] = Field(
        default_factory=list,
        description="URLs told of every handoff event (signed, retried, never blocking a turn)",
    )
    shops: list[ShopRef] = Field(
        default_factory=list,
        description="more shops this server answers for (bot serve); this file's own shop is 'default'",
    )

    @field_validator("shops")
    @classmethod
    def _shops_differ(cls, value: list[ShopRef]) -> list[ShopRef]:
        return _unique_shops(value)


def _context_part(part: str) -> type[_Shape]:
    fields: dict[str, Any] = {
        f.name: (str | None, Field(default=None, max_length=f.max_length, description=f.description or None))
        for f in context.FIELDS
        if f.part == part
    }
    return create_model(f"{part.title()}Shape", __base__=_Shape, **fields)


OrderShape = _context_part("order")
ProductShape = _context_part("product")


class ContextShape(_Shape):
    """The caller's context (`bot.context`): the same shape in dialogue files and HTTP bodies."""

    order: OrderShape | None = None  # type: ignore[valid-type]
    product: ProductShape | None = None  # type: ignore[valid-type]

    def flat(self) -> dict[str, str]:
        return context.flatten(
            {part: getattr(self, part) and getattr(self, part).model_dump() for part in context.PARTS}
        )


class Overrides(_Shape):
    shop: dict[str, str | int | float | list[str]] = Field(
        default_factory=dict,
        description="shop facts to use instead of config.yaml's, e.g. ship_within_hours: 24",
    )
    now: str | None = Field(
        default=None, description="the clock at the first turn, ISO 8601 (2026-11-11T10:00:00+08:00)"
    )
    context: ContextShape | None = Field(
        default=None, description="what the caller's chat system knows (the order)"
    )


class TurnShape(_Shape):
    buyer: str = Field(description="what the buyer types")
    after_minutes: float = Field(default=0, ge=0, description="minutes of silence before this turn")
    intent: str | None = Field(default=None, description="expected intent id (null: no intent)")
    topic: str | None = Field(
        default=None, description="expected topic as intent.topic, e.g. returns.shipping_fee (null: none)"
    )
    action: Literal["answer", "clarify", "handoff", "human"] | None = None
    reply_contains: str | list[str] | None = Field(default=None, description="text(s) the reply must contain")
    reply_matches: str | None = Field(
        default=None, description="a regular expression searched in the reply (. matches line breaks too)"
    )
    slots: dict[str, str] | None = Field(default=None, description="session slots expected after the turn")
    asked: Literal["choice", "confirm", "height", "weight", "size", "order", "photo"] | None = Field(
        default=None, description="what the reply asks the buyer for (null: nothing)"
    )
    options: list[str] | None = Field(
        default=None, description="intents offered by a clarifying question, in order"
    )
    follow_up: bool | None = Field(
        default=None, description="whether the message was read against the last answer"
    )
    handoff_reason: str | None = Field(default=None, description="asked_for_person, angry, low_confidence, …")
    priority: Literal["high", "normal"] | None = Field(
        default=None, description="priority of the ticket opened"
    )
    confidence_at_least: float | None = Field(default=None, ge=0, le=1)


class DialogueShape(_Shape):
    name: str = Field(min_length=1)
    description: str | None = None
    overrides: Overrides = Overrides()
    turns: list[TurnShape] = Field(min_length=1)


class DialogueFile(_Shape):
    """tests/dialogues/*.yaml: regression dialogues run by `bot test` and by pytest."""

    dialogues: list[DialogueShape] = Field(min_length=1)


M = TypeVar("M", bound=BaseModel)

_EXPECTED = {
    "string_type": ("文字", "text", "加上引号，写成文字。", "write it as text in quotes."),
    "list_type": (
        "列表（每行以 - 开头）",
        "a list",
        "每一项单独一行，以 - 开头。",
        "write one item per line starting with -.",
    ),
    "dict_type": ("键值对（键: 值）", "a mapping", "写成 键: 值 的形式。", "write key: value lines."),
    "bool_type": ("true 或 false", "true or false", "写 true 或 false。", "write true or false."),
    "float_type": ("数字", "a number", "写一个数字，例如 0.8。", "write a number such as 0.8."),
    "int_type": ("整数", "a whole number", "写一个整数，例如 3。", "write a whole number such as 3."),
    "model_type": ("键值对（键: 值）", "a mapping", "写成 键: 值 的形式。", "write key: value lines."),
}


def validate(model: type[M], document: Any, file: str) -> tuple[M | None, list[Problem]]:
    """Check `document` against `model`; return the parsed file or the problems, with positions."""
    try:
        return model.model_validate(document if document is not None else {}), []
    except ValidationError as exc:
        problems, seen = [], set()
        for error in exc.errors():
            error["loc"] = tuple(part for part in error["loc"] if not _is_branch(part))
            found = _to_problem(model, document, error, file)
            if (found.origin, found.code) not in seen:  # a union reports once per branch: keep one
                seen.add((found.origin, found.code))
                problems.append(found)
        return None, problems


def _is_branch(part: object) -> bool:
    """pydantic names the branch of a union in `loc` (`str`, `list[str]`): not a place in the file."""
    return isinstance(part, str) and (part in ("str", "int", "float", "bool") or "[" in part)


def _locate(document: Any, loc: tuple[Any, ...], file: str) -> tuple[Origin, Any]:
    node = document
    where = getattr(document, "origin", Origin(file=file, line=1, column=1))
    for part in loc:
        if isinstance(node, YMap | YList):
            try:
                value = node[part]
            except (KeyError, IndexError, TypeError):
                break
            where = origin_of(node, part)
            node = value
        else:
            break
    return where, node


def _to_problem(model: type[BaseModel], document: Any, error: Any, file: str) -> Problem:
    loc = tuple(error["loc"])
    kind = error["type"]
    key = ".".join(str(p) for p in loc) or "(文件)"
    if kind == "extra_forbidden":
        parent_loc, bad = loc[:-1], str(loc[-1])
        parent, _ = _locate(document, parent_loc, file)
        container = _locate(document, parent_loc, file)[1]
        where = container.key_origins.get(bad, parent) if isinstance(container, YMap) else parent
        allowed = _allowed_keys(model, parent_loc)
        close = difflib.get_close_matches(bad, allowed, n=1, cutoff=0.6)
        hint = f"是不是想写 {close[0]}？" if close else ""
        hint_en = f" Did you mean {close[0]}?" if close else ""
        return problem("unknown-key", where, key=bad, hint=hint, hint_en=hint_en, allowed=", ".join(allowed))
    where, value = _locate(document, loc, file)
    if kind == "missing":
        return problem("missing-key", where, key=loc[-1])
    if kind == "too_short":
        return problem("empty-list", where, key=key)
    if (
        kind in _EXPECTED
        and len(loc) >= 2
        and isinstance(loc[-1], int)
        and isinstance(value, bool | int | float)
    ):
        what, what_en = ("问法", "Example") if loc[0] == "examples" else ("条目", "Item")
        return problem(
            "example-not-text",
            where,
            index=loc[-1] + 1,
            what=what,
            what_en=what_en,
            value=_yaml_source(value),
            read_as=_read_as(value),
            read_as_en=_read_as_en(value),
        )
    if kind in _EXPECTED:
        zh, en, fix_zh, fix_en = _EXPECTED[kind]
        return problem(
            "wrong-type",
            where,
            key=key,
            expected_zh=zh,
            expected_en=en,
            value=_show(value),
            fix_zh=fix_zh,
            fix_en=fix_en,
        )
    message = str(error.get("msg", kind))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ShapeError):  # one of ours: each language in its own line
        zh, _, en = str(cause).partition(_BETWEEN)
    else:
        zh, en = _limit_zh(kind, error.get("ctx") or {}), message
    return problem(
        "bad-value",
        where,
        key=key,
        detail_zh=zh,
        detail_en=en,
        fix_zh="按说明改正这个值。",
        fix_en="correct the value as described.",
    )


# pydantic's own limits, said in Chinese ({gt}, {le} … are the field's bounds).
_LIMITS_ZH = {
    "greater_than": "要大于 {gt}",
    "greater_than_equal": "要大于或等于 {ge}",
    "less_than": "要小于 {lt}",
    "less_than_equal": "要小于或等于 {le}",
    "string_too_short": "太短了（至少 {min_length} 个字）",
    "string_too_long": "太长了（最多 {max_length} 个字）",
    "too_long": "太多了（最多 {max_length} 项）",
    "string_pattern_mismatch": "格式不对（要符合 {pattern}）",
    "literal_error": "只能是这些之一：{expected}",
    "enum": "只能是这些之一：{expected}",
    "multiple_of": "要是 {multiple_of} 的倍数",
}


def _limit_zh(kind: str, ctx: dict[str, Any]) -> str:
    template = _LIMITS_ZH.get(kind)
    if template is None:
        return "这个值不符合要求（见下面的英文说明）"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template.split("{", 1)[0].rstrip("（ ：") or "这个值不符合要求"


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at `loc`, walking down through nested models and lists of models."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list: its model is already `current`
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside `Model`, `list[Model]` or `Model | None`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _read_as(value: object) -> str:
    if isinstance(value, bool):
        return "“是”(true)" if value else "“否”(false)"
    return f"数字 {value}"


def _read_as_en(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else f"the number {value}"


def _yaml_source(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _show(value: object) -> str:
    if isinstance(value, YMap):
        return "一组键值"
    if isinstance(value, YList):
        return "一个列表"
    return repr(value)
