"""200 concurrent sessions × 20 turns through a real server: every row kept, no crossed replies,
memory flat."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from pathlib import Path

from test_serve import free_port, request, start

SESSIONS = 200
TURNS = 20


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def converse(port: int, session: str, turns: int, replies: dict[str, list[dict]], errors: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # keep-alive, like a chat backend
    try:
        for turn in range(1, turns + 1):
            body = json.dumps({"session_id": session, "message": f"第{turn}句 什么时候发货"})
            for _ in range(10):  # a 503 was not acknowledged: wait as told and send it again
                connection.request("POST", "/v1/chat", body, {"content-type": "application/json"})
                response = connection.getresponse()
                data = json.loads(response.read())
                if response.status != 503:
                    break
                time.sleep(float(response.getheader("retry-after") or 1) * random.uniform(0.2, 1.0))
            if response.status != 200:
                errors.append(f"{session}#{turn}: {response.status} {data}")
                return
            replies[session].append(data)
    finally:
        connection.close()


def run_round(port: int, prefix: str, turns: int) -> tuple[dict[str, list[dict]], list[str]]:
    replies: dict[str, list[dict]] = {f"{prefix}-{i}": [] for i in range(SESSIONS)}
    errors: list[str] = []
    threads = [threading.Thread(target=converse, args=(port, s, turns, replies, errors)) for s in replies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return replies, errors


def test_many_concurrent_sessions(shop: Path) -> None:
    # This test is about rows, sessions and memory, so every client gets in; the 503 bound itself is
    # pinned in test_hostile.py.
    config = shop / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("max_in_flight: 128", "max_in_flight: 512"))
    port = free_port()
    server = start(shop, port)
    try:
        run_round(port, "warm", 5)
        before = rss_kb(server.pid)
        replies, errors = run_round(port, "load", TURNS)
        after = rss_kb(server.pid)
        assert [] == errors
        turn_ids = [r["turn_id"] for rs in replies.values() for r in rs]
        assert len(turn_ids) == len(set(turn_ids)) == SESSIONS * TURNS
        for session, rs in replies.items():
            assert {session} == {r["session_id"] for r in rs}  # no reply delivered to another session
            status, body = request(port, "GET", f"/v1/sessions/{session}")
            assert 200 == status
            assert [f"第{t}句 什么时候发货" for t in range(1, TURNS + 1)] == [
                t["message"] for t in body["turns"]
            ]
        assert after - before < 40_000, f"resident memory grew by {after - before} KB"
    finally:
        server.terminate()
        server.wait(timeout=10)
