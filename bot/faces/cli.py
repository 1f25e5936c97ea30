"""The `bot` command: ask, chat, eval. Thin: parse, call the library, render, return an exit code."""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.problems import LoadError, errors
from bot.report.evaluation import after_table, eval_table
from bot.report.problems import problems_github, problems_json, problems_text
from bot.report.reply import explain, reply_dict, reply_json
from bot.runners.evaluate import DataError, evaluate, read_labelled
from bot.service import Bot

F = TypeVar("F", bound=Callable[..., Any])


def _default_config() -> str:
    return os.environ.get("BOT_CONFIG", "config.yaml")


def friendly(func: F) -> F:
    """Shop problems print and exit 1; anything unexpected prints one line naming a log file, exit 3."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LoadError as exc:
            click.echo(exc.render(), err=True)
            sys.exit(1)
        except DataError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        except (
            click.exceptions.Exit,
            click.exceptions.Abort,
            click.ClickException,
            SystemExit,
            KeyboardInterrupt,
        ):
            raise
        except Exception:
            fd, log = tempfile.mkstemp(prefix="bot-error-", suffix=".log")
            with os.fdopen(fd, "w") as handle:
                handle.write(traceback.format_exc())
            click.echo(f"出了意外的错误，详情已写入 {log} (unexpected error; traceback in {log})", err=True)
            sys.exit(3)

    return wrapper  # type: ignore[return-value]


def _load(config: str) -> Bot:
    path = Path(config)
    if not path.is_file():
        raise click.ClickException(
            f"找不到配置文件 {config}：请在店铺目录（有 config.yaml 的目录）里运行，或用 --config 指定。"
            f" (config file {config} not found: run in the shop folder or pass --config)"
        )
    return Bot.from_config(path)


def _since(since: str | None, option: str = "--since") -> float:
    """`--since YYYY-MM-DD` (UTC) as a Unix time; 0 without one."""
    import datetime

    if not since:
        return 0.0
    try:
        return datetime.datetime.fromisoformat(since).replace(tzinfo=datetime.UTC).timestamp()
    except ValueError:
        raise click.ClickException(
            f"{option} 要写成 YYYY-MM-DD（write {option} as YYYY-MM-DD）：{since}"
        ) from None


def _storage(config: str) -> Any:
    """The storage the shop at `config` names (storage.url, or $BOT_STORAGE_URL)."""
    from bot.service import storage_of

    return storage_of(_load(config).shop.settings)


config_option = click.option(
    "--config",
    "-c",
    default=_default_config,
    show_default="config.yaml or $BOT_CONFIG",
    help="The shop's config.yaml (intents/ and responses/ are found from it).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dianxiaoer")
def main() -> None:
    """店小二: a rule-based auto-responder for Chinese online shops."""


@main.command()
@click.argument("text")
@click.option("--explain", "show_why", is_flag=True, help="Show tokens, candidates and evidence.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole reply as JSON.")
@config_option
@friendly
def ask(text: str, show_why: bool, as_json: bool, config: str) -> None:
    """Answer one buyer message."""
    bot = _load(config)
    reply = bot.reply("cli", text)
    if as_json:
        click.echo(reply_json(reply))
        return
    click.echo(reply.text)
    if show_why:
        click.echo(explain(reply, bot.title))


@main.command()
@click.option("--explain", "show_why", is_flag=True, help="After each reply, show why.")
@config_option
@friendly
def chat(show_why: bool, config: str) -> None:
    """Chat with the shop as a buyer would (Ctrl-D or 退出 to leave)."""
    bot = _load(config)
    shop = bot.shop.settings.shop.get("name", "店小二")
    click.echo(f"【{shop}】店小二在线，输入消息开始对话；输入 退出 或按 Ctrl-D 结束。")
    session = "chat"
    while True:
        try:
            text = input("买家> ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if text.strip() in ("退出", "exit", "quit"):
            return
        reply = bot.reply(session, text)
        click.echo(f"小二> {reply.text}")
        if show_why:
            click.echo(explain(reply, bot.title))


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: server.host in config.yaml).")
@click.option("--port", type=int, default=None, help="Port (default: server.port in config.yaml).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option("--watch", is_flag=True, help="Reload when intents/, responses/ or config.yaml change.")
@click.option(
    "--loop",
    type=click.Choice(["asyncio", "uvloop"]),
    default="asyncio",
    show_default=True,
    help="Event loop. uvloop lets some connections wait for seconds when the server is saturated"
    " (see benchmarks/RESULTS.md); asyncio serves them in turn.",
)
@config_option
@friendly
def serve(host: str | None, port: int | None, workers: int, watch: bool, loop: str, config: str) -> None:
    """Serve the HTTP API (POST /v1/chat, handoff queue, /metrics; OpenAPI page at /docs)."""
    from bot.faces import serve as processes
    from bot.service import Blocking, storage_of, storage_url
    from bot.storage.urls import shown

    settings = _load(config).shop.settings  # fail here, readably, before any worker starts
    server = settings.server
    url = storage_url(settings)
    try:
        keyed = Blocking.run(_check(storage_of(settings)))
    except Exception as exc:  # a bad URL, a file we cannot write, a database down or behind the code
        click.echo(f"存储打不开（the storage cannot be opened）：{exc}", err=True)
        raise SystemExit(1) from None
    host, port = host or server.host, port or server.port
    if not keyed and host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"还没有店铺密钥，谁都能调用聊天接口，所以只在本机 127.0.0.1 上服务，不用 {host}。"
            "先运行 bot keys add 名字 生成密钥，再对外服务。\n"
            f"No shop key yet, so anyone could chat: serving on 127.0.0.1 only, not {host}. "
            "Run bot keys add NAME first to serve beyond this machine.",
            err=True,
        )
        host = "127.0.0.1"
    click.echo(f"店小二 API: http://{host}:{port}/docs  (storage {shown(url)})")
    try:
        processes.serve(Path(config).resolve(), watch, host, port, workers, loop)
    except processes.PortInUse as exc:
        click.echo(
            f"端口已被占用，换一个端口（--port）或先停掉占用它的程序。\nThe port is in use: {exc}", err=True
        )
        sys.exit(1)


@main.group()
def db() -> None:
    """The database behind storage.url: its schema."""


@db.command()
@config_option
@friendly
def upgrade(config: str) -> None:
    """Apply the schema migrations the database has not had (PostgreSQL; SQLite upgrades itself)."""
    from bot.service import Blocking, storage_url
    from bot.storage import StorageError

    url = storage_url(_load(config).shop.settings)
    if not url.startswith(("postgresql:", "postgres:")):
        click.echo(
            f"{url}：SQLite 和内存存储打开时自动升级，无需操作 (upgrades itself when opened; nothing to do)"
        )
        return
    from bot.storage import postgres

    try:
        applied = Blocking.run(postgres.upgrade(url))
    except (StorageError, OSError) as exc:
        raise click.ClickException(f"升级失败（upgrade failed）：{exc}") from None
    except Exception as exc:  # psycopg's errors: the server is down, the password is wrong, …
        raise click.ClickException(f"连不上数据库或升级失败（cannot connect or upgrade）：{exc}") from None
    done = "、".join(applied) if applied else "没有要做的（already up to date）"
    click.echo(f"数据库已是第 {postgres.LATEST} 版 (schema at version {postgres.LATEST})：{done}")


async def _check(storage: Any) -> bool:
    """The storage can be written (and whether any shop has a key); its connections are let go of
    again (the workers open their own)."""
    try:
        await storage.ping()
        return bool(await storage.keys())
    finally:
        await storage.disconnect()


@db.command(name="export")
@click.option("--shop", "shop_id", default="default", show_default=True, help="Whose history.")
@click.option("--since", default=None, help="Only from this day on (YYYY-MM-DD, UTC).")
@click.option(
    "-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="File (default: stdout)."
)
@config_option
@friendly
def export_history(shop_id: str, since: str | None, output: Any, config: str) -> None:
    """Write a shop's sessions, turns and tickets as JSON lines (for bot db import elsewhere)."""
    from bot.runners import archive
    from bot.service import Blocking

    start = _since(since)
    storage = _storage(config)
    history = Blocking.run(storage.history(shop_id, start))
    for line in archive.lines(history, shop_id, start):
        output.write(line + "\n")
    click.echo(f"导出 {len(history.turns)} 条对话、{len(history.tickets)} 个工单、{len(history.sessions)} 个会话"
               f" (exported {len(history.turns)} turns, {len(history.tickets)} tickets, {len(history.sessions)} sessions)",
               err=True)  # fmt: skip


