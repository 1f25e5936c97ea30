"""The buyer's chat window (/demo, /widget.js), the agent's console (/console) and the dashboard in a real browser:
Debian's Chromium driven by Playwright, against a real `bot serve` process on 127.0.0.1.

Setup (nothing is downloaded when the tests run): `apt-get install -y chromium` (the binary is
/usr/bin/chromium) and `pip install playwright` into the venv; never `playwright install`. Without
either, every test here is skipped with a message that starts BROWSER NOT TESTED.

A screenshot of each page goes to the folder $BOT_SCREENSHOTS (default: the test's tmp_path); a
JavaScript error on any page fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("BOT_TEST_CHROMIUM") or "/usr/bin/chromium")  # .ci/chromium installs it
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 10_000  # for anything the page shows after a request or an event


@dataclass(frozen=True)
class Server:
    base: str
    config: Path
    tokens: dict[str, str]  # agent name → bearer token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            return response.status, json.loads(
                raw
            ) if response.headers.get_content_type() == "application/json" else raw
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def bot_env() -> dict[str, str]:
    """This environment, less what would point `bot` at another shop or another database."""
    env = {
        k: v for k, v in os.environ.items() if k not in {"BOT_STORAGE_URL", "BOT_SESSIONS_URL", "BOT_CONFIG"}
    }
    return env | {"PYTHONUNBUFFERED": "1"}


def made(config: Path, *command: str) -> str:
    """The secret `bot agents add …` or `bot keys add …` prints on stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", *command, "--config", str(config)],
        capture_output=True, text=True, env=bot_env(), timeout=60, check=False,
    )  # fmt: skip
    assert 0 == done.returncode, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def playwright_module() -> Any:
    if not CHROMIUM.exists():
        pytest.skip(
            f"BROWSER NOT TESTED: {CHROMIUM} is missing; install Debian's package with "
            "`apt-get update && apt-get install -y chromium` (or run `bash .ci/chromium`)"
        )
    try:
        from playwright import sync_api
    except ImportError:
        pytest.skip(
            "BROWSER NOT TESTED: the playwright module is missing; `pip install playwright` into the venv "
            "(do not run `playwright install`: the tests use /usr/bin/chromium)"
        )
    return sync_api


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, repo: Path, playwright_module: Any) -> Iterator[Server]:
    """`bot serve` on a copy of the shipped shop, with two agents, 小美 and 阿强."""
    shop = tmp_path_factory.mktemp("shop")
    shutil.copy(repo / "config.yaml", shop / "config.yaml")
    for folder in ("intents", "responses", "concepts"):
        shutil.copytree(repo / folder, shop / folder)
    config = shop / "config.yaml"
    tokens = {name: made(config, "agents", "add", name) for name in ("小美", "阿强")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (shop / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=bot_env(), cwd=shop,
    )  # fmt: skip
    try:
        _wait_healthy(base, process, shop / "serve.log")
        status, _ = call(base, "GET", "/console")
        if status == 404:
            pytest.fail(
                "GET /console answered 404: the pages are not mounted. create_app in "
                "bot/faces/http/app.py must call bot.faces.http.pages.mount(app)"
            )
        yield Server(base=base, config=config, tokens=tokens)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"bot serve exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if call(base, "GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"bot serve did not answer /healthz within 60 s:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def browser(playwright_module: Any) -> Iterator[Any]:
    with playwright_module.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("BOT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Watched:
    """A page whose JavaScript errors are collected (uncaught exceptions and console.error)."""

    def __init__(self, context: Any, name: str, allowed: tuple[str, ...] = ()) -> None:
        self.page = context.new_page()
        self.name, self.allowed = name, allowed
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"{name}: uncaught {exc}"))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error" and not any(a in message.text for a in self.allowed):
            self.errors.append(f"{self.name}: console.error {message.text}")

    def mark(self) -> None:
        """Marks the loaded document; `still_marked` then proves it was never reloaded."""
        self.page.evaluate("window.__notReloaded = true")

    def still_marked(self) -> bool:
        return bool(self.page.evaluate("window.__notReloaded === true"))


def no_errors(*pages: Watched) -> None:
    found = [e for p in pages for e in p.errors]
    assert [] == found


def ask(buyer: Any, expect: Any, text: str, answer_has: str) -> None:
    """The buyer types `text`, presses Enter and sees a new bot answer containing `answer_has`."""
    answers = buyer.locator(".dxe-bot .dxe-bubble")
    before = answers.count()
    box = buyer.locator(".dxe-input")
    box.fill(text)
    box.press("Enter")
    expect(buyer.locator(".dxe-buyer .dxe-bubble").last).to_have_text(text, timeout=WAIT_MS)
    expect(answers).to_have_count(before + 1, timeout=WAIT_MS)
    expect(answers.last).to_contain_text(answer_has)


