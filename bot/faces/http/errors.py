"""The API's one error shape, {"error": {"code", "message_zh", "message_en", "details"?}}, for every
error: raised in a handler, found by the framework, or refused before the app (`asgi`). The texts
are in `bot.problems.HTTP_ERRORS`; exceptions of the layers below are translated here, once."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from bot.desk import UnknownAgent
from bot.problems import HTTP_ERRORS, http_error
from bot.shops import ShopUnavailable, UnknownShop
from bot.storage import SessionBusy, StorageError, TicketMoved, TurnConflict, UnknownTicket

# Codes whose answer asks the client to come back: 503s are momentary.
# Codes answered before the request's body was read: the connection is closed after them, so that
# what is left of the body is never read as the next request or waited for.
_CLOSE = {"body-timeout", "header-timeout", "headers-too-large", "body-too-large", "rate-limited", "bad-host"}
_RETRY = {"overloaded", "turn-conflict", "session-busy", "storage-unavailable", "shop-unavailable",
          "request-timeout"}  # fmt: skip


class ApiError(Exception):
    def __init__(self, code: str, details: Any = None, **fields: object) -> None:
        super().__init__(code)
        self.code, self.details, self.fields = code, details, fields


# What handlers may raise and `failure` translates (anything else is logged and answered 500).
class ErrorDetail(BaseModel):
    code: str = Field(examples=["ticket-conflict"])
    message_zh: str = Field(examples=["工单 7 现在是「客服接待中」（小美），不能接待。"])
    message_en: str = Field(examples=["Ticket 7 is claimed by 小美: cannot claim it."])
    details: Any = None


class ErrorOut(BaseModel):
    """Every error of the API, in one shape."""

    error: ErrorDetail


KNOWN: tuple[type[Exception], ...] = (
    ApiError,
    ValidationError,
    UnknownShop,
    ShopUnavailable,
    StorageError,
    UnknownAgent,
)


def body(
    code: str, details: Any = None, status: int | None = None, fields: Mapping[str, object] | None = None
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Status, JSON body and headers of one error (`status` overrides the catalogue's)."""
    usual, zh, en = http_error(code, **(fields or {}))
    status = status or usual
    error: dict[str, Any] = {"code": code, "message_zh": zh, "message_en": en}
    if details is not None:
        error["details"] = details
    data = json.dumps({"error": error}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    retry = (fields or {}).get("retry_after", 1 if code in _RETRY else None)
    if retry is not None:
        headers.append((b"retry-after", str(retry).encode()))
    if code == "unauthorized":
        headers.append((b"www-authenticate", b'Bearer realm="dianxiaoer"'))
    if code in _CLOSE:
        headers.append((b"connection", b"close"))
    return status, data, headers


def response(code: str, details: Any = None, status: int | None = None, **fields: object) -> Response:
    status, data, headers = body(code, details, status, fields)
    return Response(data, status_code=status, headers={k.decode(): v.decode() for k, v in headers[1:]},
                    media_type="application/json")  # fmt: skip


async def send(send: Any, code: str, **fields: object) -> None:
    """The error answered straight on the ASGI connection, before any app has seen the request."""
    status, data, headers = body(code, fields=fields)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def documented(*codes: str) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route in OpenAPI: each status it may answer with the one error shape and
    what the codes behind it mean."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        status, zh, en = HTTP_ERRORS[code]  # the texts with their {fields}, as the catalogue writes them
        entry = out.setdefault(status, {"model": ErrorOut, "description": ""})
        entry["description"] += f"{'; ' if entry['description'] else ''}`{code}`: {zh} {en}"
    return out


def failure(exc: Exception) -> Response:
    """Any exception raised while answering, as the one error shape."""
    if isinstance(exc, ApiError):
        return response(exc.code, exc.details, None, **exc.fields)
    if isinstance(exc, ValidationError):  # a body pydantic parsed itself
        return invalid([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)])
    if isinstance(exc, UnknownShop):
        return response("unknown-shop", shop=exc.args[0])
    if isinstance(exc, ShopUnavailable):
        return response("shop-unavailable", shop=exc.shop)
    if isinstance(exc, UnknownTicket):
        return response("unknown-ticket", ticket=exc.args[0])
    if isinstance(exc, TicketMoved):
        t = exc.ticket
        state_zh = {"open": "等待接待", "claimed": "客服接待中", "closed": "已关闭"}[t.status.value]
        move_zh = {"claim": "接待", "transfer": "转交", "release": "放回队列", "close": "关闭",
                   "message": "发消息"}.get(exc.attempted, "这样操作")  # fmt: skip
        who = f"（{t.claimed_by}）" if t.claimed_by and t.status.value == "claimed" else ""
        return response("ticket-conflict", {"status": t.status.value, "claimed_by": t.claimed_by}, ticket=t.id,
                        state=t.status.value, state_zh=state_zh, who=who, move_zh=move_zh, move=exc.attempted,
                        who_en=f" by {t.claimed_by}" if who else "")  # fmt: skip
    if isinstance(exc, UnknownAgent):
        return response("unknown-agent", agent=exc.args[0])
    if isinstance(exc, TurnConflict):
        return response("turn-conflict")
    if isinstance(exc, SessionBusy):
        return response("session-busy")
    if isinstance(exc, StorageError):  # each backend says "unavailable" in the layer's own terms
        storage_failed(exc)
        return response("storage-unavailable", {"store": getattr(exc, "store", "") or "storage"},
                        detail=type(exc).__name__)  # fmt: skip
    logging.getLogger("bot").exception("unexpected error")
    return response("internal")


class _Tally:
    """One log line per kind of storage failure every `EVERY` seconds, with how many there were:
    a full disk under load must not write a traceback per request."""

    EVERY = 10.0

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.logged: dict[str, float] = {}

    def __call__(self, exc: BaseException) -> None:
        kind = f"{type(exc).__name__}: {exc}"[:300]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        now = time.monotonic()
        if now - self.logged.get(kind, -math.inf) >= self.EVERY:
            count, self.counts[kind], self.logged[kind] = self.counts[kind], 0, now
            line = {"event": "storage_failed", "error": kind, "count": count, "seconds": self.EVERY}
            logging.getLogger("bot").error(json.dumps(line, ensure_ascii=False))


storage_failed = _Tally()


def invalid(errors: Sequence[Any]) -> Response:
    problems = [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors]
    if any(p["type"] == "json_invalid" for p in problems):
        return response("invalid-json", problems)
    return response("invalid-request", problems)
