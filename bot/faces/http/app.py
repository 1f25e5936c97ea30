"""`create_app(config_path)` → the ASGI app: chat, handoff queue, transcripts, health, metrics, reload.

The server answers for the shop of `config_path` (`default`) and every shop its `shops:` table lists;
a request names its shop with `shop_id`. A chat turn is worked out on the event loop and stored in the
group commit that follows that turn of the loop; `POST /v1/chat` is answered by `HotRoute` without
FastAPI's per-request machinery. Every error has one JSON shape (`errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import fastapi_offline
from fastapi import FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from bot.credentials import SessionTokens
from bot.desk import Desk
from bot.faces.http import dashboard, errors, examples, mining, pages
from bot.faces.http.asgi import Bounded, HotRoute, Metrics, TickBufferedHandler, TrustedHosts
from bot.faces.http.auth import Admin, Bearer, KeyGate, Me, current_agent, signing_secret
from bot.faces.http.bodies import (
    AgentTurnOut,
    CandidateOut,
    ChatRequest,
    ChatResponse,
    CloseRequest,
    ErasedOut,
    HandoffOut,
    MessageRequest,
    OptionOut,
    PartOut,
    TicketOut,
    TicketPage,
    TransferRequest,
    TurnOut,
)
from bot.faces.http.errors import ApiError
from bot.faces.http.events import for_agents, for_buyer, stream
from bot.faces.http.limits import Buckets, Fair, MemoryBuckets, RedisBuckets
from bot.faces.http.webhooks import Webhooks
from bot.model import DEFAULT_SHOP, Priority, Ticket, TicketStatus, TurnRecord
from bot.problems import HTTP_STATUS_ZH, Problem
from bot.service import Conversations, storage_of
from bot.settings import Settings
from bot.shops import Shops, settle
from bot.stages import hours, privacy
from bot.stages.render import fill
from bot.storage import Storage, StorageError

log = logging.getLogger("bot.turns")

ShopQuery = Annotated[
    str, Query(alias="shop_id", max_length=128, description="the shop (default: the server's own)")
]
TicketId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="the ticket's id")]
LastEventId = Annotated[
    str | None, Header(alias="Last-Event-ID", max_length=64, description="the id of the last event seen")
]
SinceQuery = Annotated[
    str | None, Query(max_length=64, description="as Last-Event-ID, for a first connection that has one")
]
SessionId = Annotated[str, PathParam(max_length=128, description="the session to erase")]
SessionTokenQuery = Annotated[
    str | None, Query(max_length=64, description="the buyer's session_token (from their chat replies)")
]


def create_app(
    config_path: str | Path,
    storage: Storage | None = None,
    clock: Callable[[], float] = time.time,
    watch: bool | None = None,
    hot_route: bool = True,
    allowed_hosts: Sequence[str] | None = None,
) -> ASGIApp:
    """The HTTP face of the shops at `config_path`; raises `LoadError` if its own shop is broken.
    With `watch` (default: server.watch in config.yaml), a change of a shop's files is loaded
    within a second; a broken change is logged with its problems and the old set keeps serving.
    `hot_route=False` leaves `POST /v1/chat` to FastAPI's route alone (benchmarks/run.py compares).
    Only Host names in server.allowed_hosts (else `allowed_hosts`; neither: any) are answered."""
    shops = Shops.from_config(Path(config_path))
    settings = shops.default.shop.settings
    server = settings.server
    storage = storage if storage is not None else storage_of(settings)
    conversations = Conversations(shops, storage, clock)
    metrics = Metrics()
    cap = server.max_message_chars
    watchers = shops.watchers() if (server.watch if watch is None else watch) else []
    buckets = _buckets(settings) if server.rate_limit is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settle()
        for watcher in watchers:
            watcher.start()
        retention = asyncio.create_task(_retain(shops, storage, clock))
        yield
        retention.cancel()
        for watcher in watchers:
            watcher.stop()
        await webhooks.close()
        if buckets is not None:
            await buckets.close()
        await storage.disconnect()

    app = FastAPI(
        lifespan=lifespan,
        title="店小二 dianxiaoer",
        summary="Auto-responder for Chinese online shops: chat, handoff queue, transcripts.",
        version="0.1.0",
        docs_url=None,  # served below from the installed package's files: /docs works offline
        redoc_url=None,
    )
    _offline_docs(app)
    examples.install(app)  # an example answer for every route
    pages.mount(app)  # /widget.js, /demo, /console
    dashboard.mount(app, storage, shops, clock)  # /v1/stats, /dashboard
    mining.mount(app, storage, shops, clock)  # /v1/mining, /dashboard/mining
    app.state.storage = storage  # for the dependencies that look up who is asking (`auth`)

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

    desk = Desk(conversations)
    sessions = SessionTokens(signing_secret(settings.root))
    gate = KeyGate(storage, sessions)
    webhooks = Webhooks(settings.webhooks)  # MissingSecret here: the server refuses to start, saying which
    conversations.observers.append(webhooks.tell)

    async def answer(body: ChatRequest, headers: Mapping[str, str]) -> str:
        """One buyer message → the ChatResponse JSON; the turn is stored before this returns."""
        if not body.message.strip():
            raise ApiError("empty-message")
        if len(body.message) > cap:
            raise ApiError("message-too-long", cap=cap)
        if "\x00" in body.message or any("\ud800" <= ch <= "\udfff" for ch in body.message):
            raise ApiError("bad-characters")
        started = time.perf_counter()
        shop = body.shop_id or DEFAULT_SHOP
        await gate.check(shop, body.session_id, headers)
        context = body.context.flat() if body.context else {}
        result = await conversations.turn(
            body.session_id, body.message, body.buyer_id, shop, context, body.message_id
        )
        reply = result.reply
        if not result.replayed:
            metrics.replies.labels(shop, reply.action.value, reply.intent or "-").inc()
        if result.ticket is not None and not result.replayed:
            metrics.handoffs.labels(shop, result.ticket.reason.value).inc()
        log.info(
            json.dumps(
                {
                    "shop": shop,
                    "session": privacy.shown(body.session_id),
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
            replayed=result.replayed,
            session_token=sessions.sign(shop, body.session_id),
        )
        return out.model_dump_json()

    @app.post(
        "/v1/chat",
        response_model=ChatResponse,
        tags=["chat"],
        responses=errors.documented(
            "invalid-request",
            "empty-message",
            "message-too-long",
            "bad-characters",
            "key-required",
            "bad-key",
            "not-your-session",
            "unknown-shop",
            "overloaded",
            "session-busy",
            "storage-unavailable",
        ),
    )
    async def chat(
        body: ChatRequest,
        request: Request,
        x_api_key: Annotated[
            str | None, Header(description="the shop's server or widget key, once it has keys")
        ] = None,
        x_session_token: Annotated[
            str | None, Header(description="with a widget key: the conversation's session_token")
        ] = None,
    ) -> Response:
        """Answer one buyer message; the turn is stored before this returns."""
        # `HotRoute` (below) answers this route without FastAPI's machinery; here it is documented.
        return Response(await answer(body, request.headers), media_type="application/json")

    @app.delete(
        "/v1/sessions/{session_id}",
        tags=["chat"],
        response_model=ErasedOut,
        responses=errors.documented("unauthorized", "forbidden", "unknown-session", "unknown-shop"),
    )
    async def erase(session_id: SessionId, me: Admin, shop: ShopQuery = DEFAULT_SHOP) -> ErasedOut:
        """Erase a buyer's conversation (admin): the session, its turns, its tickets and the events
        about it, on every replica (the storage is theirs too). 404 when there is nothing to erase."""
        shops(shop)  # UnknownShop: 404
        erased = await storage.erase(shop, session_id)
        if not (erased.turns or erased.sessions):
            raise ApiError("unknown-session", session=session_id)
        log.info(json.dumps({"event": "erased", "shop": shop, "session": privacy.shown(session_id),
                             "by": me.name, "turns": erased.turns}, ensure_ascii=False))  # fmt: skip
        return ErasedOut(session_id=session_id, shop_id=shop, sessions=erased.sessions, turns=erased.turns,
                         tickets=erased.tickets, events=erased.events)  # fmt: skip

    @app.get(
        "/v1/sessions/{session_id}",
        tags=["chat"],
        responses=errors.documented("unauthorized", "unknown-session", "unknown-shop"),
    )
    async def session(
        session_id: str,
        request: Request,
        credentials: Bearer,
        token: SessionTokenQuery = None,
        shop: ShopQuery = DEFAULT_SHOP,
    ) -> dict[str, Any]:
        """The transcript of a session, oldest turn first: for an agent, or for the buyer with the
        `session_token` their chat replies carry. `last_event_id` (read before the turns) is where
        this conversation's events should be followed from (`?since=`), so that nothing said
        between reading the transcript and opening the stream is missed."""
        await reader(request, credentials, token, shop, session_id)
        try:
            mark: str | None = await storage.events.latest()
        except StorageError:
            mark = None  # the events are out of reach; the transcript is not
        turns = await storage.transcript(shop, session_id)
        if not turns:
            raise ApiError("unknown-session", session=session_id)
        held = await storage.open_ticket(shop, session_id)
        return {
            "session_id": session_id,
            "shop_id": shop,
            "held_by_person": held is not None,
            "turns": [turn_out(t).model_dump() for t in turns],
            "last_event_id": mark,
        }

    async def reader(
        request: Request, credentials: Any, token: str | None, shop: str, session_id: str
    ) -> None:
        """An agent, or the buyer of this very session; anyone else is refused."""
        if token is not None and sessions.valid(token, shop, session_id):
            return
        await current_agent(request, credentials)

    def when(shop: str, at: float | None) -> str | None:
        if at is None:
            return None
        return hours.local(at, shops(shop).shop.settings.service).isoformat(timespec="seconds")

    def turn_out(t: TurnRecord) -> TurnOut:
        return TurnOut(turn=t.turn, at=when(t.shop, t.at) or "", message=t.message, reply=t.reply,
                       action=t.action.value, intent=t.intent, topic=t.topic, confidence=t.confidence,
                       reason=t.reason.value if t.reason else None, message_id=t.message_id, agent=t.agent)  # fmt: skip

    async def ticket_out(t: Ticket) -> TicketOut:
        transcript = await storage.transcript(t.shop, t.session_id)
        answered = t.claimed_at or t.closed_at or clock()
        return TicketOut(
            id=t.id or 0, session_id=t.session_id, buyer_id=t.buyer_id, reason=t.reason.value,
            priority=t.priority, status=t.status.value, created_at=when(t.shop, t.created_at) or "",
            waited_seconds=round(max(0.0, answered - t.created_at), 1), claimed_by=t.claimed_by,
            claimed_at=when(t.shop, t.claimed_at), closed_at=when(t.shop, t.closed_at), note=t.note,
            left_messages=list(t.left_messages), questions=list(t.questions), order_number=t.order_number,
            transcript=[turn_out(x) for x in transcript],
        )  # fmt: skip

    @app.get(
        "/v1/handoffs",
        response_model=TicketPage,
        tags=["handoffs"],
        responses=errors.documented("unauthorized", "invalid-request", "bad-cursor"),
    )
    async def handoffs(
        _: Me,
        status: Annotated[TicketStatus | None, Query()] = None,
        agent_name: Annotated[str | None, Query(alias="agent", max_length=64)] = None,
        priority: Annotated[Priority | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=32)] = None,
        shop: ShopQuery = DEFAULT_SHOP,
    ) -> TicketPage:
        """A shop's handoff queue, a page at a time: angry buyers (high priority) first, then the
        longest wait; each ticket with its transcript."""
        found = [t for t in await storage.tickets(shop, status)
                 if (agent_name is None or t.claimed_by == agent_name) and (priority is None or t.priority == priority)]  # fmt: skip
        start = _offset(cursor)
        page = found[start : start + limit]
        more = start + limit < len(found)
        return TicketPage(
            items=[await ticket_out(t) for t in page], next_cursor=str(start + limit) if more else None
        )

    @app.get(
        "/v1/handoffs/{ticket_id}",
        response_model=TicketOut,
        tags=["handoffs"],
        responses=errors.documented("unauthorized", "unknown-ticket"),
    )
    async def handoff(ticket_id: TicketId, _: Me, shop: ShopQuery = DEFAULT_SHOP) -> TicketOut:
        ticket = await storage.ticket(shop, ticket_id)
        if ticket is None:
            raise ApiError("unknown-ticket", ticket=ticket_id)
        return await ticket_out(ticket)

    @app.post(
        "/v1/handoffs/{ticket_id}/claim",
        response_model=TicketOut,
        tags=["handoffs"],
        responses=errors.documented("unauthorized", "unknown-ticket", "ticket-conflict"),
    )
    async def claim(ticket_id: TicketId, me: Me, shop: ShopQuery = DEFAULT_SHOP) -> TicketOut:
        """Take a waiting buyer (409 with the ticket's state if another agent was first)."""
        return await ticket_out(await desk.claim(shop, ticket_id, me))

    @app.post(
        "/v1/handoffs/{ticket_id}/transfer",
        response_model=TicketOut,
        tags=["handoffs"],
        responses=errors.documented("unauthorized", "unknown-ticket", "unknown-agent", "ticket-conflict"),
    )
    async def transfer(
        ticket_id: TicketId, body: TransferRequest, me: Me, shop: ShopQuery = DEFAULT_SHOP
    ) -> TicketOut:
        """Hand a ticket you hold to another agent, with a note for them."""
        return await ticket_out(await desk.transfer(shop, ticket_id, me, body.to, body.note))

    @app.post(
        "/v1/handoffs/{ticket_id}/release",
        response_model=TicketOut,
        tags=["handoffs"],
        responses=errors.documented("unauthorized", "unknown-ticket", "ticket-conflict"),
    )
    async def release(ticket_id: TicketId, me: Me, shop: ShopQuery = DEFAULT_SHOP) -> TicketOut:
        """Put a ticket you hold back in the queue for another agent."""
        return await ticket_out(await desk.release(shop, ticket_id, me))

    @app.post(
        "/v1/handoffs/{ticket_id}/close",
        response_model=TicketOut,
        tags=["handoffs"],
        responses=errors.documented("unauthorized", "unknown-ticket", "ticket-conflict"),
    )
    async def close(
        ticket_id: TicketId,
        me: Me,
        body: CloseRequest | None = None,
        shop: ShopQuery = DEFAULT_SHOP,
    ) -> TicketOut:
        """Close a ticket: the bot answers the buyer again from the next message on. Closing a
        closed ticket changes nothing (its note is kept)."""
        return await ticket_out(await desk.close(shop, ticket_id, me, body.note if body else None))

    @app.post(
        "/v1/handoffs/{ticket_id}/messages",
        response_model=AgentTurnOut,
        tags=["handoffs"],
        responses=errors.documented("unauthorized", "unknown-ticket", "ticket-conflict", "session-busy"),
    )
    async def message(
        ticket_id: TicketId, body: MessageRequest, me: Me, shop: ShopQuery = DEFAULT_SHOP
    ) -> AgentTurnOut:
        """Write to the buyer of a ticket you hold: stored in the transcript as an agent's turn and
        sent to the buyer's window (events)."""
        turn = await desk.message(shop, ticket_id, me, body.text)
        return AgentTurnOut(turn=turn.turn, at=when(shop, turn.at) or "", text=turn.reply, agent=me.name)

    @app.get(
        "/v1/events",
        tags=["events"],
        response_class=StreamingResponse,
        responses=errors.documented("unauthorized", "overloaded"),
    )
    async def agent_events(
        _: Me,
        last_event_id: LastEventId = None,
        since: SinceQuery = None,
        shop: Annotated[str | None, Query(alias="shop_id", max_length=128)] = None,
    ) -> StreamingResponse:
        """agent: Server-Sent Events of every shop (or `shop_id`'s): ticket opened, claimed, closed,
        a buyer writing to a held conversation, an agent's message. Resumes after `Last-Event-ID`."""
        return _events(storage.events.follow(shop, last_event_id or since), for_agents)

    @app.get(
        "/v1/sessions/{session_id}/events",
        tags=["events"],
        response_class=StreamingResponse,
        responses=errors.documented("unauthorized", "overloaded"),
    )
    async def buyer_events(
        session_id: str,
        request: Request,
        credentials: Bearer,
        token: SessionTokenQuery = None,
        last_event_id: LastEventId = None,
        since: SinceQuery = None,
        shop: ShopQuery = DEFAULT_SHOP,
    ) -> StreamingResponse:
        """A buyer's window (with `?token=`, their session_token) or an agent: Server-Sent Events of
        this conversation: an agent's messages and its handoff's state."""
        await reader(request, credentials, token, shop, session_id)
        return _events(storage.events.follow(shop, last_event_id or since), for_buyer(session_id))

    @app.get("/v1/me", tags=["handoffs"], responses=errors.documented("unauthorized"))
    def whoami(me: Me) -> dict[str, Any]:
        """agent: who the token belongs to (the console shows it and acts on that agent's tickets)."""
        return {"name": me.name, "admin": me.admin}

    @app.get("/v1/agents", tags=["handoffs"], responses=errors.documented("unauthorized"))
    async def agents(_: Me) -> list[dict[str, Any]]:
        """agent: the agents whose tokens work, to transfer a ticket to (names only, never tokens)."""
        return [{"name": a.name, "admin": a.admin} for a in await storage.agents()]

    @app.get("/v1/canned", tags=["handoffs"], responses=errors.documented("unauthorized", "unknown-shop"))
    def canned(_: Me, shop: ShopQuery = DEFAULT_SHOP) -> list[str]:
        """agent: the shop's 快捷短语 (config.yaml service.canned), with the shop's facts filled in."""
        engine = shops(shop)
        return [fill(text, engine.shop.values) for text in engine.shop.settings.service.canned]

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

    @app.get("/readyz", tags=["operations"], responses=errors.documented("storage-unavailable"))
    async def readyz() -> Response:
        """Ready when the storage can be written; every shop with its state."""
        try:
            await storage.ping()
        except Exception as exc:
            errors.storage_failed(exc)
            return errors.response("storage-unavailable", {"store": getattr(exc, "store", "") or "storage"},
                                   detail=str(exc))  # fmt: skip
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

    @app.post(
        "/v1/admin/reload",
        tags=["operations"],
        responses=errors.documented("unauthorized", "forbidden", "shop-invalid", "unknown-shop"),
    )
    def reload(_: Admin, shop: ShopQuery = DEFAULT_SHOP) -> Response:
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
    bounded = Bounded(served, limit=server.max_in_flight, max_body=server.max_body_bytes, metrics=metrics,
                      body_seconds=server.body_timeout_seconds, total_seconds=server.request_timeout_seconds)  # fmt: skip
    limit = server.rate_limit
    fair = bounded if buckets is None or limit is None else Fair(bounded, buckets, limit.exempt)
    hosts = server.allowed_hosts if server.allowed_hosts is not None else allowed_hosts
    return fair if hosts is None or "*" in hosts else TrustedHosts(fair, hosts)


# How often the retention period is applied (and first, a minute after start: not in the way of it).
RETENTION_EVERY = 24 * 3600.0
_RETENTION_FIRST = 60.0


async def _retain(shops: Shops, storage: Storage, clock: Callable[[], float]) -> None:
    """Erase, daily, what is older than each shop's privacy.retention_days; on every replica (the
    second to come finds nothing left)."""
    await asyncio.sleep(_RETENTION_FIRST)
    while True:
        for shop_id in shops.ids():
            try:
                days = shops(shop_id).shop.settings.retention_days
                if days is not None:
                    done = await storage.purge(clock() - days * 86400, shop_id)
                    log.info(json.dumps({"event": "retention", "shop": shop_id, "days": days, "sessions": done.sessions,
                                         "turns": done.turns, "tickets": done.tickets}))  # fmt: skip
            except Exception as exc:  # a shop that cannot load, a storage down: tried again tomorrow
                errors.storage_failed(exc)
        await asyncio.sleep(RETENTION_EVERY)


def _buckets(settings: Settings) -> Buckets:
    """Per-client buckets: in Redis when replicas share one (storage.sessions_url), else here."""
    limit = settings.server.rate_limit
    assert limit is not None
    shared = os.environ.get("BOT_SESSIONS_URL") or settings.sessions_url
    return RedisBuckets(shared, limit) if shared else MemoryBuckets(limit)


def _problem(p: Problem) -> dict[str, str]:
    return {"code": p.code, "where": str(p.origin), "message_zh": p.message_zh, "fix_zh": p.fix_zh,
            "message_en": p.message_en, "fix_en": p.fix_en}  # fmt: skip


def _offline_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their scripts served by the app (`fastapi_offline`'s
    files), not from a CDN: an offline machine and a strict network still get the API page."""
    app.mount(
        "/static/docs", StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="docs"
    )

    @app.get("/docs", include_in_schema=False)
    def swagger() -> Response:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
                                   swagger_js_url="/static/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static/docs/swagger-ui.css",
                                   swagger_favicon_url="/static/docs/favicon.png")  # fmt: skip

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
                              redoc_js_url="/static/docs/redoc.standalone.js",
                              redoc_favicon_url="/static/docs/favicon.png", with_google_fonts=False)  # fmt: skip


def _events(events: AsyncIterator[Any], shape: Any) -> StreamingResponse:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx: do not buffer a stream
    return StreamingResponse(stream(events, shape), media_type="text/event-stream", headers=headers)


def _offset(cursor: str | None) -> int:
    """Where a page starts: the cursor the last page gave (a count of tickets), or the start."""
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise ApiError("bad-cursor")
    return int(cursor)


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