@db.command(name="import")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@config_option
@friendly
def import_history(source: Any, config: str) -> None:
    """Add an exported history to this storage; what it has already is skipped (safe to run twice)."""
    from bot.runners import archive
    from bot.service import Blocking

    try:
        history = archive.read(source)
    except archive.BadHistory as exc:
        raise click.ClickException(str(exc)) from None
    done = Blocking.run(_storage(config).restore(history))
    click.echo(f"导入 {done.turns} 条对话、{done.tickets} 个工单、{done.sessions} 个会话，跳过已有的 {done.skipped} 条"
               f" (imported {done.turns} turns, {done.tickets} tickets, {done.sessions} sessions; {done.skipped} already there)")  # fmt: skip


@db.command(name="purge")
@click.option("--before", required=True, help="Erase what is older than this day (YYYY-MM-DD, UTC).")
@click.option("--shop", "shop_id", default=None, help="Only this shop's (default: every shop's).")
@config_option
@friendly
def purge(before: str, shop_id: str | None, config: str) -> None:
    """Erase conversations not spoken in since a day: sessions, turns, tickets and events (what
    privacy.retention_days does daily in bot serve)."""
    from bot.service import Blocking

    done = Blocking.run(_storage(config).purge(_since(before, "--before"), shop_id))
    click.echo(f"删除了 {done.sessions} 个会话、{done.turns} 条对话、{done.tickets} 个工单、{done.events} 条事件"
               f" (erased {done.sessions} sessions, {done.turns} turns, {done.tickets} tickets, {done.events} events)")  # fmt: skip


