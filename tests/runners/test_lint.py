"""`bot lint`: one broken shop per rule, each problem at its file:line with its message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.faces.cli import main
from bot.runners.lint import lint, lint_paths


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def codes(shop: Path) -> list[tuple[str, str]]:
    return [(p.code, str(p.origin)) for p in lint(shop / "config.yaml")]


def test_every_shipped_example_routes_to_its_own_intent(repo: Path) -> None:
    """The shipped shop is clean: each example reaches its intent at answer_at, no counter-example does."""
    assert [] == [p.render() for p in lint(repo / "config.yaml")]


def line_of(path: Path, text: str) -> int:
    return path.read_text(encoding="utf-8").splitlines().index(text) + 1


def test_example_stolen_names_the_thief_and_the_words(shop: Path) -> None:
    path = shop / "intents" / "address_change.yaml"
    edit(path, "examples:\n", "examples:\n  - 开的发票错了\n")
    [problem] = [p for p in lint(shop / "config.yaml") if p.code == "example-stolen"]
    assert f"intents/address_change.yaml:{line_of(path, '  - 开的发票错了')}:5" == str(problem.origin)
    assert "「发票开具」(invoice)" in problem.message_zh
    assert "'发票'(intents/invoice.yaml:" in problem.message_zh  # through which words, and where they are


def test_example_below_answer_at_names_the_rival(shop: Path) -> None:
    path = shop / "intents" / "shipping_time.yaml"
    edit(path, "examples:\n", "examples:\n  - 快递什么时候到\n")
    [problem] = [p for p in lint(shop / "config.yaml") if p.code == "example-unsure"]
    assert f"intents/shipping_time.yaml:{line_of(path, '  - 快递什么时候到')}:5" == str(problem.origin)
    assert "低于 answer_at（0.75）" in problem.message_zh and "「物流查询」" in problem.message_zh


def test_counter_example_that_vetoes_an_example(shop: Path) -> None:
    edit(shop / "intents" / "returns.yaml", "  - 不想退了\n", "  - 不想退了\n  - 怎么申请退货呀\n")
    found = {p.code: p for p in lint(shop / "config.yaml")}
    assert "怎么申请退货" in found["counter-contradicts"].message_zh
    assert "intents/returns.yaml:" in str(found["counter-contradicts"].origin)
    assert "example-stolen" in found or "example-unsure" in found  # the vetoed example itself


def test_same_example_in_two_intents(shop: Path) -> None:
    path = shop / "intents" / "quality.yaml"
    edit(path, "examples:\n", "examples:\n  - 能退货吗？\n")
    found = [p for p in lint(shop / "config.yaml") if p.code == "duplicate-example"]
    assert 1 == len(found)
    assert found[0].origin.file == "intents/returns.yaml"
    assert f"quality（intents/quality.yaml:{line_of(path, '  - 能退货吗？')}:5）" in found[0].message_zh


def test_lint_of_one_file_reports_only_that_file(shop: Path) -> None:
    edit(shop / "intents" / "quality.yaml", "examples:", "exmaples:")
    edit(shop / "responses" / "greeting.yaml", "{shop.name}", "{shop.nmae}")
    only = lint_paths([shop / "responses" / "greeting.yaml"])
    assert ["unknown-variable"] == [p.code for p in only]


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [([], 0), (["--strict"], 0), (["--format", "github"], 0), (["--format", "json"], 0)],
)
def test_cli_on_a_clean_shop(mini: Path, args: list[str], exit_code: int) -> None:
    """Every format exits 0 on a clean shop (the smallest one: the formats do not depend on its size)."""
    result = CliRunner().invoke(main, ["lint", str(mini), *args])
    assert exit_code == result.exit_code, result.output


def test_the_shipped_shop_is_clean_even_with_strict(shop: Path) -> None:
    result = CliRunner().invoke(main, ["lint", str(shop), "--strict"])
    assert 0 == result.exit_code, result.output


def test_cli_exit_codes_and_formats(shop: Path) -> None:
    edit(
        shop / "intents" / "greeting.yaml", "examples:\n", "examples:\n  - 你好呀\n  - 你好呀！\n"
    )  # a warning only
    strict = CliRunner().invoke(main, ["lint", str(shop), "--strict"])
    assert 2 == strict.exit_code
    edit(shop / "responses" / "greeting.yaml", "{shop.name}", "{shop.nmae}")  # an error
    text = CliRunner().invoke(main, ["lint", str(shop)])
    assert 1 == text.exit_code
    assert "responses/greeting.yaml:4:5: 错误 [unknown-variable]" in text.output
    github = CliRunner().invoke(main, ["lint", str(shop), "--format", "github"]).output
    assert "::error file=responses/greeting.yaml,line=4,col=5::[unknown-variable]" in github


def test_lint_of_a_server_config_checks_every_shop_it_lists(mini: Path, tmp_path: Path) -> None:
    """`bot lint` on a config whose `shops:` lists another shop reports that shop's problems too,
    at paths a shop owner can open from the server's folder."""
    server = tmp_path / "server"
    shutil.copytree(mini, server)
    tea = tmp_path / "tea"
    shutil.copytree(mini, tea)
    edit(tea / "responses" / "greeting.yaml", "{shop.name}", "{shop.nmae}")
    with (server / "config.yaml").open("a", encoding="utf-8") as config:
        config.write("shops:\n  - {id: tea, folder: ../tea}\n")
    problems = lint(server / "config.yaml")
    assert ["../tea/responses/greeting.yaml"] == sorted(
        {p.origin.file for p in problems if p.code == "unknown-variable"}
    )
    result = CliRunner().invoke(main, ["lint", str(server)])
    assert 1 == result.exit_code and "../tea/responses/greeting.yaml:" in result.output
