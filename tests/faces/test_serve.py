"""A real `bot serve` process on 127.0.0.1: acknowledged turns survive SIGKILL and a restart, and 200
concurrent sessions × 20 turns keep every row, cross no replies and keep memory flat."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(
    port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None
) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def start(shop: Path, port: int, workers: int = 1, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    serve = ["serve", "--config", str(shop / "config.yaml"), "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", *serve],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if call(port, "GET", "/healthz")[0] == 200:
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("bot serve did not start within 30 s")


def sqlite_agent(shop: Path, hire: Any) -> dict[str, str]:
    """An agent of the shop's own SQLite database, for reading what the server stored."""
    from bot.storage.sqlite import SQLiteStore

    return dict(hire(SQLiteStore(shop / "data" / "dianxiaoer.db")))


def postgres_agent(url: str, hire: Any) -> dict[str, str]:
    from bot.storage.postgres import PostgresStore

    return dict(hire(PostgresStore(url)))


def test_acknowledged_turns_survive_sigkill(shop: Path, hire: Any) -> None:
    """Traffic from 4 buyers; SIGKILL in the middle; after a restart every answered turn is there."""
    agent = sqlite_agent(shop, hire)
    port = free_port()
    server = start(shop, port)
    acknowledged: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def buyer(name: str) -> None:
        for i in range(10_000):
            if stop.is_set():
                return
            message = f"第{i}次问：什么时候发货"
            try:
                status, body = call(port, "POST", "/v1/chat", {"session_id": name, "message": message})
            except (OSError, http.client.HTTPException):
                return  # the server is gone (maybe mid-response): this turn was never acknowledged
            if status == 200:
                with lock:
                    acknowledged.append((name, body["turn_id"], message))

    threads = [threading.Thread(target=buyer, args=(f"buyer-{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    while len(acknowledged) < 40:
        time.sleep(0.01)
    server.send_signal(signal.SIGKILL)
    server.wait()
    stop.set()
    for t in threads:
        t.join()

    server = start(shop, port)
    try:
        for name in {a[0] for a in acknowledged}:
            status, body = call(port, "GET", f"/v1/sessions/{name}", headers=agent)
            assert 200 == status
            stored = {turn["message"] for turn in body["turns"]}
            mine = {message for who, _, message in acknowledged if who == name}
            assert mine <= stored
        status, body = call(port, "POST", "/v1/chat", {"session_id": "buyer-0", "message": "我要转人工"})
        assert (200, "handoff") == (status, body["action"])
    finally:
        server.terminate()
        server.wait(timeout=10)

    server = start(shop, port)  # the ticket opened before the restart is still in the queue
    try:
        status, queue = call(port, "GET", "/v1/handoffs?status=open", headers=agent)
        assert ["buyer-0"] == [t["session_id"] for t in queue["items"]]
    finally:
        server.terminate()
        server.wait(timeout=10)


def worker_of(connection: http.client.HTTPConnection) -> int:
    connection.request("GET", "/healthz")
    return int(json.loads(connection.getresponse().read())["worker"])


def worker_at(port: int) -> int:
    """The worker that answers a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        return worker_of(connection)
    finally:
        connection.close()


def alive(pid: int) -> bool:
    try:
        return "\tZ" not in Path(f"/proc/{pid}/status").read_text().split("State:")[1][:4]
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT: uvicorn's workers are used")
def test_workers_share_the_connections_and_a_dead_one_is_replaced(shop: Path) -> None:
    port = free_port()
    server = start(shop, port, workers=2)
    seen: set[int] = set()
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(16)]
    try:
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:  # both workers are up
            seen.add(worker_at(port))
        # A chat backend opens its keep-alive connections at once: both workers get some of them
        # (with one shared socket, the first worker awake accepted every waiting connection).
        for connection in connections:
            connection.connect()
        assert 2 == len({worker_of(connection) for connection in connections})

        os.kill(min(seen), signal.SIGKILL)
        deadline = time.monotonic() + 30
        replaced: set[int] = set()
        while not replaced - seen and time.monotonic() < deadline:
            try:
                replaced.add(worker_at(port))
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
        assert replaced - seen, "no new worker took the place of the killed one"
        seen |= replaced
    finally:
        for connection in connections:
            connection.close()
        server.terminate()
        server.wait(timeout=30)
    assert not [pid for pid in seen if alive(pid)]  # SIGTERM stopped every worker


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT: uvicorn's workers are used")
def test_a_stopped_worker_is_replaced_and_new_connections_stop_hanging_on_it(shop: Path) -> None:
    """SIGSTOP leaves a worker alive and its socket taking connections that would hang: its loop
    stops beating, the supervisor kills it within server.worker_hung_seconds and starts another.
    Under systemd the supervisor is the one that speaks, and it goes on pinging the watchdog: it is
    not hung, it is handling the hung worker. (This manager then stops reading: a full queue must not
    block the supervisor, which it did while the notifier's socket was blocking.)"""
    config = shop / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("  port: 8000\n", "  port: 8000\n  worker_hung_seconds: 2\n"),
                      encoding="utf-8")  # fmt: skip
    manager = ServiceManager(f"bot-test-notify-{os.getpid()}-workers") if hasattr(socket, "AF_UNIX") else None
    port = free_port()
    server = start(shop, port, workers=2, env=manager.env() if manager else None)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:
            seen.add(worker_at(port))
        if manager:
            said = manager.heard(1.0)
            assert any(s.startswith("READY=1") for s in said) and "WATCHDOG=1" in said, said
        stopped = min(seen)
        os.kill(stopped, signal.SIGSTOP)
        if manager:
            assert "WATCHDOG=1" in manager.heard(1.0)  # the supervisor still answers for the server
        deadline = time.monotonic() + 2 + 20
        while alive(stopped) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(stopped), "the stopped worker is still there"
        answered: set[int] = set()
        deadline = time.monotonic() + 30
        while len(answered) < 2 and time.monotonic() < deadline:  # a new worker took its place
            with contextlib.suppress(OSError, http.client.HTTPException):
                answered.add(worker_at(port))
        assert stopped not in answered and len(answered) == 2
        assert all(worker_at(port) in answered for _ in range(20))  # no new connection hangs
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(min(seen), signal.SIGCONT)
        server.terminate()
        server.wait(timeout=30)
        if manager:
            manager.close()


class ServiceManager:
    """Stands in for systemd's end of the notify protocol: a datagram socket the server writes to."""

    def __init__(self, name: str) -> None:
        self.address = "@" + name
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind("\0" + name)
        self._socket.settimeout(0.2)

    def env(self, watchdog_usec: int = 300_000) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.address, "WATCHDOG_USEC": str(watchdog_usec)}

    def heard(self, seconds: float) -> list[str]:
        said, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                said.append(self._socket.recv(4096).decode())
        return said

    def close(self) -> None:
        self._socket.close()


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets: no systemd either")
def test_under_systemd_one_server_says_ready_and_its_watchdog_stops_while_it_is_stopped(shop: Path) -> None:
    """systemd (Type=notify, WatchdogSec=) restarts a server that stops pinging its watchdog: with one
    worker no supervisor of ours watches the process, so a SIGSTOP or a hung loop must go silent.
    READY=1 once it serves, WATCHDOG=1 while its loop turns (none while stopped, again after SIGCONT),
    STOPPING=1 on SIGTERM."""
    manager = ServiceManager(f"bot-test-notify-{os.getpid()}")
    port = free_port()
    server = start(shop, port, env=manager.env())
    try:
        said = manager.heard(1.0)
        assert any(s.startswith("READY=1") for s in said), said
        assert sum(s == "WATCHDOG=1" for s in said) >= 3, said
        os.kill(server.pid, signal.SIGSTOP)
        manager.heard(0.3)  # what was on its way
        assert [] == manager.heard(1.0)
        os.kill(server.pid, signal.SIGCONT)
        assert "WATCHDOG=1" in manager.heard(1.0)
        assert call(port, "GET", "/healthz")[0] == 200
        server.terminate()
        assert "STOPPING=1" in manager.heard(2.0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGCONT)
        server.terminate()
        server.wait(timeout=30)
        manager.close()


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT: uvicorn's workers are used")
def test_workers_refuse_a_port_another_server_listens_on(shop: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        command = [
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--config",
            str(shop / "config.yaml"),
            "--port",
            str(port),
        ]
        done = subprocess.run([*command, "--workers", "2"], capture_output=True, text=True, timeout=60)
    assert 1 == done.returncode
    assert "端口已被占用" in done.stderr


# ---- many sessions at once ---------------------------------------------------------------------

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


def test_many_concurrent_sessions(shop: Path, hire: Any) -> None:
    # This test is about rows, sessions and memory, so every client gets in; the 503 bound itself is
    # pinned in test_hostile.py.
    config = shop / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("max_in_flight: 128", "max_in_flight: 512"))
    port = free_port()
    server = start(shop, port)
    agent = sqlite_agent(shop, hire)
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
            status, body = call(port, "GET", f"/v1/sessions/{session}", headers=agent)
            assert 200 == status
            assert [f"第{t}句 什么时候发货" for t in range(1, TURNS + 1)] == [
                t["message"] for t in body["turns"]
            ]
        assert after - before < 40_000, f"resident memory grew by {after - before} KB"
    finally:
        server.terminate()
        server.wait(timeout=10)


# ---- replicas on PostgreSQL ----------------------------------------------------------------------


@pytest.mark.parametrize("sessions", ["postgresql", "redis"])
def test_three_replicas_on_postgresql_store_every_acknowledged_turn_once(
    shop: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    sessions: str,
    hire: Any,
    request: pytest.FixtureRequest,
) -> None:
    """Three `bot serve` on one PostgreSQL; 100 sessions × 20 turns, each turn sent to a replica at
    random, turns of one session in flight at once: every acknowledged turn is stored exactly once,
    turn numbers per session run 1..20 with no gap, no reply names another session, and a handoff
    made on one replica holds the buyer on the others. Sessions in PostgreSQL alone, or in Redis
    in front of it (with a conversation lock across replicas)."""
    import queue

    url = postgres_url
    monkeypatch.setenv("BOT_STORAGE_URL", url)
    if sessions == "redis":
        monkeypatch.setenv("BOT_SESSIONS_URL", request.getfixturevalue("redis_url"))
    agent = postgres_agent(url, hire)
    ports = [free_port() for _ in range(3)]
    servers = [start(shop, port) for port in ports]
    try:
        work: queue.Queue[tuple[str, int]] = queue.Queue()
        for k in range(20):
            for s in range(100):
                work.put((f"r{s}", k))
        acknowledged: dict[str, list[str]] = {}
        crossed, refused = [], [0]
        lock = threading.Lock()
        rng = random.Random(5)

        def client() -> None:
            while True:
                try:
                    session, k = work.get_nowait()
                except queue.Empty:
                    return
                message = f"{session}第{k}问 能开发票吗"
                for _ in range(50):
                    port = rng.choice(ports)
                    status, body = request_long(port, {"session_id": session, "message": message})
                    if status == 200:
                        with lock:
                            acknowledged.setdefault(session, []).append(message)
                            if body["session_id"] != session:
                                crossed.append(body)
                        break
                    assert 503 == status, body  # busy or a conflict: nothing stored, try again
                    with lock:
                        refused[0] += 1
                    time.sleep(0.02)

        threads = [threading.Thread(target=client) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [] == crossed
        assert 100 == len(acknowledged) and all(20 == len(v) for v in acknowledged.values())
        for session, messages in acknowledged.items():
            status, stored = call(rng.choice(ports), "GET", f"/v1/sessions/{session}", headers=agent)
            assert 200 == status
            assert list(range(1, 21)) == [t["turn"] for t in stored["turns"]]
            assert sorted(messages) == sorted(t["message"] for t in stored["turns"])
        assert 200 == request_long(ports[0], {"session_id": "hold", "message": "我要转人工"})[0]
        for port in ports[1:]:
            status, body = request_long(port, {"session_id": "hold", "message": "还在吗"})
            assert (200, "human") == (status, body["action"])
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)


def request_long(port: int, body: dict) -> tuple[int, dict]:
    """POST /v1/chat, waiting as long as a slow machine needs (a client that gave up early and sent
    the turn again could store it twice; that is not what this test is about)."""
    data = json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat", data=data, method="POST",
                                 headers={"content-type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_replica_killed_mid_traffic_loses_no_acknowledged_turn_and_a_retry_stores_nothing_twice(
    shop: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str, hire: Any
) -> None:
    """SIGKILL of one of three replicas while 40 buyers talk. The clients send each message with its
    message_id and, when the reply is cut off, send it again to another replica: in the end every
    message is stored exactly once (a retry of one already stored gets the stored reply back), turn
    numbers have no gaps, and the buyers go on on the other replicas."""
    import queue

    monkeypatch.setenv("BOT_STORAGE_URL", postgres_url)
    agent = postgres_agent(postgres_url, hire)
    ports = [free_port() for _ in range(3)]
    servers = [start(shop, port) for port in ports]
    alive = set(ports)
    acknowledged: dict[str, list[str]] = {}
    cut_off, replayed = [0], [0]
    lock = threading.Lock()
    work: queue.Queue[tuple[str, int]] = queue.Queue()
    for k in range(15):
        for s in range(40):
            work.put((f"k{s}", k))
    sent = [0]
    rng = random.Random(9)

    def client() -> None:
        while True:
            try:
                session, k = work.get_nowait()
            except queue.Empty:
                return
            message = f"{session}第{k}问 什么时候发货"
            while True:
                with lock:
                    sent[0] += 1
                    if sent[0] == 150:
                        servers[0].kill()  # SIGKILL: no shutdown, requests in flight cut off
                        alive.discard(ports[0])
                    port = rng.choice(sorted(alive))
                try:
                    status, body = request_long(
                        port, {"session_id": session, "message": message, "message_id": f"{session}-{k}"}
                    )
                except (OSError, http.client.HTTPException):
                    with lock:
                        cut_off[0] += 1  # no reply: stored or not, the client sends it again
                    continue
                if status == 200:
                    with lock:
                        acknowledged.setdefault(session, []).append(message)
                        replayed[0] += bool(body.get("replayed"))
                    break
                time.sleep(0.02)  # 503: nothing stored, try again

    threads = [threading.Thread(target=client) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert 600 == sum(len(m) for m in acknowledged.values())
        for session, messages in acknowledged.items():
            status, stored = call(ports[1], "GET", f"/v1/sessions/{session}", headers=agent)
            assert 200 == status
            kept = [t["message"] for t in stored["turns"]]
            assert list(range(1, len(kept) + 1)) == [t["turn"] for t in stored["turns"]]
            assert sorted(messages) == sorted(kept)  # each message once: none lost, none twice
        assert replayed[0] <= cut_off[0]
        print(
            f"killed one replica: {cut_off[0]} replies cut off and sent again, {replayed[0]} of them replayed"
        )
    finally:
        for server in servers[1:]:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)


@pytest.mark.parametrize("fault", ["PostgreSQL", "Redis"])
def test_replicas_ride_out_a_restarted_backend_and_store_every_message_once(
    fault: str, shop: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str, redis_url: str, hire: Any
) -> None:
    """Three replicas on PostgreSQL + Redis, 30 buyers talking; mid-traffic the server is restarted
    for real, down for 2 s (every connection dropped; Redis comes back empty). Replicas answer 503
    meanwhile, never 500; the clients send again with the same message_id; in the end every message
    is stored exactly once and turn numbers have no gaps."""
    import queue
    from urllib.parse import urlsplit

    port = urlsplit(postgres_url if fault == "PostgreSQL" else redis_url).port
    restart = Path(f"/tmp/bot-{'pg' if fault == 'PostgreSQL' else 'redis'}-{port}.restart")
    if not restart.exists():
        pytest.skip(f"{fault} RESTART NOT TESTED: the server was not started by .ci/{'postgres' if fault == 'PostgreSQL' else 'redis'}"
                    f" (it writes {restart}, which restarts it)")  # fmt: skip
    monkeypatch.setenv("BOT_STORAGE_URL", postgres_url)
    monkeypatch.setenv("BOT_SESSIONS_URL", redis_url)
    agent = postgres_agent(postgres_url, hire)
    ports = [free_port() for _ in range(3)]
    servers = [start(shop, port) for port in ports]
    acknowledged: dict[str, list[str]] = {}
    statuses: dict[int, int] = {}
    replayed = [0]
    lock = threading.Lock()
    work: queue.Queue[tuple[str, int]] = queue.Queue()
    for k in range(10):
        for s in range(30):
            work.put((f"f{s}", k))
    sent = [0]
    rng = random.Random(3)

    def outage() -> None:
        subprocess.run([str(restart), "2"], check=True)  # stop, 2 s down, start

    def client() -> None:
        while True:
            try:
                session, k = work.get_nowait()
            except queue.Empty:
                return
            message = f"{session}第{k}问 能开发票吗"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with lock:
                    sent[0] += 1
                    if sent[0] == 100:
                        threading.Thread(target=outage).start()
                port = rng.choice(ports)
                body_in = {"session_id": session, "message": message, "message_id": f"{session}-{k}"}
                try:
                    status, body = request_long(port, body_in)
                except (OSError, http.client.HTTPException):
                    status = 0  # no reply at all: send it again
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    with lock:
                        acknowledged.setdefault(session, []).append(message)
                        replayed[0] += bool(body.get("replayed"))
                    break
                time.sleep(0.1)

    threads = [threading.Thread(target=client) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert set(statuses) <= {200, 503}, statuses  # never a 500, never a cut connection
        assert statuses.get(503, 0) > 0  # the outage was felt
        assert 300 == sum(len(m) for m in acknowledged.values())
        for session, messages in acknowledged.items():
            status, stored = call(ports[1], "GET", f"/v1/sessions/{session}", headers=agent)
            assert 200 == status
            kept = [t["message"] for t in stored["turns"]]
            assert list(range(1, len(kept) + 1)) == [t["turn"] for t in stored["turns"]]
            assert sorted(messages) == sorted(kept)  # each message once: none lost, none twice
        print(
            f"{fault} restarted, 2 s down: {statuses.get(503, 0)} answers 503, {replayed[0]} replays of stored turns"
        )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)


def test_a_server_on_loopback_answers_only_this_machines_names_so_dns_rebinding_gets_nowhere(shop: Path) -> None:
    """A page on another site whose name resolves to 127.0.0.1 still sends its own name as Host."""
    port = free_port()
    process = start(shop, port)
    try:
        chat = {"session_id": "rebind", "message": "在吗"}
        status, body = call(port, "POST", "/v1/chat", chat, {"Host": f"attacker.example:{port}"})
        assert (400, "bad-host") == (status, body["error"]["code"])
        assert "server.allowed_hosts" in body["error"]["message_zh"]
        assert 200 == call(port, "POST", "/v1/chat", chat, {"Host": f"localhost:{port}"})[0]
        assert 200 == call(port, "GET", "/healthz")[0]  # 127.0.0.1:port, as urllib sends it
    finally:
        process.terminate()
        process.wait(timeout=10)
