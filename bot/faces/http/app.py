"""`create_app(config_path)` → the ASGI app: chat, handoff queue, transcripts, health, metrics, reload.

A chat turn is worked out on the event loop and stored in the group commit that follows that turn of
the loop; `POST /v1/chat` is answered by `HotRoute` without FastAPI's per-request machinery. The other
handlers are plain `def`s on FastAPI's thread pool. Every error has one JSON shape:
{"error": {"code", "message_zh", "message_en"}}.
"""

from __future__ import annotations

import contextlib
import gc
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from bot.engine import Engine
from bot.faces.http.asgi import Bounded, HotRoute, Metrics, TickBufferedHandler
from bot.faces.http.bodies import (
    CandidateOut,
    ChatRequest,
    ChatResponse,
    ClaimRequest,
    CloseRequest,
    HandoffOut,
    OptionOut,
    PartOut,
    TicketOut,
    TurnOut,
)
from bot.model import Ticket, TicketStatus, TurnRecord
from bot.problems import Problem, errors
from bot.service import Conversations, store_of
from bot.shop import load_shop
from bot.storage import Store
from bot.watch import Watcher

log = logging.getLogger("bot.turns")


class ApiError(Exception):
    def __init__(self, status: int, code: str, zh: str, en: str, details: Any = None) -> None:
        self.status, self.code, self.zh, self.en, self.details = status, code, zh, en, details


