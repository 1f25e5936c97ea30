"""`create_app(config_path)` → the ASGI app: chat, handoff queue, transcripts, health, metrics, reload.

The server answers for the shop of `config_path` (`default`) and every shop its `shops:` table lists;
a request names its shop with `shop_id`. A chat turn is worked out on the event loop and stored in the
group commit that follows that turn of the loop; `POST /v1/chat` is answered by `HotRoute` without
FastAPI's per-request machinery. Every error has one JSON shape (`errors`).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from bot.faces.http import errors
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
from bot.faces.http.errors import ApiError
from bot.model import DEFAULT_SHOP, Ticket, TicketStatus, TurnRecord
from bot.problems import HTTP_STATUS_ZH, Problem
from bot.service import Conversations, storage_of
from bot.shops import Shops, settle
from bot.storage import Storage

log = logging.getLogger("bot.turns")

ShopQuery = Annotated[
    str, Query(alias="shop_id", max_length=128, description="the shop (default: the server's own)")
]


def create_app(
    config_path: str | Path,
    storage: Storage | None = None,
    clock: Callable[[], float] = time.time,
    watch: bool | None = None,
    hot_route: bool = True,
) -> ASGIApp:
    """The HTTP face of the shops at `config_path`; raises `LoadError` if its own shop is broken.
    With `watch` (default: server.watch in config.yaml), a change of a shop's files is loaded
    within a second; a broken change is logged with its problems and the old set keeps serving.
    `hot_route=False` leaves `POST /v1/chat` to FastAPI's route alone (benchmarks/run.py compares)."""
    shops = Shops.from_config(Path(config_path))
    settings = shops.default.shop.settings
    server = settings.server
    storage = storage if storage is not None else storage_of(settings)
    conversations = Conversations(shops, storage, clock)
    metrics = Metrics()
    cap = server.max_message_chars
    token_env = server.admin_token_env
    watchers = shops.watchers() if (server.watch if watch is None else watch) else []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settle()
        for watcher in watchers:
            watcher.start()
        yield
        for watcher in watchers:
            watcher.stop()
        await storage.disconnect()

    app = FastAPI(
        lifespan=lifespan,
        title="店小二 dianxiaoer",
        summary="Auto-responder for Chinese online shops: chat, handoff queue, transcripts.",
        version="0.1.0",
    )

    async def failed(request: Request, exc: Exception) -> Response:
        return errors.failure(exc)

    for known in errors.KNOWN:  # the errors of the layers below, each in the one shape
        app.add_exception_handler(known, failed)
    app.add_exception_handler(Exception, failed)  # the last resort: logged, 500

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return errors.invalid(exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # starlette could not parse the body (e.g. JSON nested too deep)
            return errors.response("unparsable-body", detail=exc.detail)
        what = HTTP_STATUS_ZH.get(exc.status_code, str(exc.detail))
        return errors.response("http-error", status=exc.status_code, what=what, detail=exc.detail)

    def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        expected = os.environ.get(token_env)
        if not expected:
            raise ApiError("admin-disabled", env=token_env)
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError("unauthorized")

    async def answer(body: ChatRequest) -> str:
        """One buyer message → the ChatResponse JSON; the turn is stored before this returns."""
        if not body.message.strip():
            raise ApiError("empty-message")
        if len(body.message) > cap:
            raise ApiError("message-too-long", cap=cap)
        if "\x00" in body.message or any("\ud800" <= ch <= "\udfff" for ch in body.message):
            raise ApiError("bad-characters")
        started = time.perf_counter()
        shop = body.shop_id or DEFAULT_SHOP
        context = body.context.flat() if body.context else {}
        result = await conversations.turn(body.session_id, body.message, body.buyer_id, shop, context)
        reply = result.reply
        metrics.replies.labels(shop, reply.action.value, reply.intent or "-").inc()
        if result.ticket is not None:
            metrics.handoffs.labels(shop, result.ticket.reason.value).inc()
        log.info(
            json.dumps(
                {
                    "shop": shop,
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
    async def session(session_id: str, shop: ShopQuery = DEFAULT_SHOP) -> dict[str, Any]:
        """The transcript of a session, oldest turn first."""
        turns = await storage.transcript(shop, session_id)
        if not turns:
            raise ApiError("unknown-session", session=session_id)
        held = await storage.open_ticket(shop, session_id)
        return {
            "session_id": session_id,
            "shop_id": shop,
            "held_by_person": held is not None,
            "turns": [_turn(t).model_dump() for t in turns],
        }

    async def with_transcript(ticket: Ticket) -> TicketOut:
        return _ticket(ticket, await storage.transcript(ticket.shop, ticket.session_id))

    @app.get("/v1/handoffs", response_model=list[TicketOut], tags=["handoffs"])
    async def handoffs(
        status: Annotated[TicketStatus | None, Query()] = None, shop: ShopQuery = DEFAULT_SHOP
    ) -> list[TicketOut]:
        """A shop's handoff queue: high priority first, then oldest first, each with its transcript."""
        return [await with_transcript(t) for t in await storage.tickets(shop, status)]

    @app.post("/v1/handoffs/{ticket_id}/claim", response_model=TicketOut, tags=["handoffs"])
    async def claim(ticket_id: int, body: ClaimRequest, shop: ShopQuery = DEFAULT_SHOP) -> TicketOut:
        return await with_transcript(await conversations.claim(shop, ticket_id, body.agent))

    @app.post("/v1/handoffs/{ticket_id}/close", response_model=TicketOut, tags=["handoffs"])
    async def close(
        ticket_id: int, body: CloseRequest | None = None, shop: ShopQuery = DEFAULT_SHOP
    ) -> TicketOut:
        """Close a ticket: the bot answers the buyer again from the next message on."""
        note = body.note if body else None
        return await with_transcript(await conversations.close(shop, ticket_id, note))

    @app.get("/v1/intents", tags=["shop"])
    def intents(shop: ShopQuery = DEFAULT_SHOP) -> list[dict[str, Any]]:
        return [
            {
                "id": i.id,
                "title": i.title,
                "examples": len(i.examples),
                "handoff": i.handoff,
                "topics": [{"id": t.id, "title": t.title} for t in i.topics],
            }
            for i in shops(shop).shop.intents.intents
        ]

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, Any]:
        """Alive; `worker` is the process that answered (`bot serve --workers N`)."""
        return {"status": "ok", "worker": os.getpid()}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> Response:
        """Ready when the storage can be written; every shop with its state."""
        try:
            await storage.ping()
        except Exception as exc:
            return errors.response("storage-unavailable", detail=str(exc))
        served: dict[str, dict[str, Any]] = {}
        for shop_id in shops.ids():
            try:
                engine = shops(shop_id)
            except Exception:
                served[shop_id] = {"status": "unavailable"}
                continue
            intents = engine.shop.intents
            served[shop_id] = {
                "status": "ready",
                "intents": len(intents.intents),
                "fingerprint": intents.fingerprint,
            }
        default = served[DEFAULT_SHOP]
        return JSONResponse({**default, "shops": served})

    @app.get("/metrics", tags=["operations"])
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/admin/reload", tags=["operations"], dependencies=[Depends(admin)])
    def reload(shop: ShopQuery = DEFAULT_SHOP) -> Response:
        """Load a shop's intents, responses and config again; swap them in only if there is no error."""
        ok, problems = shops.reload(shop)
        if not ok:
            return errors.response("shop-invalid", [_problem(p) for p in problems])
        return JSONResponse(
            {"status": "reloaded", "shop_id": shop, "fingerprint": shops(shop).shop.intents.fingerprint}
        )

    # Around the app, outermost first: the in-flight bound and metrics, CORS, then the hot route.
    # The chat route is answered by one handler, `answer`, with the same models either way: FastAPI's
    # route documents it (OpenAPI) and serves it when `hot_route` is off; `HotRoute` serves it faster.
    served: ASGIApp = (
        HotRoute(app, "POST", "/v1/chat", ChatRequest, answer, errors.failure) if hot_route else app
    )
    if server.cors_origins:
        served = CORSMiddleware(served, allow_origins=list(server.cors_origins), allow_methods=["GET", "POST"],
                                allow_headers=["*"])  # fmt: skip
    return Bounded(served, limit=server.max_in_flight, max_body=server.max_body_bytes, metrics=metrics)


def _problem(p: Problem) -> dict[str, str]:
    return {"code": p.code, "where": str(p.origin), "message_zh": p.message_zh, "fix_zh": p.fix_zh,
            "message_en": p.message_en, "fix_en": p.fix_en}  # fmt: skip


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


def log_turns() -> None:
    """One JSON line per turn on stderr, written in one call per turn of the event loop."""
    handler = TickBufferedHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # The logging HOWTO's "Optimization": a turn's line needs no caller, thread or process lookup.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None


def app_from_environment() -> ASGIApp:
    """Factory for `uvicorn --factory bot.faces.http.app:app_from_environment` (your own uvicorn or
    gunicorn): the shop's config.yaml from $BOT_CONFIG, watching its files if $BOT_WATCH is 1."""
    log_turns()
    watch = os.environ.get("BOT_WATCH") == "1" or None
    return create_app(os.environ.get("BOT_CONFIG", "config.yaml"), watch=watch)
