"""Through the command line: exact exit codes, JSON shape, no tracebacks."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.faces.cli import main


@pytest.fixture
def run(repo: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(repo)

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(main, list(args), input=input)

    return invoke


def test_ask_prints_the_answer(run) -> None:
    result = run("ask", "能开发票吗")
    assert 0 == result.exit_code
    assert "发票" in result.output


def test_ask_json_has_the_reply_fields(run) -> None:
    data = json.loads(run("ask", "能开发票吗", "--json").output)
    assert {"text", "action", "intent", "confidence", "candidates", "evidence", "tokens"} <= set(data)
    assert ("answer", "invoice") == (data["action"], data["intent"])


def test_ask_explain_shows_candidates_and_where_evidence_comes_from(run) -> None:
    output = run("ask", "退货运费谁出", "--explain").output
    assert "候选意图" in output
    assert "intents/returns.yaml:" in output


def test_chat_runs_a_conversation(run) -> None:
    result = run("chat", input="在吗\n什么时候发货\n退出\n")
    assert 0 == result.exit_code
    assert result.output.count("小二>") == 2


def test_broken_shop_exits_1_with_positions_not_a_traceback(run, shop: Path) -> None:
    path = shop / "intents" / "invoice.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("examples:", "exmaples:"), encoding="utf-8")
    result = run("ask", "发票", "--config", str(shop / "config.yaml"))
    assert 1 == result.exit_code
    assert "intents/invoice.yaml:" in result.output and "exmaples" in result.output
    assert "Traceback" not in result.output


def test_missing_config_is_explained(run, tmp_path: Path) -> None:
    result = run("ask", "发票", "--config", str(tmp_path / "nope.yaml"))
    assert 1 == result.exit_code
    assert "找不到配置文件" in result.output


def test_eval_json_keeps_its_keys(run, tmp_path: Path) -> None:
    data_file = tmp_path / "small.jsonl"
    data_file.write_text(
        '{"text": "能开发票吗", "intent": "invoice"}\n{"text": "今天天气真好", "intent": "other"}\n',
        encoding="utf-8",
    )
    summary = json.loads(run("eval", str(data_file), "--json").output)
    assert {"n", "resolved", "wrong", "deferred", "per_intent", "reliability"} <= set(summary)
    assert (2, 1.0, 0.0) == (summary["n"], summary["resolved"], summary["wrong"])


def test_eval_rejects_malformed_lines_with_the_line_number(run, tmp_path: Path) -> None:
    data_file = tmp_path / "bad.jsonl"
    data_file.write_text('{"text": "a", "intent": "invoice"}\n{not json\n', encoding="utf-8")
    result = run("eval", str(data_file))
    assert 1 == result.exit_code
    assert "bad.jsonl:2" in result.output


def test_schema_writes_three_files(run, tmp_path: Path) -> None:
    assert 0 == run("schema", str(tmp_path)).exit_code
    intent = json.loads((tmp_path / "intent.schema.json").read_text(encoding="utf-8"))
    assert "examples" in intent["properties"]


def test_db_upgrade_on_sqlite_has_nothing_to_do(shop: Path) -> None:
    """`bot db upgrade` on the default SQLite says so: the file upgrades itself when opened."""
    done = CliRunner().invoke(main, ["db", "upgrade", "--config", str(shop / "config.yaml")])
    assert (0, True) == (done.exit_code, "无需操作" in done.output)


def test_db_upgrade_applies_postgresql_migrations_once(
    shop: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    """`bot db upgrade` on an empty PostgreSQL applies the migrations, then has none left to apply."""
    import psycopg

    from bot.storage import postgres

    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(f"DROP TABLE {', '.join(postgres.TABLES)}")
    monkeypatch.setenv("BOT_STORAGE_URL", postgres_url)
    config = str(shop / "config.yaml")
    first = CliRunner().invoke(main, ["db", "upgrade", "--config", config])
    again = CliRunner().invoke(main, ["db", "upgrade", "--config", config])
    names = "、".join(name for _, name, _ in postgres.migrations())
    assert (0, names) == (first.exit_code, first.output.strip().rsplit("：", 1)[-1])
    assert 0 == again.exit_code and "already up to date" in again.output


def test_db_export_then_import_moves_a_shops_history(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bot db export` from one storage and `bot db import` into another: the same transcript; a
    second import adds nothing; a file that is not an export is refused with the line."""
    from bot.service import Blocking, Bot
    from bot.storage.sqlite import SQLiteStore

    config = str(shop / "config.yaml")
    source = SQLiteStore(tmp_path / "small.db")
    bot = Bot.from_config(config, source)
    for text in ("在吗", "什么时候发货", "我要转人工"):
        bot.reply("buyer", text)
    monkeypatch.setenv("BOT_STORAGE_URL", f"sqlite:///{tmp_path / 'small.db'}")
    exported = tmp_path / "history.jsonl"
    out = CliRunner().invoke(main, ["db", "export", "--config", config, "-o", str(exported)])
    assert 0 == out.exit_code, out.output
    monkeypatch.setenv("BOT_STORAGE_URL", f"sqlite:///{tmp_path / 'grown.db'}")
    first = CliRunner().invoke(main, ["db", "import", str(exported), "--config", config])
    again = CliRunner().invoke(main, ["db", "import", str(exported), "--config", config])
    assert (0, 0) == (first.exit_code, again.exit_code)
    assert "imported 3 turns, 1 tickets, 1 sessions" in first.output
    assert "imported 0 turns, 0 tickets, 0 sessions; 4 already there" in again.output
    grown = SQLiteStore(tmp_path / "grown.db")
    assert ["在吗", "什么时候发货", "我要转人工"] == [
        t.message for t in Blocking.run(grown.transcript("default", "buyer"))
    ]
    (tmp_path / "bad.jsonl").write_text('{"format": "something else"}\n', encoding="utf-8")
    bad = CliRunner().invoke(main, ["db", "import", str(tmp_path / "bad.jsonl"), "--config", config])
    assert 1 == bad.exit_code and "第 1 行" in bad.output


