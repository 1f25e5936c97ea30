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
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn

from bot.faces.notify import Notifier

log = logging.getLogger("bot")


class PortInUse(Exception):
    pass


def serve(config: Path, watch: bool, host: str, port: int, workers: int, loop: str) -> None:
    """Serve the shops of `config` until SIGINT or SIGTERM."""
    if workers == 1:  # systemd's watchdog, if it runs us, replaces this process when it hangs
        app = _app(config, watch, host)
        _Beating(uvicorn.Config(app, **_options(host, port, loop, config)), notifier=Notifier()).run()
        return
    if not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - Windows: uvicorn's workers import the app
        os.environ["BOT_CONFIG"], os.environ["BOT_WATCH"] = str(config), "1" if watch else ""
        uvicorn.run("bot.faces.http.app:app_from_environment", factory=True, workers=workers,
                    **_options(host, port, loop, config))  # fmt: skip
        return
    _check_free(host, port)
    from bot.loading.config import load_settings

    hung = load_settings(config).server.worker_hung_seconds
    context = multiprocessing.get_context("spawn")
    stopping: list[int] = []
    previous = {
        s: signal.signal(s, lambda signum, frame: stopping.append(signum))
        for s in (signal.SIGINT, signal.SIGTERM)
    }

    def start() -> tuple[Any, Any]:
        beat = context.Value("d", time.time() + STARTING_SECONDS)  # the worker's loop moves it on
        process = context.Process(target=_worker, args=(config, watch, host, port, loop, beat), daemon=False)
        process.start()
        return process, beat

    started = [start() for _ in range(workers)]
    processes = [p for p, _ in started]
    beats = [b for _, b in started]
    notifier, ready = Notifier(), False
    try:
        while not stopping:
            if not ready and all(b.value <= time.time() for b in beats):  # every worker's loop turns
                ready = notifier.ready()
            if ready:
                notifier.alive()
            for i, process in enumerate(processes):
                if not process.is_alive():
                    log.warning("worker %s exited with %s; starting another", process.pid, process.exitcode)
                    processes[i], beats[i] = start()
                elif time.time() - beats[i].value > hung:
                    # Stopped (SIGSTOP) or its loop hung: its socket still takes connections that
                    # would wait for ever. Killed, its share of the port goes to the others.
                    log.warning("worker %s has not answered for %.0f s; replacing it", process.pid, hung)
                    process.kill()
                    process.join(timeout=5)
                    processes[i], beats[i] = start()
            time.sleep(0.2)
    finally:
        notifier.stopping()
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
    # The SQLite store syncs the disk in a thread (bot.storage.durable), which needs the GIL back for
    # a moment after each sync; with Python's default 5 ms switch interval a busy loop keeps it that
    # long before every acknowledgement (15% fewer turns a second at 64 connections: benchmarks/RESULTS.md).
    sys.setswitchinterval(SWITCH_SECONDS)
    # On loopback only this machine's names, unless server.allowed_hosts says otherwise.
    hosts = LOOPBACK_HOSTS if _loopback(host) else None
    return create_app(config, watch=watch or None, allowed_hosts=hosts)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _options(host: str, port: int, loop: str, config: Path) -> dict[str, Any]:
    """uvicorn's options, and this process's limits of each connection (server.* of config.yaml)."""
    from bot.faces.http.asgi import NoDelayHttpTools
    from bot.loading.config import load_settings

    server = load_settings(config).server
    NoDelayHttpTools.limit(server.header_timeout_seconds, server.max_header_bytes,
                           _connections(server.max_connections))  # fmt: skip
    return {
        "host": host,
        "port": port,
        "loop": loop,
        "http": "bot.faces.http.asgi:NoDelayHttpTools",  # httptools, TCP_NODELAY, head timeout and size
        "timeout_keep_alive": server.keep_alive_seconds,
        "log_level": "warning",
    }


# Files a worker keeps for itself beyond its connections: the database, logs, the listening socket.
_SPARE_FILES = 64


def _connections(wanted: int) -> int:
    """How many connections this process may hold open: `wanted`, below the open-file limit, which
    is raised to the hard limit where the system allows (and said in the log where it falls short):
    a worker at the limit would otherwise spin on accept."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no such limit to mind
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted + _SPARE_FILES:
        target = hard if hard == resource.RLIM_INFINITY else min(hard, wanted + _SPARE_FILES)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= wanted + _SPARE_FILES:
        return wanted
    allowed = max(16, soft - _SPARE_FILES)
    log.warning(
        "打开文件数上限 %s：每个进程最多 %s 个连接（server.max_connections 是 %s）"
        " (open-file limit %s: at most %s connections per worker, not %s)",
        soft, allowed, wanted, soft, allowed, wanted,
    )  # fmt: skip
    return allowed


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


SWITCH_SECONDS = 0.0005

# A new worker has this long to load before its silence counts (server.worker_hung_seconds after).
STARTING_SECONDS = 60.0


class _Beating(uvicorn.Server):
    """uvicorn's server, telling on every tick of its loop (10 a second) that it lives: the supervisor
    of `--workers N` through `beat`, or the service manager through `notifier` (one worker)."""

    def __init__(self, config: uvicorn.Config, beat: Any = None, notifier: Notifier | None = None) -> None:
        super().__init__(config)
        self.beat, self.notifier, self._told = beat, notifier, False

    async def on_tick(self, counter: int) -> bool:
        if self.beat is not None:
            self.beat.value = time.time()
        if self.notifier is not None:
            if not self._told:  # the first tick comes once startup is done and the socket listens
                self._told = self.notifier.ready()
            else:
                self.notifier.alive()
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.notifier is not None:
            self.notifier.stopping()
        await super().shutdown(sockets)


def _worker(config: Path, watch: bool, host: str, port: int, loop: str, beat: Any) -> None:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    server = _Beating(uvicorn.Config(_app(config, watch, host), **_options(host, port, loop, config)), beat=beat)
    server.run(sockets=[sock])