def test_buyer_and_agent_talk_through_the_pages(
    server: Server, browser: Any, playwright_module: Any, shots: Path
) -> None:
    """Buyer asks twice, asks for a person; the agent sees the ticket arrive, claims, replies (a 快捷短语
    and a typed line), closes; the buyer saw it all live and is answered by the bot again."""
    expect = playwright_module.expect
    buyer_context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    agent_context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    buyer = Watched(buyer_context, "买家 /demo")
    agent = Watched(agent_context, "客服 /console")
    try:
        # The agent logs in first and watches the empty queue.
        agent.page.goto(server.base + "/console")
        agent.page.locator("#token").fill(server.tokens["小美"])
        agent.page.get_by_role("button", name="登录").click()
        expect(agent.page.locator("#connection")).to_have_text("实时更新中", timeout=WAIT_MS)
        expect(agent.page.locator("#open-empty")).to_be_visible()
        agent.mark()

        # The buyer opens the window on the product page and asks two questions.
        buyer.page.goto(server.base + "/demo")
        expect(buyer.page.locator("h1")).to_contain_text("T恤")
        buyer.page.get_by_role("button", name="联系客服").click()
        expect(buyer.page.locator(".dxe-panel")).to_be_visible()
        expect(buyer.page.locator(".dxe-bot .dxe-bubble").first).to_contain_text("有什么可以帮您")
        buyer.mark()
        ask(buyer.page, expect, "什么时候发货", "48小时")
        ask(buyer.page, expect, "能开发票吗", "发票")

        # 转人工: the buyer is handed off, and the ticket shows up in the console by itself.
        buyer.page.get_by_role("button", name="转人工").click()
        expect(buyer.page.locator(".dxe-notice").last).to_contain_text("已为您转接人工客服", timeout=WAIT_MS)
        expect(buyer.page.locator(".dxe-human")).to_be_hidden()
        queued = agent.page.locator("#open-list .ticket-item")
        expect(queued).to_have_count(1, timeout=WAIT_MS)
        expect(queued.first).to_contain_text("买家要求转人工")
        expect(queued.first.locator(".wait")).to_contain_text("已等")

        # The agent opens it; what the buyer writes while waiting shows up there by itself.
        queued.first.locator(".ticket-button").click()
        expect(agent.page.locator("#t-status")).to_have_text("待接入", timeout=WAIT_MS)
        ask(buyer.page, expect, "麻烦快一点，我等着用", "")
        expect(agent.page.locator("#t-left")).to_contain_text("麻烦快一点，我等着用", timeout=WAIT_MS)
        expect(agent.page.locator("#transcript .tag.waiting")).to_have_count(1)
        buyer.page.screenshot(path=str(shots / "demo.png"))

        # The agent claims it and reads the transcript with what the bot understood.
        agent.page.locator("#claim").click()
        expect(agent.page.locator("#t-status")).to_have_text("处理中", timeout=WAIT_MS)
        expect(agent.page.locator("#t-agent")).to_have_text("小美")
        expect(agent.page.locator("#claimed-list .ticket-item")).to_have_count(1, timeout=WAIT_MS)
        expect(agent.page.locator("#open-list .ticket-item")).to_have_count(0)
        transcript = agent.page.locator("#transcript")
        expect(transcript).to_contain_text("什么时候发货")
        expect(transcript).to_contain_text("能开发票吗")
        expect(transcript.locator(".meta").first).to_contain_text("意图")
        expect(transcript.locator(".meta").first).to_contain_text("shipping_time")
        expect(transcript.locator(".meta").first).to_contain_text("把握")
        expect(buyer.page.locator(".dxe-notice").last).to_contain_text(
            "人工客服 小美 已接入", timeout=WAIT_MS
        )

        # Transfer offers the other agents by name (not the one transferring).
        agent.page.locator("#show-transfer").click()
        expect(agent.page.locator("#agent-names option")).to_have_count(1, timeout=WAIT_MS)
        assert "阿强" == agent.page.locator("#agent-names option").first.get_attribute("value")
        agent.page.locator("#transfer-form .cancel").click()
        expect(agent.page.locator("#transfer-form")).to_be_hidden()

        # A 快捷短语, sent with Enter; then a line of the agent's own.
        canned = agent.page.locator("#canned button").first
        expect(canned).to_be_enabled()
        greeting = canned.inner_text()
        canned.click()
        expect(agent.page.locator("#reply")).to_have_value(greeting)
        agent.page.locator("#reply").press("Enter")
        own = "亲，您的订单明天上午从杭州仓发出，请留意物流信息~"
        expect(agent.page.locator("#reply")).to_have_value("", timeout=WAIT_MS)
        agent.page.locator("#reply").fill(own)
        agent.page.get_by_role("button", name="发送").click()
        expect(transcript.locator(".msg.agent")).to_have_count(2, timeout=WAIT_MS)

        # The buyer sees both, labelled as the person who wrote them, without reloading.
        replies = buyer.page.locator(".dxe-agent")
        expect(replies).to_have_count(2, timeout=WAIT_MS)
        expect(replies.nth(0).locator(".dxe-bubble")).to_have_text(greeting)
        expect(replies.nth(1).locator(".dxe-bubble")).to_have_text(own)
        expect(replies.nth(1).locator(".dxe-label")).to_have_text("人工客服 小美")
        agent.page.screenshot(path=str(shots / "console.png"), full_page=True)

        # The agent closes with a note; the buyer is told and the bot answers again.
        agent.page.get_by_role("button", name="结束服务").click()
        agent.page.locator("#close-note").fill("已告知发货时间")
        agent.page.get_by_role("button", name="确定结束").click()
        expect(agent.page.locator("#t-status")).to_have_text("已结束", timeout=WAIT_MS)
        expect(agent.page.locator("#claimed-list .ticket-item")).to_have_count(0, timeout=WAIT_MS)
        expect(buyer.page.locator(".dxe-notice").last).to_contain_text("小二继续为您服务", timeout=WAIT_MS)
        expect(buyer.page.locator(".dxe-human")).to_be_visible()
        ask(buyer.page, expect, "什么时候发货", "48小时")
        buyer.page.screenshot(path=str(shots / "demo-after.png"))
        agent.page.screenshot(path=str(shots / "console-closed.png"), full_page=True)

        assert buyer.still_marked() and agent.still_marked(), "a page was reloaded"

        # The day's figures: the dashboard, logged in with its form, shows what the API counts.
        status, stats = call(server.base, "GET", "/v1/stats", token=server.tokens["小美"])
        assert 200 == status and stats["conversations"] >= 1 and stats["handed_off"] >= 1
        board = Watched(agent_context, "客服 /dashboard", allowed=("status of 401",))
        board.page.goto(server.base + "/dashboard")
        board.page.locator("input[name=token]").fill(server.tokens["小美"])
        board.page.get_by_role("button", name="登录").click()
        cards = board.page.locator(".card")
        expect(cards.nth(0)).to_contain_text(f"接待量{stats['conversations']}")
        expect(cards.nth(1)).to_contain_text(f"{stats['bot_resolved_rate'] * 100:.1f}%")
        expect(cards.nth(2)).to_contain_text(f"{stats['handoff_rate'] * 100:.1f}%")
        expect(board.page.locator("svg")).to_have_count(5)
        expect(board.page.get_by_text("买家要求转人工").first).to_be_visible()
        board.page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
        no_errors(buyer, agent, board)
    finally:
        buyer_context.close()
        agent_context.close()


