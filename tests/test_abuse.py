"""A real `bot serve` under hostile clients and a careless operator, on 127.0.0.1, with bounded
traffic: heads sent a byte at a time, bodies sent a byte at a time, a head of a megabyte, one client
flooding, a process holding the database's write lock, the shared file cut to nothing. Throughout,
`/healthz` answers within 50 ms (p99) and the other buyers are answered.

The server's limits are set short here (a head in 1 s, a body in 1 s, 16 requests in flight, 20
requests a second per client) so that the test takes seconds, not the minutes the defaults allow."""

from __future__ import annotations

import contextlib
import fcntl
import json
import multiprocessing
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faces.test_serve import free_port, start

LIMITS = {
    "header_timeout_seconds": "1",
    "body_timeout_seconds": "1",
    "max_in_flight": "16",
    "rate_limit": "{per_second: 20, burst: 20}",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, repo: Path) -> Iterator[tuple[int, Path]]:
    """One server for the module (each attack leaves it as it found it; the last checks it lived)."""
    shop = tmp_path_factory.mktemp("abuse")
    shutil.copy(repo / "config.yaml", shop / "config.yaml")
    for folder in ("intents", "responses", "concepts"):
        shutil.copytree(repo / folder, shop / folder)
    config = shop / "config.yaml"
    text = config.read_text(encoding="utf-8")
    for key, value in LIMITS.items():
        line = f"  {key}: {value}"
        found = re.search(rf"^  {key}:.*$", text, flags=re.M)
        text = text.replace(found.group(0), line) if found else re.sub(r"^server:.*$", f"server:\n{line}", text,
                                                                      count=1, flags=re.M)  # fmt: skip
    config.write_text(text, encoding="utf-8")
    port = free_port()
    process = start(shop, port)
    yield port, shop
    assert process.poll() is None, f"the server died: exit {process.returncode}"
    process.terminate()
    process.wait(timeout=10)


def ask(port: int, method: str, path: str, body: dict[str, Any] | None = None, source: str = "127.0.0.1",
        timeout: float = 10) -> tuple[int, dict[str, Any], float]:  # fmt: skip
    """One request on its own connection from `source`: (status, JSON body, seconds)."""
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode()  # fmt: skip
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as s:
        s.sendall(head + data)
        raw = _read_all(s)
    took = time.perf_counter() - started
    status = int(raw.split(b" ", 2)[1])
    payload = raw.split(b"\r\n\r\n", 1)[1]
    return status, json.loads(payload) if payload.strip() else {}, took


def _read_all(s: socket.socket) -> bytes:
    chunks = []
    while chunk := s.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


