"""Who is asking: the agent behind a bearer token, looked up on every request.

A token is looked up by its hash (`bot.credentials`), so nothing secret is compared byte by byte,
and a revoked token stops working at the next request, on every replica. OpenAPI shows the scheme
(`HTTPBearer`), so /docs has an Authorize button.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.credentials import SessionTokens, token_hash
from bot.faces.http.errors import ApiError
from bot.model import Agent, KeyKind
from bot.storage import Storage

_bearer = HTTPBearer(auto_error=False, description="an agent's token (bot agents add NAME [--admin])")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def current_agent(request: Request, credentials: Bearer) -> Agent:
    """The agent behind the request's bearer token (the app's storage is `app.state.storage`);
    401 without a working token."""
    if credentials is None or not credentials.credentials:
        raise ApiError("unauthorized")
    storage: Storage = request.app.state.storage
    found = await storage.agent_by_token(token_hash(credentials.credentials))
    if found is None:
        raise ApiError("unauthorized")
    return found


async def current_admin(found: Annotated[Agent, Depends(current_agent)]) -> Agent:
    """An admin behind the token; 403 for an agent who is not one."""
    if not found.admin:
        raise ApiError("forbidden")
    return found


Me = Annotated[Agent, Depends(current_agent)]
Admin = Annotated[Agent, Depends(current_admin)]


class KeyGate:
    """Who may chat for a shop. A shop with no key is open (the zero-setup demo, which `bot serve`
    then keeps on 127.0.0.1); once it has one, every chat needs `X-Api-Key`: the shop's server key
    for any buyer, or a widget key, which chats only in a conversation that is new or whose
    `X-Session-Token` it shows. Whether a shop has keys is remembered for `CACHE_SECONDS`; a key
    itself is looked up on every chat, so a revoked one stops at once."""

    CACHE_SECONDS = 2.0

    def __init__(self, storage: Storage, tokens: SessionTokens) -> None:
        self.storage, self.tokens = storage, tokens
        self._has_keys: dict[str, tuple[float, bool]] = {}

    async def check(self, shop: str, session_id: str, headers: Mapping[str, str]) -> None:
        given = headers.get("x-api-key")
        if given is None:
            if await self._locked(shop):
                raise ApiError("key-required")
            return
        key = await self.storage.key_by_token(token_hash(given))
        if key is None or key.shop != shop:
            raise ApiError("bad-key")
        proven = key.kind is KeyKind.SERVER or self.tokens.valid(
            headers.get("x-session-token"), shop, session_id
        )
        if not proven and await self.storage.session(shop, session_id) is not None:
            raise ApiError("not-your-session")  # a widget may only start a conversation or go on with its own

    async def _locked(self, shop: str) -> bool:
        now = time.monotonic()
        cached = self._has_keys.get(shop)
        if cached is None or now - cached[0] > self.CACHE_SECONDS:
            cached = self._has_keys[shop] = (now, bool(await self.storage.keys(shop)))
        return cached[1]


def signing_secret(root: Path) -> bytes:
    """The secret session tokens are signed with: $BOT_SECRET (the same on every replica), else one
    made once for this shop folder in data/.secret (so that workers and restarts agree)."""
    given = os.environ.get("BOT_SECRET")
    if given:
        return given.encode("utf-8")
    path = root / "data" / ".secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_hex(32))
    except FileExistsError:
        pass  # made already, by us or by another worker starting at the same moment
    for _ in range(50):
        made = path.read_text(encoding="ascii").strip()
        if made:
            return made.encode("ascii")
        time.sleep(0.01)  # the other worker is writing it
    raise RuntimeError(f"{path} is empty")


__all__ = ["Admin", "Bearer", "KeyGate", "Me", "current_agent", "signing_secret"]
