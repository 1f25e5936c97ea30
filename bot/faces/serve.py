"""`bot serve`: one process, or N workers that each listen on the same port with their own socket
(SO_REUSEPORT), so that the kernel spreads connections over them evenly.

uvicorn's own workers share one listening socket, and whichever is awake first accepts every
connection waiting: measured here, 64 keep-alive connections all landed on one of two workers in
two runs out of three, and that worker served half of what two can. Where the platform has no
SO_REUSEPORT (Windows), uvicorn's workers are used.
"""

from __future__ import annotations

import ipaddress
import logging
import multiprocessing
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import uvicorn

log = logging.getLogger("bot")


class PortInUse(Exception):
    pass


def serve(config: Path, watch: bool, host: str, port: int, workers: int, loop: str) -> None:
    """Serve the shops of `config` until SIGINT or SIGTERM."""
    if workers == 1:
        uvicorn.Server(uvicorn.Config(_app(config, watch, host), **_options(host, port, loop))).run()
        return
    if not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - Windows: uvicorn's workers import the app
        os.environ["BOT_CONFIG"], os.environ["BOT_WATCH"] = str(config), "1" if watch else ""
        uvicorn.run("bot.faces.http.app:app_from_environment", factory=True, workers=workers,
                    **_options(host, port, loop))  # fmt: skip
        return
    _check_free(host, port)
    context = multiprocessing.get_context("spawn")
    stopping: list[int] = []
    previous = {
        s: signal.signal(s, lambda signum, frame: stopping.append(signum))
        for s in (signal.SIGINT, signal.SIGTERM)
    }

    def start() -> Any:
        process = context.Process(target=_worker, args=(config, watch, host, port, loop), daemon=False)
        process.start()
        return process

    processes = [start() for _ in range(workers)]
    try:
        while not stopping:
            for i, process in enumerate(processes):
                if not process.is_alive():
                    log.warning("worker %s exited with %s; starting another", process.pid, process.exitcode)
                    processes[i] = start()
            time.sleep(0.2)
    finally:
        for process in processes:
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight, then exits
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        for s, handler in previous.items():
            signal.signal(s, handler)


def _app(config: Path, watch: bool, host: str) -> Any:
    from bot.faces.http.app import create_app, log_turns
    from bot.faces.http.asgi import LOOPBACK_HOSTS

    log_turns()
    # On loopback only this machine's names, unless server.allowed_hosts says otherwise.
    hosts = LOOPBACK_HOSTS if _loopback(host) else None
    return create_app(config, watch=watch or None, allowed_hosts=hosts)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _options(host: str, port: int, loop: str) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "loop": loop,
        "http": "bot.faces.http.asgi:NoDelayHttpTools",  # httptools, with TCP_NODELAY on every connection
        "log_level": "warning",
    }


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _check_free(host: str, port: int) -> None:
    """With SO_REUSEPORT a second server on the port would silently share it: refuse instead."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(f"{host}:{port}: {exc.strerror}") from None


def _worker(config: Path, watch: bool, host: str, port: int, loop: str) -> None:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    uvicorn.Server(uvicorn.Config(_app(config, watch, host), **_options(host, port, loop))).run(sockets=[sock])