def test_a_ticket_taken_by_someone_else_says_so(
    server: Server, browser: Any, playwright_module: Any, shots: Path
) -> None:
    """The console shows the API's message_zh when another agent claimed the ticket first (409)."""
    expect = playwright_module.expect
    order = {"session_id": "browser-409", "message": "帮我查一下订单 2026120112345678"}
    status, reply = call(server.base, "POST", "/v1/chat", order)
    assert (200, "handoff") == (status, reply["action"])
    ticket = reply["handoff"]["ticket_id"]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    # This console hears no events (a feed that ends at once and asks to be retried in 10 minutes),
    # so it cannot learn of 阿强's claim before its own click, which then gets the 409.
    context.route("**/v1/events*", lambda route: route.fulfill(
        status=200, headers={"Content-Type": "text/event-stream"}, body="retry: 600000\n\n"))  # fmt: skip
    # The browser itself logs the refused request (409) on the console: that one is expected.
    agent = Watched(context, "客服 /console", allowed=("status of 409",))
    try:
        agent.page.goto(server.base + "/console")
        agent.page.locator("#token").fill(server.tokens["小美"])
        agent.page.locator("#token").press("Enter")
        item = agent.page.locator(f'#open-list .ticket-item[data-ticket="{ticket}"]')
        expect(item).to_have_count(1, timeout=WAIT_MS)
        item.locator(".ticket-button").click()
        expect(agent.page.locator("#claim")).to_be_visible(timeout=WAIT_MS)
        expect(agent.page.locator("#t-order")).to_have_text("2026120112345678")

        assert (
            200 == call(server.base, "POST", f"/v1/handoffs/{ticket}/claim", token=server.tokens["阿强"])[0]
        )
        status, conflict = call(
            server.base, "POST", f"/v1/handoffs/{ticket}/claim", token=server.tokens["小美"]
        )
        assert 409 == status
        agent.page.locator("#claim").click()
        expect(agent.page.locator("#toast")).to_have_text(conflict["error"]["message_zh"], timeout=WAIT_MS)
        expect(agent.page.locator("#t-agent")).to_have_text("阿强", timeout=WAIT_MS)
        expect(agent.page.locator("#claimed-list .ticket-item")).to_contain_text("阿强")
        agent.page.screenshot(path=str(shots / "console-409.png"), full_page=True)
        no_errors(agent)
    finally:
        context.close()