@main.group()
def agents() -> None:
    """Who may answer handed-off buyers (and, as admins, reload shops): tokens for the HTTP API."""


@agents.command(name="add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Also allowed to reload shops and manage agents.")
@config_option
@friendly
def add_agent(name: str, admin: bool, config: str) -> None:
    """Create an agent and print its token, once: only its hash is stored."""
    import time

    from bot.credentials import new_token, token_hash
    from bot.model import Agent
    from bot.service import Blocking
    from bot.storage import AgentExists

    if not name.strip() or len(name) > 64:
        raise click.ClickException("名字不能为空，最多 64 个字（the name must be 1-64 characters）")
    token = new_token()
    storage = _storage(config)
    try:
        Blocking.run(
            storage.add_agent(Agent(name=name, admin=admin, created_at=time.time()), token_hash(token))
        )
    except AgentExists:
        raise click.ClickException(
            f"已经有叫 {name} 的客服了：先 bot agents revoke {name}，或换个名字（an agent named {name} exists）"
        ) from None
    role = "管理员 admin" if admin else "客服 agent"
    click.echo(f"{role} {name} 的令牌（只显示这一次，请妥善保存 / shown once, keep it safe）：", err=True)
    click.echo(token)


@agents.command(name="list")
@config_option
@friendly
def list_agents(config: str) -> None:
    """The agents whose tokens work."""
    from bot.service import Blocking

    for agent in Blocking.run(_storage(config).agents()):
        click.echo(f"{agent.name}\t{'admin' if agent.admin else 'agent'}")


@agents.command(name="revoke")
@click.argument("name")
@config_option
@friendly
def revoke_agent(name: str, config: str) -> None:
    """Revoke an agent's token: it stops working at once, on every replica."""
    import time

    from bot.service import Blocking

    if not Blocking.run(_storage(config).revoke_agent(name, time.time())):
        raise click.ClickException(f"没有叫 {name} 的客服（no agent named {name}）")
    click.echo(f"{name} 的令牌已作废 (token of {name} revoked)")


@main.group()
def keys() -> None:
    """Who may chat for a shop: its own server's key, or a public key for a web page's widget."""


