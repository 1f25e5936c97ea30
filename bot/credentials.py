"""Secrets the server hands out and checks: agents' tokens and buyers' session tokens.

- An agent's token is random (`new_token`), shown once, and stored only as its SHA-256
  (`token_hash`): a stolen database gives no token. It is random enough that a fast hash is right
  (no password stretching needed), and it is looked up by that hash, so no secret is compared
  byte by byte.
- A buyer's session token proves which conversation a browser may read: an HMAC-SHA256, with the
  server's secret, of the shop and the session id (`SessionTokens`). The server signs it when the
  session starts; nothing is stored, and every replica with the same secret checks it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from bot.model import KeyKind

AGENT_PREFIX = "dxe_agent_"
KEY_PREFIX = {KeyKind.SERVER: "dxe_server_", KeyKind.WIDGET: "dxe_widget_"}


def new_token(prefix: str = AGENT_PREFIX) -> str:
    """A fresh token: the prefix says what it is, 32 random bytes make it unguessable."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionTokens:
    """Signs and checks the token that lets a browser read one conversation of one shop."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the signing secret must be at least 16 bytes")
        self._secret = secret

    def sign(self, shop: str, session_id: str) -> str:
        mac = hmac.new(self._secret, f"{shop}\x1f{session_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def valid(self, token: str | None, shop: str, session_id: str) -> bool:
        """Whether `token` is the one `sign` gives for this shop and session (constant time)."""
        expected = self.sign(shop, session_id).encode("ascii")
        return token is not None and hmac.compare_digest(token.encode("utf-8"), expected)


__all__ = ["AGENT_PREFIX", "KEY_PREFIX", "SessionTokens", "new_token", "token_hash"]