class Health(threading.Thread):
    """Asks /healthz every 10 ms while the attack runs; `p99()` of what it measured."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.samples, self.failed, self.stop = port, [], [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                status, _, took = ask(self.port, "GET", "/healthz", timeout=5)
                (self.samples if status == 200 else self.failed).append(took)
            except OSError as exc:
                self.failed.append(repr(exc))
            time.sleep(0.01)

    def p99(self) -> float:
        deadline = time.monotonic() + 3
        while len(self.samples) < 20 and time.monotonic() < deadline:  # enough to speak of a p99
            time.sleep(0.05)
        self.stop.set()
        self.join(timeout=10)
        assert not self.failed and len(self.samples) >= 20, (self.failed[:3], len(self.samples))
        ordered = sorted(self.samples)
        return ordered[int(0.99 * (len(ordered) - 1))]


def trickle(port: int, count: int, head: bytes, then: bytes, every: float, seconds: float) -> list[bytes]:
    """`count` connections, each from its own address, that send `head`, then `then` one byte every
    `every` s for up to `seconds`; what each was answered (b"" for none)."""
    sockets = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=seconds + 5, source_address=(f"127.0.1.{i + 1}", 0))
        s.sendall(head)
        sockets.append(s)
    deadline, i = time.monotonic() + seconds, 0
    while time.monotonic() < deadline and i < len(then):
        for s in sockets:
            with contextlib.suppress(OSError):  # closed by the server: what it said is read below
                s.send(then[i : i + 1])
        i += 1
        time.sleep(every)
    answers = []
    for s in sockets:
        try:
            answers.append(_read_all(s))
        except OSError:
            answers.append(b"")
        s.close()
    return answers


def test_heads_sent_a_byte_at_a_time_are_cut_off_and_healthz_stays_fast(server: tuple[int, Path]) -> None:
    port, _ = server
    health = Health(port)
    health.start()
    answers = trickle(port, 200, b"POST /v1/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", b"a" * 100, 0.2, 4)
    assert 0.05 > health.p99()
    timed_out = [a for a in answers if a.startswith(b"HTTP/1.1 408")]
    assert len(timed_out) >= 190 and b"header-timeout" in timed_out[0], answers[:3]
    assert 200 == ask(port, "POST", "/v1/chat", {"session_id": "after-heads", "message": "在吗"})[0]


def test_bodies_sent_a_byte_at_a_time_take_no_slot_from_other_buyers(server: tuple[int, Path]) -> None:
    """64 slow bodies against 16 slots: the slots are taken only once a body is whole."""
    port, _ = server
    health = Health(port)
    health.start()
    head = (f"POST /v1/chat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 300\r\n\r\n").encode()  # fmt: skip
    done: list[list[bytes]] = []
    slow = threading.Thread(target=lambda: done.append(trickle(port, 64, head, b"{" * 300, 0.1, 3)))
    slow.start()
    time.sleep(0.5)
    served = [ask(port, "POST", "/v1/chat", {"session_id": f"buyer-{i}", "message": "在吗"}, source="127.0.0.5")[0]
              for i in range(10)]  # fmt: skip
    slow.join()
    assert [200] * 10 == served
    assert 0.05 > health.p99()
    assert sum(a.startswith(b"HTTP/1.1 408") for a in done[0]) >= 60, done[0][:2]


def test_a_head_of_a_megabyte_is_refused_before_it_costs_anything(server: tuple[int, Path]) -> None:
    port, _ = server
    health = Health(port)
    health.start()
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            with contextlib.suppress(OSError):  # the server stops reading once the head passed its limit
                for _ in range(16):
                    s.sendall(b"x" * 65536)
            answer = _read_all(s)
        assert answer.startswith(b"HTTP/1.1 431") and b"headers-too-large" in answer
    assert 0.05 > health.p99()


def _flood(port: int, seconds: float, counts: Any) -> None:
    """Another process: chats as fast as it can from 127.0.0.2, counting answers by status."""
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        try:
            status = ask(port, "POST", "/v1/chat", {"session_id": f"flood-{i % 50}", "message": "在吗"},
                         source="127.0.0.2")[0]  # fmt: skip
        except OSError:
            status = 0
        with counts.get_lock():
            counts[{200: 0, 429: 1}.get(status, 2)] += 1
        i += 1


def buyer_latencies(port: int, source: str, n: int = 40) -> list[float]:
    out = []
    for i in range(n):
        status, _, took = ask(port, "POST", "/v1/chat", {"session_id": f"{source}-{i}", "message": "在吗"}, source=source)
        assert 200 == status
        out.append(took)
        time.sleep(0.06)  # a buyer well within the limit (about 15 a second)
    return out


def test_a_flooding_client_is_told_to_wait_and_another_buyer_does_not_notice(server: tuple[int, Path]) -> None:
    port, _ = server
    alone = sorted(buyer_latencies(port, "127.0.0.3"))
    counts = multiprocessing.get_context("spawn").Array("i", 3)
    floods = [multiprocessing.get_context("spawn").Process(target=_flood, args=(port, 4.0, counts)) for _ in range(2)]
    for f in floods:
        f.start()
    time.sleep(0.5)
    loaded = sorted(buyer_latencies(port, "127.0.0.4"))
    for f in floods:
        f.join(timeout=20)
    answered, limited, other = list(counts)
    assert limited > answered > 0 and other == 0, list(counts)
    p99 = lambda xs: xs[int(0.99 * (len(xs) - 1))]  # noqa: E731
    assert p99(loaded) <= 2 * p99(alone), (p99(alone), p99(loaded))


def test_a_process_holding_the_write_lock_freezes_nothing(server: tuple[int, Path]) -> None:
    """Someone runs a tool that locks the database's shared file for 5 s: chats answer 503 with
    Retry-After after a bounded wait (nothing half-written), /healthz stays fast, and once the lock
    is let go the same buyer is answered and nothing was stored twice."""
    port, shop = server
    assert 200 == ask(port, "POST", "/v1/chat", {"session_id": "locked", "message": "在吗"})[0]
    health = Health(port)
    health.start()
    with (shop / "data" / "dianxiaoer.db.shared").open("r+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        status, body, took = ask(port, "POST", "/v1/chat", {"session_id": "locked", "message": "什么时候发货"})
        time.sleep(1.5)
        fcntl.flock(held, fcntl.LOCK_UN)
    assert (503, "storage-unavailable") == (status, body["error"]["code"]) and took < 5
    assert 0.05 > health.p99()
    assert 200 == ask(port, "POST", "/v1/chat", {"session_id": "locked", "message": "什么时候发货"})[0]


def test_the_shared_file_cut_to_nothing_is_rebuilt_and_kills_no_process(server: tuple[int, Path]) -> None:
    port, shop = server
    assert 200 == ask(port, "POST", "/v1/chat", {"session_id": "cut", "message": "在吗"})[0]
    os.truncate(shop / "data" / "dianxiaoer.db.shared", 0)
    for i in range(5):
        assert 200 == ask(port, "POST", "/v1/chat", {"session_id": f"cut-{i}", "message": "在吗"})[0]
    assert 200 == ask(port, "POST", "/v1/chat", {"session_id": "cut", "message": "什么时候发货"})[0]
    assert (shop / "data" / "dianxiaoer.db.shared").stat().st_size > 0