@keys.command(name="add")
@click.argument("name")
@click.option("--shop", "shop_id", default="default", show_default=True, help="The shop the key chats for.")
@click.option(
    "--widget", is_flag=True, help="A public key for a web page: only the buyer's own conversation."
)
@config_option
@friendly
def add_key(name: str, shop_id: str, widget: bool, config: str) -> None:
    """Create a key and print it, once: only its hash is stored."""
    import time

    from bot.credentials import KEY_PREFIX, new_token, token_hash
    from bot.model import ApiKey, KeyKind
    from bot.service import Blocking
    from bot.storage import KeyExists

    kind = KeyKind.WIDGET if widget else KeyKind.SERVER
    token = new_token(KEY_PREFIX[kind])
    storage = _storage(config)
    try:
        Blocking.run(
            storage.add_key(
                ApiKey(shop=shop_id, name=name, kind=kind, created_at=time.time()), token_hash(token)
            )
        )
    except KeyExists:
        raise click.ClickException(
            f"店铺 {shop_id} 已经有叫 {name} 的密钥了（the shop has a key named {name}）"
        ) from None
    what = "网页聊天窗口的公开密钥 widget key" if widget else "店铺服务器的密钥 server key"
    click.echo(f"{shop_id} 的{what}（只显示这一次 / shown once）：", err=True)
    click.echo(token)


@keys.command(name="list")
@config_option
@friendly
def list_keys(config: str) -> None:
    """The working keys of every shop."""
    from bot.service import Blocking

    for key in Blocking.run(_storage(config).keys()):
        click.echo(f"{key.shop}\t{key.name}\t{key.kind.value}")


@keys.command(name="revoke")
@click.argument("name")
@click.option("--shop", "shop_id", default="default", show_default=True)
@config_option
@friendly
def revoke_key(name: str, shop_id: str, config: str) -> None:
    """Revoke a shop's key: it stops working within a couple of seconds, on every replica."""
    import time

    from bot.service import Blocking

    if not Blocking.run(_storage(config).revoke_key(shop_id, name, time.time())):
        raise click.ClickException(f"店铺 {shop_id} 没有叫 {name} 的密钥（no key named {name}）")
    click.echo(f"{shop_id} 的密钥 {name} 已作废 (key revoked)")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Exit 2 when there are only warnings.")
@click.option(
    "--format", "style", type=click.Choice(["text", "github", "json"]), default="text", show_default=True
)
@friendly
def lint(paths: tuple[Path, ...], strict: bool, style: str) -> None:
    """Check a shop's YAML: structure, templates, and how the matcher routes every example.

    PATHS are shop folders, config.yaml files or single YAML files (default: config.yaml here)."""
    targets = list(paths) or [Path(_default_config())]
    for target in targets:
        if not target.exists():
            raise click.ClickException(f"找不到 {target} (not found)")
    from bot.runners.lint import lint_paths  # (the commands import what only they use: a faster start)

    found = lint_paths(targets)
    render = {"text": problems_text, "github": problems_github, "json": problems_json}[style]
    click.echo(render(found))
    if errors(found):
        sys.exit(1)
    if strict and found:
        sys.exit(2)


@main.command(name="test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--junit-xml", "junit", type=click.Path(dir_okay=False, path_type=Path), help="Also write JUnit XML here."
)
@click.option("-k", "keyword", default=None, help="Only dialogues whose name contains this text.")
@click.option(
    "--coverage", "show_coverage", is_flag=True, help="Report the intents, examples and answers exercised."
)
@config_option
@friendly
def test_command(
    paths: tuple[Path, ...], junit: Path | None, keyword: str | None, show_coverage: bool, config: str
) -> None:
    """Run regression dialogues (default: tests/dialogues), each in a fresh session; exit 1 on a failure."""
    bot = _load(config)
    from bot.report import dialogues as report_dialogues
    from bot.runners import dialogues

    files = dialogues.find(paths or [Path("tests/dialogues")])
    loaded, problems = [], []
    for path in files:
        found, trouble = dialogues.load(path, str(path))
        loaded += found
        problems += trouble
    if errors(problems):
        raise LoadError(problems, ("对话文件", "the dialogue files"))
    selected = [d for d in loaded if keyword is None or keyword in d.name]
    if not selected:
        raise click.ClickException("没有找到对话 (no dialogues found)")
    results = [dialogues.run(bot, d) for d in selected]
    click.echo(report_dialogues.summary(results, bot.title))
    if junit is not None:
        junit.write_text(report_dialogues.junit_xml(results, bot.title), encoding="utf-8")
    if show_coverage:
        click.echo("\n" + report_dialogues.coverage(results, bot.shop.intents))
    if not all(r.passed for r in results):
        sys.exit(1)


