"""`bot test`: dialogues catch regressions, report them readably, and give identical results twice."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import Bot
from bot.faces.cli import main
from bot.runners.dialogues import find, load, run


@pytest.fixture
def suite(shop: Path, repo: Path) -> Path:
    """The shipped dialogues beside a writable copy of the shop."""
    target = shop / "tests" / "dialogues"
    shutil.copytree(repo / "tests" / "dialogues", target)
    return target


def invoke(shop: Path, *args: str):
    return CliRunner().invoke(main, ["test", *args, "--config", str(shop / "config.yaml")])


def test_shipped_suite_has_eighty_dialogues_and_passes(shop: Path, suite: Path) -> None:
    dialogues = [d for path in find([suite]) for d in load(path, str(path))[0]]
    assert len(dialogues) >= 80
    result = invoke(shop, str(suite))
    assert 0 == result.exit_code, result.output
    assert f"{len(dialogues)} passed, 0 failed" in result.output


def test_a_broken_intent_fails_with_dialogue_turn_and_difference(shop: Path, suite: Path) -> None:
    """Break invoice (its key word becomes a veto): the suite names what broke, where, and how."""
    path = shop / "intents" / "invoice.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("negatives: []", "negatives: [发票]"), encoding="utf-8"
    )
    result = invoke(shop, str(suite))
    assert 1 == result.exit_code
    assert "✗ 对话「invoice-" in result.output  # the dialogue
    assert "第 1 轮 (turn 1)" in result.output  # the turn
    assert "意图 intent: 期望 expected 'invoice'，实际 got None" in result.output  # the difference
    assert "tests/dialogues/core.yaml:" in result.output  # where the expectation is written


def test_junit_xml_and_k(shop: Path, suite: Path, tmp_path: Path) -> None:
    path = shop / "intents" / "invoice.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("negatives: []", "negatives: [发票]"), encoding="utf-8"
    )
    report = tmp_path / "junit.xml"
    result = invoke(shop, str(suite), "-k", "invoice", "--junit-xml", str(report))
    assert 1 == result.exit_code
    root = ET.parse(report).getroot()
    assert 3 == int(root.get("tests", "0"))  # -k invoice: only the invoice dialogues ran
    failed = [case for case in root.iter("testcase") if case.find("failure") is not None]
    assert int(root.get("failures", "0")) == len(failed) >= 2
    assert all("意图 intent" in (case.find("failure").text or "") for case in failed)  # type: ignore[union-attr]


def test_coverage_reports_intents_examples_and_variants(shop: Path, suite: Path) -> None:
    output = invoke(shop, str(suite / "core.yaml"), "--coverage").output
    assert "没有被任何对话用到的意图 (intents never exercised):" in output
    assert "greeting" in output.split("intents never exercised")[1]  # core.yaml never greets
    assert "shipping_time" in output and "/2" in output


def test_two_runs_are_identical(shipped_bot: Bot, repo: Path) -> None:
    dialogues = [d for path in find([repo / "tests" / "dialogues"]) for d in load(path, str(path))[0]]
    first = [(t.reply.text, t.reply.confidence) for d in dialogues for t in run(shipped_bot, d).turns]
    second = [(t.reply.text, t.reply.confidence) for d in dialogues for t in run(shipped_bot, d).turns]
    assert first == second


def test_a_broken_dialogue_file_is_reported_not_raised(shop: Path, tmp_path: Path) -> None:
    bad = tmp_path / "dialogues" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text(
        "dialogues:\n  - name: x\n    turns:\n      - buyer: 在吗\n        intnet: greeting\n",
        encoding="utf-8",
    )
    result = invoke(shop, str(bad))
    assert 1 == result.exit_code
    assert "unknown-key" in result.output and "是不是想写 intent" in result.output