def test_agents_are_added_listed_and_revoked_and_their_token_opens_the_queue(shop: Path) -> None:
    """`bot agents add` prints a token once (only its hash is stored); the token opens the agent
    routes; `bot agents revoke` closes them at once."""
    from fastapi.testclient import TestClient

    from bot.faces.http.app import create_app

    config = str(shop / "config.yaml")
    runner = CliRunner()
    added = runner.invoke(main, ["agents", "add", "小美", "--config", config])
    assert 0 == added.exit_code, added.output
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("dxe_agent_")
    assert token not in (shop / "data" / "dianxiaoer.db").read_bytes().decode("utf-8", "replace")
    again = runner.invoke(main, ["agents", "add", "小美", "--config", config])
    assert 1 == again.exit_code and "已经有叫 小美 的客服" in again.output
    runner.invoke(main, ["agents", "add", "店长", "--admin", "--config", config])
    listed = runner.invoke(main, ["agents", "list", "--config", config])
    assert ["小美\tagent", "店长\tadmin"] == listed.output.strip().splitlines()
    client = TestClient(create_app(config))
    assert 200 == client.get("/v1/handoffs", headers={"Authorization": f"Bearer {token}"}).status_code
    assert 0 == runner.invoke(main, ["agents", "revoke", "小美", "--config", config]).exit_code
    assert 401 == client.get("/v1/handoffs", headers={"Authorization": f"Bearer {token}"}).status_code
    missing = runner.invoke(main, ["agents", "revoke", "小美", "--config", config])
    assert 1 == missing.exit_code and "没有叫 小美 的客服" in missing.output


def test_keys_are_added_listed_and_revoked(shop: Path) -> None:
    config = str(shop / "config.yaml")
    runner = CliRunner()
    server = runner.invoke(main, ["keys", "add", "erp", "--config", config])
    widget = runner.invoke(main, ["keys", "add", "page", "--widget", "--shop", "default", "--config", config])
    assert (0, 0) == (server.exit_code, widget.exit_code), server.output + widget.output
    assert server.stdout.strip().startswith("dxe_server_") and widget.stdout.strip().startswith("dxe_widget_")
    listed = runner.invoke(main, ["keys", "list", "--config", config]).output.strip().splitlines()
    assert ["default\terp\tserver", "default\tpage\twidget"] == listed
    assert 1 == runner.invoke(main, ["keys", "add", "erp", "--config", config]).exit_code
    assert 0 == runner.invoke(main, ["keys", "revoke", "erp", "--config", config]).exit_code
    assert 1 == runner.invoke(main, ["keys", "revoke", "erp", "--config", config]).exit_code


def test_serve_without_any_key_stays_on_this_machine_and_says_why(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.faces import serve as processes

    hosts: list[str] = []
    monkeypatch.setattr(
        processes, "serve", lambda config, watch, host, port, workers, loop: hosts.append(host)
    )
    config = str(shop / "config.yaml")
    open_demo = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--config", config])
    assert 0 == open_demo.exit_code and "127.0.0.1" in open_demo.output and "bot keys add" in open_demo.output
    CliRunner().invoke(main, ["keys", "add", "erp", "--config", config])
    CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--config", config])
    assert ["127.0.0.1", "0.0.0.0"] == hosts