def _error(status: int, code: str, zh: str, en: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message_zh": zh, "message_en": en}
    if details is not None:
        body["details"] = details
    return JSONResponse(status_code=status, content={"error": body})


def _settle() -> None:
    """Take the loaded shop (jieba's dictionary, the index, the templates) out of the cyclic garbage
    collector's view: otherwise every full collection walks all of it, a 30-40 ms pause of every
    request in flight, several times a minute under load. Refcounting still frees an old shop."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _failure(exc: Exception) -> JSONResponse:
    """The one error shape, for an exception raised while answering."""
    if isinstance(exc, ApiError):
        return _error(exc.status, exc.code, exc.zh, exc.en, exc.details)
    if isinstance(exc, ValidationError):  # a body pydantic parsed itself (`HotRoute`)
        return _invalid([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)])
    logging.getLogger("bot").exception("unexpected error")
    return _error(500, "internal", "服务内部错误，已记录。", "Internal error; it was logged.")


def _invalid(errors: Sequence[Any]) -> JSONResponse:
    problems = [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors]
    if any(p["type"] == "json_invalid" for p in problems):
        return _error(
            400, "invalid-json", "请求体不是合法的 JSON。", "The request body is not valid JSON.", problems
        )
    return _error(422, "invalid-request", "请求的字段不对，见 details。", "Invalid request fields; see details.",
                  problems)  # fmt: skip


# ---- the app ------------------------------------------------------------------------------------


def create_app(
    config_path: str | Path,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
    watch: bool | None = None,
) -> ASGIApp:
    """The HTTP face of the shop at `config_path`; raises `LoadError` if the shop is broken.
    With `watch` (default: server.watch in config.yaml), a change of the shop's files is loaded
    within a second; a broken change is logged with its problems and the old set keeps serving."""
    path = Path(config_path)
    state: dict[str, Engine] = {"bot": Engine.from_config(path)}
    settings = state["bot"].shop.settings
    server = settings.server
    store = store if store is not None else store_of(settings)
    conversations = Conversations(lambda: state["bot"], store, server.session_idle_seconds, clock)
    metrics = Metrics()
    cap = server.max_message_chars
    token_env = server.admin_token_env

    def load() -> tuple[bool, list[Problem]]:
        """Load the shop again and swap it in, or leave the old one serving."""
        shop, problems = load_shop(path)
        if shop is None or errors(problems):
            return False, problems
        state["bot"] = Engine(shop)
        _settle()
        return True, problems

    def reload_on_change() -> None:
        ok, problems = load()
        shop_log = logging.getLogger("bot")
        if ok:
            shop_log.info(
                json.dumps({"event": "reloaded", "fingerprint": state["bot"].shop.intents.fingerprint})
            )
        else:
            rendered = "\n".join(p.render() for p in problems)
            shop_log.error(
                "店铺文件有错误，继续使用旧的配置 (shop files have errors; the old set keeps serving):\n%s",
                rendered,
            )

    watcher = Watcher(path, lambda: state["bot"].shop.settings, reload_on_change)
    watching = server.watch if watch is None else watch

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _settle()
        if watching:
            watcher.start()
        yield
        if watching:
            watcher.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="店小二 dianxiaoer",
        summary="Auto-responder for a Chinese online shop: chat, handoff queue, transcripts.",
        version="0.1.0",
    )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _failure(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _invalid(exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # starlette could not parse the body (e.g. JSON nested too deep)
            return _error(400, "invalid-json", "请求体无法解析（不是合法的 JSON，或嵌套太深）。",
                          f"The request body could not be parsed: {exc.detail}")  # fmt: skip
        zh = {404: "没有这个地址。", 405: "这个地址不支持这种请求方法。"}.get(
            exc.status_code, str(exc.detail)
        )
        return _error(exc.status_code, "http-error", zh, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - last resort
        return _failure(exc)

    def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        expected = os.environ.get(token_env)
        if not expected:
            raise ApiError(
                404,
                "admin-disabled",
                f"管理接口未开启：请设置环境变量 {token_env}。",
                f"Admin routes are disabled: set the environment variable {token_env}.",
            )
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(401, "unauthorized", "令牌不对。", "Missing or wrong bearer token.")

    async def answer(body: ChatRequest) -> str:
        """One buyer message → the ChatResponse JSON; the turn is stored before this returns."""
        if not body.message.strip():
            raise ApiError(422, "empty-message", "消息是空的。", "The message is empty.")
        if len(body.message) > cap:
            raise ApiError(
                413,
                "message-too-long",
                f"消息太长了（上限 {cap} 个字）。",
                f"The message is longer than {cap} characters.",
            )
        if "\x00" in body.message or any("\ud800" <= ch <= "\udfff" for ch in body.message):
            raise ApiError(422, "bad-characters", "消息里有无法识别的字符（NUL 或残缺的 UTF-16）。",
                           "The message contains NUL or lone surrogate characters.")  # fmt: skip
        started = time.perf_counter()
        context = body.context.flat() if body.context else {}
        result = await conversations.turn_async(
            body.session_id, body.message, body.buyer_id, body.shop_id, context
        )
        reply = result.reply
        metrics.replies.labels(reply.action.value, reply.intent or "-").inc()
        if result.ticket is not None:
            metrics.handoffs.labels(result.ticket.reason.value).inc()
        log.info(
            json.dumps(
                {
                    "session": body.session_id,
                    "turn": reply.turn,
                    "intent": reply.intent,
                    "action": reply.action.value,
                    "confidence": reply.confidence,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                    "ticket": result.ticket.id if result.ticket else None,
                },
                ensure_ascii=False,
            )
        )
        out = ChatResponse(
            session_id=body.session_id,
            turn_id=result.turn_id,
            reply=reply.text,
            action=reply.action.value,
            intent=reply.intent,
            topic=reply.topic,
            confidence=reply.confidence,
            candidates=[
                CandidateOut(intent=c.intent_id, score=c.score, topic=c.topic) for c in reply.candidates
            ],
            parts=[
                PartOut(
                    text=p.text,
                    intent=p.intent,
                    topic=p.topic,
                    confidence=p.confidence,
                    action=p.action.value,
                )
                for p in reply.parts
            ],
            options=[OptionOut(intent=o.intent, topic=o.topic, title=o.title) for o in reply.options],
            follow_up=reply.follow_up is not None,
            kind=reply.kind,
            handoff=HandoffOut(
                ticket_id=result.ticket.id or 0,
                reason=result.ticket.reason.value,
                priority=result.ticket.priority,
            )
            if result.ticket
            else None,
        )
        return out.model_dump_json()

    @app.post("/v1/chat", response_model=ChatResponse, tags=["chat"])
    async def chat(body: ChatRequest) -> Response:
        """Answer one buyer message; the turn is stored before this returns."""
        # `HotRoute` (below) answers this route without FastAPI's machinery; here it is documented.
        return Response(await answer(body), media_type="application/json")

    @app.get("/v1/sessions/{session_id}", tags=["chat"])
    def session(session_id: str) -> dict[str, Any]:
        """The transcript of a session, oldest turn first."""
        turns = store.transcript(session_id)
        if not turns:
            raise ApiError(404, "unknown-session", "没有这个会话。", f"No session {session_id}.")
        held = store.open_ticket(session_id)
        return {
            "session_id": session_id,
            "held_by_person": held is not None,
            "turns": [_turn(t).model_dump() for t in turns],
        }

    @app.get("/v1/handoffs", response_model=list[TicketOut], tags=["handoffs"])
    def handoffs(status: Annotated[TicketStatus | None, Query()] = None) -> list[TicketOut]:
        """The handoff queue: high priority first, then oldest first, each with its transcript."""
        return [_ticket(t, store.transcript(t.session_id)) for t in store.tickets(status)]

    @app.post("/v1/handoffs/{ticket_id}/claim", response_model=TicketOut, tags=["handoffs"])
    def claim(ticket_id: int, body: ClaimRequest) -> TicketOut:
        try:
            ticket = store.claim(ticket_id, body.agent, clock())
        except KeyError:
            raise ApiError(404, "unknown-ticket", "没有这个工单。", f"No ticket {ticket_id}.") from None
        except ValueError:
            raise ApiError(409, "ticket-closed", "工单已关闭。", f"Ticket {ticket_id} is closed.") from None
        return _ticket(ticket, store.transcript(ticket.session_id))

    @app.post("/v1/handoffs/{ticket_id}/close", response_model=TicketOut, tags=["handoffs"])
    def close(ticket_id: int, body: CloseRequest | None = None) -> TicketOut:
        """Close a ticket: the bot answers the buyer again from the next message on."""
        try:
            ticket = store.close(ticket_id, clock(), body.note if body else None)
        except KeyError:
            raise ApiError(404, "unknown-ticket", "没有这个工单。", f"No ticket {ticket_id}.") from None
        return _ticket(ticket, store.transcript(ticket.session_id))

    @app.get("/v1/intents", tags=["shop"])
    def intents() -> list[dict[str, Any]]:
        bot = state["bot"]
        return [
            {
                "id": i.id,
                "title": i.title,
                "examples": len(i.examples),
                "handoff": i.handoff,
                "topics": [{"id": t.id, "title": t.title} for t in i.topics],
            }
            for i in bot.shop.intents.intents
        ]

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, Any]:
        """Alive; `worker` is the process that answered (`bot serve --workers N`)."""
        return {"status": "ok", "worker": os.getpid()}

    @app.get("/readyz", tags=["operations"])
    def readyz() -> JSONResponse:
        bot = state["bot"]
        try:
            store.ping()
        except Exception as exc:
            return _error(503, "storage-unavailable", "存储不可写。", f"Storage is not writable: {exc}")
        return JSONResponse(
            {
                "status": "ready",
                "intents": len(bot.shop.intents.intents),
                "fingerprint": bot.shop.intents.fingerprint,
            }
        )

    @app.get("/metrics", tags=["operations"])
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/admin/reload", tags=["operations"], dependencies=[Depends(admin)])
    def reload() -> JSONResponse:
        """Load intents, responses and config again; swap them in only if there is no error."""
        ok, problems = load()
        if not ok:
            details = [
                {
                    "code": p.code,
                    "where": str(p.origin),
                    "message_zh": p.message_zh,
                    "fix_zh": p.fix_zh,
                    "message_en": p.message_en,
                    "fix_en": p.fix_en,
                }
                for p in problems
            ]
            return _error(
                422,
                "shop-invalid",
                "店铺配置有错误，仍在使用旧的配置。",
                "The shop files have errors; the previous set keeps serving.",
                details,
            )
        return JSONResponse({"status": "reloaded", "fingerprint": state["bot"].shop.intents.fingerprint})

    # Around the app, outermost first: the in-flight bound and metrics, CORS, then the hot route.
    served: ASGIApp = HotRoute(app, "POST", "/v1/chat", ChatRequest, answer, _failure)
    if server.cors_origins:
        served = CORSMiddleware(served, allow_origins=list(server.cors_origins), allow_methods=["GET", "POST"],
                                allow_headers=["*"])  # fmt: skip
    return Bounded(served, limit=server.max_in_flight, max_body=server.max_body_bytes, metrics=metrics)


def _turn(t: TurnRecord) -> TurnOut:
    return TurnOut(
        turn=t.turn,
        at=t.at,
        message=t.message,
        reply=t.reply,
        action=t.action.value,
        intent=t.intent,
        topic=t.topic,
        confidence=t.confidence,
        reason=t.reason.value if t.reason else None,
    )


def _ticket(t: Ticket, transcript: list[TurnRecord]) -> TicketOut:
    return TicketOut(
        id=t.id or 0,
        session_id=t.session_id,
        buyer_id=t.buyer_id,
        reason=t.reason.value,
        priority=t.priority,
        status=t.status.value,
        created_at=t.created_at,
        claimed_by=t.claimed_by,
        closed_at=t.closed_at,
        note=t.note,
        left_messages=list(t.left_messages),
        questions=list(t.questions),
        order_number=t.order_number,
        transcript=[_turn(x) for x in transcript],
    )


def app_from_environment() -> ASGIApp:
    """Factory for `uvicorn --factory` and `bot serve --workers N`: config path from $BOT_CONFIG."""
    handler = TickBufferedHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # The logging HOWTO's "Optimization": a turn's line needs no caller, thread or process lookup.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    watch = os.environ.get("BOT_WATCH") == "1" or None
    return create_app(os.environ.get("BOT_CONFIG", "config.yaml"), watch=watch)
