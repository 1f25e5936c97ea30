"""`GET /v1/stats` (a shop's day in numbers, for programs) and `/dashboard` (the same day as a page
for people, drawn on the server: it reads without JavaScript).

Both need an agent. `/v1/stats` takes the bearer token like every agent route; the page, which a
browser opens by its address, also takes the token from a cookie that its login form sets (HttpOnly,
SameSite=Strict, only for /dashboard), so that the page works without a script to send headers. The
token is looked up on every request, so a revoked one stops at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from bot.faces.http import errors
from bot.faces.http.auth import Bearer, Me, current_agent
from bot.faces.http.bodies import BandOut, Count, StatsOut
from bot.faces.http.errors import ApiError
from bot.model import DEFAULT_SHOP, Agent
from bot.report.dashboard import REASON_ZH, login_page, page
from bot.runners.stats import DayStats, day_stats, today
from bot.shops import Shops
from bot.storage import Storage

COOKIE = "bot_dashboard"
_LOGIN_BYTES = 4096
_NO_STORE = {"Cache-Control": "no-store"}

ShopId = Annotated[
    str, Query(alias="shop_id", max_length=128, description="the shop (default: the server's own)")
]
Day = Annotated[dt.date | None, Query(description="YYYY-MM-DD on the shop's clock (default: today)")]


def mount(app: FastAPI, storage: Storage, shops: Shops, clock: Callable[[], float]) -> None:
    async def stats_of(shop: str, day: dt.date | None) -> DayStats:
        offset = shops(shop).shop.settings.service.utc_offset_hours  # UnknownShop: 404 in the one shape
        return await day_stats(storage, shop, day or today(clock(), offset), offset)

    def titles(shop: str) -> Callable[[str], str]:
        intents = shops(shop).shop.intents

        def title(name: str) -> str:
            intent_id, dot, _ = name.partition(".")
            try:
                return intents.title(intent_id, name if dot else None)
            except KeyError:
                return name  # an intent the shop no longer has: its id is all there is

        return title

    @app.get(
        "/v1/stats",
        response_model=StatsOut,
        tags=["handoffs"],
        responses=errors.documented("unauthorized", "invalid-request", "unknown-shop"),
    )
    async def stats(_: Me, shop: ShopId = DEFAULT_SHOP, day: Day = None) -> StatsOut:
        """A shop's day: 接待量, 机器人独立解决率, 转人工率 by reason, agents' first response, the
        busiest intents and topics, the questions most often left unanswered, messages per hour and
        the reliability of answers per confidence band (what `/dashboard` draws)."""
        return _out(await stats_of(shop, day), titles(shop))

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard(
        request: Request, credentials: Bearer, shop: ShopId = DEFAULT_SHOP, day: Day = None
    ) -> Response:
        agent = await visitor(request, credentials)
        if agent is None:
            return HTMLResponse(login_page(failed=False), status_code=401, headers=_NO_STORE)
        found = await stats_of(shop, day)
        return HTMLResponse(page(found, shops.ids(), titles(shop), agent.name), headers=_NO_STORE)

    @app.post("/dashboard/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        body = await request.body()
        token = parse_qs(body[:_LOGIN_BYTES].decode("utf-8", "replace")).get("token", [""])[0].strip()
        agent = await _agent(request, token) if token else None
        if agent is None:
            return HTMLResponse(login_page(failed=True), status_code=401, headers=_NO_STORE)
        back = RedirectResponse("/dashboard", status_code=303)
        back.set_cookie(
            COOKIE, token, httponly=True, samesite="strict", path="/dashboard",
            secure=request.url.scheme == "https",
        )  # fmt: skip
        return back

    @app.post("/dashboard/logout", include_in_schema=False)
    async def logout() -> Response:
        back = RedirectResponse("/dashboard", status_code=303)
        back.delete_cookie(COOKIE, path="/dashboard")
        return back


async def visitor(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Agent | None:
    """The agent behind the bearer token or, for a browser, the login cookie; None for neither."""
    if credentials is not None and credentials.credentials:
        return await _agent(request, credentials.credentials)
    cookie = request.cookies.get(COOKIE)
    return await _agent(request, cookie) if cookie else None


async def _agent(request: Request, token: str) -> Agent | None:
    try:
        return await current_agent(request, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
    except ApiError:
        return None


def _out(stats: DayStats, title: Callable[[str], str]) -> StatsOut:
    def counts(rows: tuple[tuple[str, int], ...], name: Callable[[str], str]) -> list[Count]:
        return [Count(name=key, title=name(key), count=n) for key, n in rows]

    first = stats.first_response
    return StatsOut(
        shop_id=stats.shop, day=stats.day.isoformat(), utc_offset_hours=stats.utc_offset_hours,
        conversations=stats.conversations, messages=stats.messages,
        bot_resolved=stats.bot_resolved, bot_resolved_rate=round(stats.resolved_rate, 4),
        handed_off=stats.handed_off, handoff_rate=round(stats.handoff_rate, 4),
        handoffs=counts(stats.handoffs, lambda r: REASON_ZH.get(r, r)),
        first_response_median_seconds=first.median, first_response_p90_seconds=first.p90,
        tickets_answered=first.answered, tickets_unanswered=stats.unanswered_tickets,
        intents=counts(stats.intents, title), topics=counts(stats.topics, title),
        unanswered=counts(stats.unanswered, lambda text: text),
        hours=list(stats.hours),
        reliability=[BandOut(low=b.low, high=b.high, answers=b.answers, kept=b.kept) for b in stats.reliability],
    )  # fmt: skip


__all__ = ["COOKIE", "mount", "visitor"]
