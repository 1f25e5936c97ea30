"""config.yaml → validated, frozen `Settings`."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from bot.loading import yamlfile
from bot.loading.schema import DAYS, ConfigFile, RateLimit, validate
from bot.model import Origin
from bot.problems import LoadError, Problem, errors, problem
from bot.settings import (
    FollowUpWeights,
    RateLimitSettings,
    ServerSettings,
    ServiceSettings,
    Settings,
    SizeBand,
    WebhookSettings,
)


def load_settings(path: Path) -> Settings:
    """Read and check config.yaml; raise `LoadError` with every problem found."""
    settings, problems = read_settings(path)
    if settings is None or errors(problems):
        raise LoadError(problems)
    return settings


def read_settings(path: Path) -> tuple[Settings | None, list[Problem]]:
    shown = path.name
    document, problems = yamlfile.read(path, shown)
    if errors(problems):
        return None, problems
    parsed, shape_problems = validate(ConfigFile, document, shown)
    problems += shape_problems
    if parsed is None:
        return None, problems
    t = parsed.thresholds
    if t.handoff_below >= t.answer_at:
        where = Origin(file=shown)
        if isinstance(document, yamlfile.YMap) and "thresholds" in document:
            where = yamlfile.origin_of(document, "thresholds")
        problems.append(problem("thresholds-order", where, low=t.handoff_below, high=t.answer_at))
        return None, problems
    charts = parsed.sizing.charts
    names = [parsed.sizing.default_chart] if parsed.sizing.default_chart else []
    for name in [*names, *parsed.sizing.categories.values()]:
        if name not in charts:
            sizing_at = document.get("sizing") if isinstance(document, yamlfile.YMap) else None
            where = yamlfile.origin_of(sizing_at, "default_chart", Origin(file=shown))
            problems.append(problem("unknown-size-chart", where, name=name, allowed=", ".join(charts) or "-"))
    if errors(problems):
        return None, problems
    root = path.resolve().parent
    return Settings(
        root=root,
        shop=MappingProxyType(dict(parsed.shop)),
        answer_at=t.answer_at,
        handoff_below=t.handoff_below,
        misses_before_handoff=t.misses_before_handoff,
        intents_dir=root / parsed.paths.intents,
        responses_dir=root / parsed.paths.responses,
        concepts_dir=root / parsed.paths.concepts,
        slang=MappingProxyType(dict(parsed.language.slang)),
        words=tuple(parsed.language.words),
        anger_words=tuple(parsed.handoff.anger_words),
        calm_phrases=tuple(parsed.handoff.calm_phrases),
        replies=MappingProxyType(parsed.replies.model_dump()),
        size_charts=MappingProxyType(
            {
                name: tuple(
                    SizeBand(size=r.size, height=_range(r.height), weight=_range(r.weight)) for r in rows
                )
                for name, rows in parsed.sizing.charts.items()
            }
        ),
        default_chart=parsed.sizing.default_chart,
        chart_for_category=MappingProxyType(dict(parsed.sizing.categories)),
        recommend_topics=frozenset(parsed.sizing.recommend_topics),
        follow_up=FollowUpWeights(
            ellipsis=parsed.follow_up.ellipsis,
            question=parsed.follow_up.question,
            value=parsed.follow_up.value,
            switch_at=parsed.follow_up.switch_at,
            questions=tuple(parsed.follow_up.questions),
        ),
        placeholders=MappingProxyType(dict(parsed.language.placeholders)),
        sound_alike=parsed.language.sound_alike,
        service=ServiceSettings(
            utc_offset_hours=parsed.service.utc_offset,
            open_minute=_minutes(parsed.service.open),
            close_minute=_minutes(parsed.service.close),
            days=frozenset(DAYS.index(d) for d in parsed.service.days),
            welcome=parsed.service.welcome,
            canned=tuple(parsed.service.canned),
        ),
        storage_url=parsed.storage.url,
        sessions_url=parsed.storage.sessions_url,
        mask_transcripts=parsed.privacy.mask_transcripts,
        retention_days=parsed.privacy.retention_days,
        webhooks=tuple(
            WebhookSettings(url=w.url, secret_env=w.secret_env, events=frozenset(w.events))
            for w in parsed.webhooks
        ),
        shops=MappingProxyType({s.id: root / s.folder / "config.yaml" for s in parsed.shops}),
        server=ServerSettings(
            host=parsed.server.host,
            port=parsed.server.port,
            session_idle_seconds=parsed.server.session_idle_minutes * 60,
            max_message_chars=parsed.server.max_message_chars,
            cors_origins=tuple(parsed.server.cors_origins),
            watch=parsed.server.watch,
            max_in_flight=parsed.server.max_in_flight,
            max_body_bytes=parsed.server.max_body_bytes,
            header_timeout_seconds=parsed.server.header_timeout_seconds,
            body_timeout_seconds=parsed.server.body_timeout_seconds,
            request_timeout_seconds=parsed.server.request_timeout_seconds,
            keep_alive_seconds=parsed.server.keep_alive_seconds,
            max_header_bytes=parsed.server.max_header_bytes,
            max_connections=parsed.server.max_connections,
            worker_hung_seconds=parsed.server.worker_hung_seconds,
            allowed_hosts=None if parsed.server.allowed_hosts is None else tuple(parsed.server.allowed_hosts),
            rate_limit=_rate_limit(parsed.server.rate_limit),
        ),
    ), problems


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _range(text: str) -> tuple[int, int]:
    low, high = text.split("-")
    return int(low), int(high)


def _rate_limit(shape: RateLimit | None) -> RateLimitSettings | None:
    if shape is None:
        return None
    return RateLimitSettings(per_second=shape.per_second, burst=shape.burst, exempt=tuple(shape.exempt))