@main.command()
@click.argument("directory", default="docs/schema", type=click.Path(file_okay=False, path_type=Path))
def schema(directory: Path) -> None:
    """Write the JSON Schemas of the intent, response, concept and config files (for editor completion)."""
    from bot.loading.schema import ConceptFile, ConfigFile, DialogueFile, IntentFile, ResponseFile

    directory.mkdir(parents=True, exist_ok=True)
    shapes = (
        ("intent", IntentFile),
        ("response", ResponseFile),
        ("concepts", ConceptFile),
        ("config", ConfigFile),
        ("dialogue", DialogueFile),
    )
    for name, model in shapes:
        path = directory / f"{name}.schema.json"
        path.write_text(
            json.dumps(model.model_json_schema(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        click.echo(f"wrote {path}")


@main.command(name="mine")
@click.option("--shop", "shop_id", default="default", show_default=True, help="Whose transcripts.")
@click.option("--since", default=None, help="Only from this day on (YYYY-MM-DD, UTC).")
@click.option(
    "--store",
    "store_url",
    default=None,
    help="Read this storage instead of the shop's (sqlite:///…, postgresql://…).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the clusters and proposals as one JSON object.")
@click.option(
    "--apply",
    "apply_ids",
    multiple=True,
    help="Apply these proposals (repeatable), checked before and after.",
)
@click.option(
    "--answer",
    default=None,
    help="With one --apply of a new topic: its answer (instead of the agents' reply).",
)
@click.option(
    "--ignore",
    "ignore_ids",
    multiple=True,
    help="Leave these proposals' questions to people (repeatable): not proposed again until missed again.",
)
@config_option
@friendly
def mine_command(
    shop_id: str,
    since: str | None,
    store_url: str | None,
    as_json: bool,
    apply_ids: tuple[str, ...],
    answer: str | None,
    ignore_ids: tuple[str, ...],
    config: str,
) -> None:
    """What buyers asked that the bot did not answer well, grouped, with a proposal for each group."""
    import getpass
    import time

    from bot.model import Review, Verdict
    from bot.report import mining
    from bot.runners.mine import apply, mine, propose
    from bot.service import Blocking, storage_of
    from bot.storage.urls import open_store

    start = _since(since)
    bot = _load(config)
    root = Path(config).resolve().parent
    storage = open_store(store_url, root) if store_url else storage_of(bot.shop.settings)
    history = Blocking.run(storage.history(shop_id, start))
    clusters = mine(bot, root, history.turns, Blocking.run(storage.reviews(shop_id)))
    if not apply_ids and not ignore_ids:
        if as_json:
            click.echo(json.dumps(mining.as_json(clusters), ensure_ascii=False, indent=2))
        else:
            click.echo(mining.report(clusters, bot.title))
        return
    by_proposal = {c.proposal.id: c for c in clusters if c.proposal is not None}
    unknown = [i for i in (*apply_ids, *ignore_ids) if i not in by_proposal]
    if unknown:
        raise click.ClickException(
            f"没有这些建议 (no such proposals): {', '.join(unknown)}；先运行 bot mine 看编号"
        )

    def decided(proposal_id: str, verdict: Verdict) -> None:
        key = by_proposal[proposal_id].key
        Blocking.run(storage.review(Review(shop=shop_id, key=key, verdict=verdict,
                                           by=f"bot mine ({getpass.getuser()})", at=time.time())))  # fmt: skip

    for proposal_id in ignore_ids:
        decided(proposal_id, Verdict.IGNORED)
        click.echo(f"· {proposal_id} 留给人工，不再建议 (left to people)")
    if not apply_ids:
        return
    if answer is not None and len(apply_ids) != 1:
        raise click.ClickException("--answer 只能和一个 --apply 一起用 (--answer goes with exactly one --apply)")
    chosen = [
        propose(bot, root, by_proposal[i], answer) if answer else by_proposal[i].proposal for i in apply_ids
    ]
    results = apply(Path(config).resolve(), chosen)  # type: ignore[arg-type]
    for result in results:
        if result.accepted:
            decided(result.proposal.id, Verdict.ACCEPTED)
    click.echo(mining.applied(results))
    if not all(r.accepted for r in results):
        sys.exit(1)


@main.command(name="eval")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--failures", is_flag=True, help="Also list every wrong answer.")
@click.option(
    "--after",
    "after",
    multiple=True,
    help="Send each message after this turn in the same session (repeatable).",
)
@click.option(
    "--after-each",
    "after_each",
    is_flag=True,
    help="Run the file after each of a built-in list of first questions.",
)
@click.option(
    "--topics",
    "topics_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help='Topic labels kept apart from the texts: JSON lines {"sha": 16 hex of SHA-256 of the text, "topic"}.',
)
@click.option(
    "--keywords",
    "keywords",
    is_flag=True,
    help="List the keywords and patterns that were right less often than their weight claims.",
)
@click.option(
    "--target-wrong",
    "target_wrong",
    type=click.FloatRange(0, 1),
    default=None,
    help="Advise answer_at and handoff_below that keep wrong answers at or under this rate (e.g. 0.02).",
)
@config_option
@friendly
def eval_command(
    file: Path,
    as_json: bool,
    failures: bool,
    after: tuple[str, ...],
    after_each: bool,
    topics_file: Path | None,
    target_wrong: float | None,
    keywords: bool,
    config: str,
) -> None:
    """Measure the bot on labelled messages: JSON lines {"text", "intent", "alt"?, "topic"?, "after"?}."""
    from bot.runners.evaluate import (
        advise_thresholds,
        after_summary,
        evaluate_after_each,
        half,
        keyword_reliability,
        read_topics,
        with_topics,
    )

    for path in (file, topics_file):
        if path is not None and not path.is_file():
            raise click.ClickException(f"找不到文件 {path} (file not found)")
    bot = _load(config)
    items = list(read_labelled(file))
    if topics_file is not None:
        items = with_topics(items, read_topics(topics_file))
    if keywords:
        from bot.report.evaluation import keyword_table

        reliability = keyword_reliability(bot, items)
        if as_json:
            found = [
                {"intent": r.intent, "keyword": r.word, "weight": r.weight, "seen": r.seen, "right": r.right,
                 "precision": round(r.precision, 4), "misleads": r.misleads, "suggested": r.suggested,
                 "labels": dict(r.labels), "file": r.origin.file, "line": r.origin.line}
                for r in reliability
            ]  # fmt: skip
            click.echo(json.dumps({"keywords": found}, ensure_ascii=False, indent=2))
        else:
            click.echo(keyword_table(reliability))
        return
    if target_wrong is not None:
        from bot.report.evaluation import threshold_advice

        advice = advise_thresholds(bot, items, target_wrong)
        if as_json:
            rows = [
                {"answer_at": a.answer_at, "handoff_below": a.handoff_below, "meets": a.meets,
                 "single": dict(a.single), "conversation": dict(a.conversation)}
                for a in advice
            ]  # fmt: skip
            click.echo(
                json.dumps({"target_wrong": target_wrong, "settings": rows}, ensure_ascii=False, indent=2)
            )
        else:
            click.echo(threshold_advice(advice, target_wrong))
        return
    report = evaluate(bot, items)
    summary = report.to_dict()
    reports = {}
    if after:
        reports[" → ".join(after)] = evaluate(bot, items, tuple(after))
    if after_each:
        reports |= evaluate_after_each(bot, items)
    if reports:
        summary["after"] = after_summary(reports)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        click.echo(eval_table(summary))
        if reports:
            click.echo(after_table(summary["after"]))  # type: ignore[arg-type]
    if failures:
        wrong = [("", o) for o in report.outcomes] + [
            (first, o) for first, r in reports.items() for o in r.outcomes
        ]
        for first, o in wrong:
            topic_missed = o.verdict == "resolved" and o.item.topic and o.item.topic != o.reply.topic
            if o.verdict == "wrong" or topic_missed:
                click.echo(
                    json.dumps(
                        {
                            "line": o.item.line,
                            "half": half(o.item.text),
                            "label": o.item.intent,
                            **({"label_topic": o.item.topic, "topic": o.reply.topic} if o.item.topic else {}),
                            **({"after": first} if first else {}),
                            **{k: reply_dict(o.reply)[k] for k in ("intent", "confidence", "normalized")},
                        },
                        ensure_ascii=False,
                    )
                )