def test_the_window_fills_a_phone_screen(
    server: Server, browser: Any, playwright_module: Any, shots: Path
) -> None:
    expect = playwright_module.expect
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    buyer = Watched(context, "买家 /demo（手机）")
    try:
        buyer.page.goto(server.base + "/demo")
        buyer.page.get_by_role("button", name="联系客服").tap()
        panel = buyer.page.locator(".dxe-panel")
        expect(panel).to_be_visible()
        box = panel.bounding_box()
        assert (0, 0, 390, 844) == (
            round(box["x"]),
            round(box["y"]),
            round(box["width"]),
            round(box["height"]),
        )
        ask(buyer.page, expect, "能开发票吗", "发票")

        # A clarifying question: its options are buttons, and a tap sends the option's number.
        ask(buyer.page, expect, "坏了能退吗", "回复 1 或 2")
        options = buyer.page.locator(".dxe-option")
        expect(options).to_have_count(2)
        options.nth(1).tap()
        expect(buyer.page.locator(".dxe-buyer .dxe-bubble").last).to_have_text("2", timeout=WAIT_MS)
        expect(buyer.page.locator(".dxe-bot .dxe-bubble").last).to_contain_text("照片", timeout=WAIT_MS)
        expect(options.first).to_be_disabled()
        buyer.page.screenshot(path=str(shots / "demo-phone.png"))
        buyer.page.get_by_role("button", name="关闭").tap()
        expect(panel).to_be_hidden()

        # The same browser comes back: the conversation is restored from the server.
        buyer.page.reload()
        buyer.page.get_by_role("button", name="联系客服").tap()
        said = buyer.page.locator(".dxe-buyer .dxe-bubble")
        expect(said).to_have_text(["能开发票吗", "坏了能退吗", "2"], timeout=WAIT_MS)
        expect(buyer.page.locator(".dxe-bot .dxe-bubble").last).to_contain_text("照片")
        no_errors(buyer)
    finally:
        context.close()


def test_a_shop_with_a_widget_key(server: Server, browser: Any, playwright_module: Any, shots: Path) -> None:
    """The widget sends its data-key and, from the first reply on, the conversation's token; a wrong
    key is said in Chinese. Last in this file: once the shop has a key, the keyless demo page is refused."""
    expect = playwright_module.expect
    key = made(server.config, "keys", "add", "网页", "--widget")

    def shop_page(route: Any, given: str) -> None:
        tag = f'<script src="/widget.js" data-key="{given}" data-color="#1677ff"></script>'
        html = f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>店铺</title></head><body><h1>店铺首页</h1>{tag}</body></html>'
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    context.route(server.base + "/keyed", lambda route: shop_page(route, key))
    other = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    other.route(server.base + "/wrong", lambda route: shop_page(route, "dxe_widget_not-a-key"))
    buyer = Watched(context, "买家（有密钥）")
    # The browser itself logs the refused request (401) on the console: that one is expected.
    stranger = Watched(other, "买家（密钥不对）", allowed=("status of 401",))
    try:
        buyer.page.goto(server.base + "/keyed")
        buyer.page.get_by_role("button", name="联系客服").click()
        ask(buyer.page, expect, "能开发票吗", "发票")
        buyer.page.reload()  # the token kept in localStorage continues the same conversation
        buyer.page.get_by_role("button", name="联系客服").click()
        expect(buyer.page.locator(".dxe-buyer .dxe-bubble")).to_have_text(["能开发票吗"], timeout=WAIT_MS)
        ask(buyer.page, expect, "什么时候发货", "48小时")

        stranger.page.goto(server.base + "/wrong")
        stranger.page.get_by_role("button", name="联系客服").click()
        box = stranger.page.locator(".dxe-input")
        box.fill("能开发票吗")
        box.press("Enter")
        expect(stranger.page.locator(".dxe-error")).to_contain_text("密钥不对或已作废", timeout=WAIT_MS)
        stranger.page.screenshot(path=str(shots / "widget-bad-key.png"))
        no_errors(buyer, stranger)
    finally:
        context.close()
        other.close()
