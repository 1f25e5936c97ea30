"""What buyers asked that the bot did not answer well (`bot.runners.mine`), for the people who run
the shop: `GET /v1/mining` and `/dashboard/mining` list the clusters with their proposals; an admin
accepts one (`POST /v1/mining/{id}/accept`, or the page's 采纳 button), which writes it to the shop's
files only if lint, the dialogues and `bot eval` hold, and reloads the shop; or ignores one (leaves
the question to people until buyers miss it again). Verdicts are kept in the storage, so every
replica and `bot mine` see them.

Mining and the checks read files and run the matcher for seconds: they run in a thread, never on
the event loop, and one accept at a time per process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from bot.faces.http import errors
from bot.faces.http.auth import Admin, Bearer, Me
from bot.faces.http.bodies import AcceptedOut, AcceptRequest, ChecksOut, EvalOut, MiningOut, ReviewOut
from bot.faces.http.dashboard import visitor
from bot.faces.http.errors import ApiError
from bot.model import DEFAULT_SHOP, Agent, Review, Verdict
from bot.problems import http_error
from bot.report import mining as report
from bot.report.dashboard import login_page
from bot.runners.mine import Applied, Checked, Cluster, apply, mine, propose
from bot.shops import Shops
from bot.storage import Storage

_FORM_BYTES = 4096
_NO_STORE = {"Cache-Control": "no-store"}

ShopId = Annotated[
    str, Query(alias="shop_id", max_length=128, description="the shop (default: the server's own)")
]
Days = Annotated[int, Query(ge=1, le=365, description="how many days of stored turns to mine")]
ProposalId = Annotated[str, PathParam(max_length=64, pattern=r"^p[0-9a-f]{1,63}$")]


def mount(app: FastAPI, storage: Storage, shops: Shops, clock: Callable[[], float]) -> None:
    one_at_a_time = asyncio.Lock()  # two accepts on one shop's files would check each other's half

    async def clusters(shop: str, days: int) -> list[Cluster]:
        engine = shops(shop)  # UnknownShop: 404 in the one shape
        history = await storage.history(shop, clock() - days * 86400)
        reviews = await storage.reviews(shop)
        root = shops.configs[shop].resolve().parent
        return await asyncio.to_thread(mine, engine, root, history.turns, reviews)

    async def find(shop: str, proposal_id: str, days: int) -> Cluster:
        for found in await clusters(shop, days):
            if found.proposal is not None and found.proposal.id == proposal_id:
                return found
        raise ApiError("unknown-proposal", proposal=proposal_id)

    async def accept(
        shop: str, proposal_id: str, days: int, by: Agent, answer: str | None
    ) -> tuple[Cluster, Applied]:
        async with one_at_a_time:
            found = await find(shop, proposal_id, days)
            proposal = found.proposal
            assert proposal is not None
            if answer and proposal.kind == "new_topic":  # the owner's own answer for the new topic
                root = shops.configs[shop].resolve().parent
                proposal = await asyncio.to_thread(propose, shops(shop), root, found, answer)
            result = (await asyncio.to_thread(apply, shops.configs[shop].resolve(), [proposal]))[0]
            if result.accepted:
                await asyncio.to_thread(shops.reload, shop)  # lint passed: it loads
                await storage.review(Review(shop=shop, key=found.key, verdict=Verdict.ACCEPTED, by=by.name,
                                            at=clock()))  # fmt: skip
            return found, result

    async def ignore(shop: str, proposal_id: str, days: int, by: Agent) -> tuple[Cluster, Review]:
        found = await find(shop, proposal_id, days)
        review = Review(shop=shop, key=found.key, verdict=Verdict.IGNORED, by=by.name, at=clock())
        await storage.review(review)
        return found, review

    @app.get(
        "/v1/mining",
        response_model=MiningOut,
        tags=["mining"],
        responses=errors.documented("unauthorized", "invalid-request", "unknown-shop"),
    )
    async def listed(_: Me, shop: ShopId = DEFAULT_SHOP, days: Days = 30) -> MiningOut:
        """The questions buyers asked in the last `days` that the bot did not answer well, grouped
        (the same as `bot mine --json`), each with a proposal an admin can accept or ignore."""
        return MiningOut(shop_id=shop, days=days, **report.as_json(await clusters(shop, days)))

    @app.post(
        "/v1/mining/{proposal_id}/accept",
        response_model=AcceptedOut,
        tags=["mining"],
        responses=errors.documented(
            "unauthorized",
            "forbidden",
            "invalid-request",
            "unknown-shop",
            "unknown-proposal",
            "proposal-refused",
        ),
    )
    async def accepted(
        proposal_id: ProposalId,
        me: Admin,
        body: AcceptRequest | None = None,
        shop: ShopId = DEFAULT_SHOP,
        days: Days = 30,
    ) -> AcceptedOut:
        """Write the proposal into the shop's files, keeping it only if `bot lint` gains no error, every
        dialogue that passed still passes and its own dialogue passes; then reload the shop. Refused
        (409, files unchanged) with the reason otherwise."""
        found, result = await accept(shop, proposal_id, days, me, body.answer if body else None)
        if not result.accepted:
            zh, _, en = result.reason.rpartition(" (")
            raise ApiError("proposal-refused", _checks_details(result), proposal=proposal_id, reason_zh=zh,
                           reason_en=en.rstrip(")"))  # fmt: skip
        assert result.after is not None
        return AcceptedOut(proposal=proposal_id, key=found.key, accepted=True,
                           fingerprint=shops(shop).shop.intents.fingerprint,
                           before=_checks(result.before), after=_checks(result.after))  # fmt: skip

    @app.post(
        "/v1/mining/{proposal_id}/ignore",
        response_model=ReviewOut,
        tags=["mining"],
        responses=errors.documented(
            "unauthorized", "forbidden", "invalid-request", "unknown-shop", "unknown-proposal"
        ),
    )
    async def ignored(
        proposal_id: ProposalId, me: Admin, shop: ShopId = DEFAULT_SHOP, days: Days = 30
    ) -> ReviewOut:
        """Leave the proposal's question to people: it is not proposed again until buyers miss it again."""
        found, review = await ignore(shop, proposal_id, days, me)
        return ReviewOut(proposal=proposal_id, key=found.key, verdict=review.verdict.value, by=review.by,
                         at=dt.datetime.fromtimestamp(review.at, dt.UTC).isoformat())  # fmt: skip

    @app.get("/dashboard/mining", include_in_schema=False)
    async def page(
        request: Request, credentials: Bearer, shop: ShopId = DEFAULT_SHOP, days: Days = 30
    ) -> Response:
        agent = await visitor(request, credentials)
        if agent is None:
            return HTMLResponse(login_page(failed=False), status_code=401, headers=_NO_STORE)
        found = await clusters(shop, days)
        html = report.page(found, shop, shops.ids(), shops(shop).title, agent.name, agent.admin, days)
        return HTMLResponse(html, headers=_NO_STORE)

    @app.post("/dashboard/mining/{verb}", include_in_schema=False)
    async def act(request: Request, verb: str, credentials: Bearer) -> Response:
        """The page's 采纳 and 忽略 buttons (a form with the login cookie: SameSite=Strict keeps other
        sites' forms out); the outcome as a page with the way back."""
        agent = await visitor(request, credentials)
        if agent is None:
            return HTMLResponse(login_page(failed=False), status_code=401, headers=_NO_STORE)
        form = parse_qs((await request.body())[:_FORM_BYTES].decode("utf-8", "replace"))
        shop = form.get("shop_id", [DEFAULT_SHOP])[0]
        proposal_id = form.get("proposal", [""])[0]
        days = int(form["days"][0]) if form.get("days", [""])[0].isdigit() else 30
        days = min(max(days, 1), 365)
        if not agent.admin:
            return _outcome(
                shop,
                "只有管理员可以采纳或忽略建议",
                ["请用管理员令牌登录（bot agents add 名字 --admin）。"],
                403,
            )
        try:
            if verb == "accept":
                answer = form.get("answer", [""])[0].strip()[:2000] or None
                _, result = await accept(shop, proposal_id, days, agent, answer)
                lines = [line.strip() for line in report.applied([result]).splitlines()]
                if result.accepted:
                    return _outcome(shop, f"已采纳 {proposal_id}，店铺已重新加载", lines, 200)
                return _outcome(shop, f"没有采纳 {proposal_id}，文件没有改动", lines, 409)
            if verb == "ignore":
                await ignore(shop, proposal_id, days, agent)
                return _outcome(
                    shop, f"已忽略 {proposal_id}", ["这个问题留给人工，以后有新的买家再问才会再出现。"], 200
                )
        except ApiError as exc:
            _, zh, _ = http_error(exc.code, **exc.fields)
            return _outcome(shop, "没有办成", [zh], 404 if exc.code == "unknown-proposal" else 409)
        return _outcome(shop, "没有这个操作", [verb], 404)


def _outcome(shop: str, heading: str, lines: list[str], status: int) -> HTMLResponse:
    return HTMLResponse(report.outcome_page(shop, heading, lines, ok=status == 200), status_code=status,
                        headers=_NO_STORE)  # fmt: skip


def _checks(checked: Checked) -> ChecksOut:
    return ChecksOut(
        lint_errors=list(checked.lint_errors),
        dialogues_passing=len(checked.passing),
        dialogues_failing=len(checked.failing),
        evals=[EvalOut(file=name, resolved=r, wrong=w) for name, r, w in checked.evals],
    )


def _checks_details(result: Applied) -> dict[str, object]:
    return {"before": _checks(result.before).model_dump(),
            "after": _checks(result.after).model_dump() if result.after is not None else None}  # fmt: skip


__all__ = ["mount"]
