"""ASGI plumbing the HTTP face is served with."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from bot.faces.http.asgi import NoDelayHttpTools


async def _nodelay_of_accepted(protocol: type[HttpToolsProtocol]) -> int:
    # Like a worker of `bot serve --workers 2`: the listening socket is made by hand (proto 0), not by
    # asyncio, which therefore does not set TCP_NODELAY on what it accepts.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    config = Config(app=lambda scope, receive, send: None, log_level="warning")
    config.load()
    state = ServerState()
    made: list[HttpToolsProtocol] = []

    def factory() -> HttpToolsProtocol:
        made.append(protocol(config=config, server_state=state, app_state={}))
        return made[-1]

    server = await asyncio.get_running_loop().create_server(factory, sock=listener)
    _, writer = await asyncio.open_connection(*listener.getsockname())
    for _ in range(100):
        if made and getattr(made[0], "transport", None) is not None:
            break
        await asyncio.sleep(0.01)
    accepted = made[0].transport.get_extra_info("socket")
    value = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    writer.close()
    made[0].transport.close()
    server.close()
    await server.wait_closed()
    return int(value)


@pytest.mark.parametrize(("protocol", "expected"), [(HttpToolsProtocol, 0), (NoDelayHttpTools, 1)])
def test_accepted_connections_send_small_replies_at_once(
    protocol: type[HttpToolsProtocol], expected: int
) -> None:
    # Without TCP_NODELAY a keep-alive reply waits for the client's delayed ACK: ~40 ms a request.
    assert expected == (1 if asyncio.run(_nodelay_of_accepted(protocol)) else 0)


def test_allowed_hosts_in_config_decide_which_host_names_are_answered(shop: Path) -> None:
    from fastapi.testclient import TestClient

    from bot.faces.http.app import create_app

    config = shop / "config.yaml"
    text = re.sub(r"^server:.*$", 'server:\n  allowed_hosts: ["bot.shop.cn", "*.xiaoer.cn"]', config.read_text(encoding="utf-8"),
                  count=1, flags=re.M)  # fmt: skip
    config.write_text(text, encoding="utf-8")
    client = TestClient(create_app(config))
    chat = {"session_id": "h", "message": "在吗"}
    for host, status in [("bot.shop.cn", 200), ("a.xiaoer.cn", 200), ("xiaoer.cn:8000", 200),
                         ("evil.cn", 400), ("bot.shop.cn.evil.cn", 400), ("localhost", 400)]:  # fmt: skip
        assert status == client.post("/v1/chat", json=chat, headers={"Host": host}).status_code, host
