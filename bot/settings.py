"""What config.yaml says, as frozen values every layer may read (built by `bot.loading.config`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    """How `bot serve` listens and keeps conversations."""

    host: str
    port: int
    session_idle_seconds: float
    max_message_chars: int
    cors_origins: tuple[str, ...]
    watch: bool
    max_in_flight: int
    max_body_bytes: int
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 20.0
    request_timeout_seconds: float = 30.0
    keep_alive_seconds: float = 5.0
    max_header_bytes: int = 16384
    max_connections: int = 2048
    worker_hung_seconds: float = 10.0
    allowed_hosts: tuple[str, ...] | None = None  # None: any (bot serve on loopback: loopback names)
    rate_limit: RateLimitSettings | None = None  # None: no per-client limit


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitSettings:
    per_second: float
    burst: int
    exempt: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSettings:
    """When people answer: minutes after midnight and weekdays (0 = Monday), on the shop's clock."""

    utc_offset_hours: float
    open_minute: int
    close_minute: int
    days: frozenset[int]
    welcome: str
    canned: tuple[str, ...] = ()  # 快捷短语: agents' ready replies


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSettings:
    url: str
    secret_env: str  # the environment variable that holds the shared secret
    events: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class SizeBand:
    size: str
    height: tuple[int, int]
    weight: tuple[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowUpWeights:
    """config.yaml `follow_up:`: how much each form of a follow-up says the buyer is still on the
    last answer's topic, and how strong a keyword of another topic must be to switch to it."""

    ellipsis: float
    question: float
    value: float
    switch_at: float
    questions: tuple[str, ...]

    def of(self, form: str) -> float:
        return {"ellipsis": self.ellipsis, "question": self.question, "value": self.value}.get(form, 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything config.yaml says, resolved against the folder it lives in."""

    root: Path
    shop: Mapping[str, object]
    answer_at: float
    handoff_below: float
    misses_before_handoff: int
    intents_dir: Path
    responses_dir: Path
    concepts_dir: Path
    slang: Mapping[str, str]
    words: tuple[str, ...]
    anger_words: tuple[str, ...]
    calm_phrases: tuple[str, ...]
    replies: Mapping[str, str]
    server: ServerSettings
    storage_url: str  # storage.url; relative SQLite paths are relative to `root`
    sessions_url: str | None  # storage.sessions_url: Redis in front of the storage
    mask_transcripts: bool = False  # privacy.mask_transcripts: personal data masked before it is stored
    retention_days: float | None = None  # privacy.retention_days: older conversations erased daily
    shops: Mapping[str, Path]  # `shops:`: more shops a server hosts, id → its config.yaml
    service: ServiceSettings
    size_charts: Mapping[str, tuple[SizeBand, ...]]
    default_chart: str
    chart_for_category: Mapping[str, str]
    recommend_topics: frozenset[str]
    follow_up: FollowUpWeights
    placeholders: Mapping[str, str]  # what a chat platform inserts ([图片]) → the kind of message
    sound_alike: bool  # words typed by sound read as the shop's keywords (bot/stages/sounds.py)
    webhooks: tuple[WebhookSettings, ...] = ()
