"""The README tells the truth: two Quick start commands, CI runs the test one, every command documented."""

from __future__ import annotations

import re
from pathlib import Path

from bot.faces.cli import main


def quick_start(repo: Path) -> list[str]:
    text = (repo / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_quick_start_has_exactly_two_commands(repo: Path) -> None:
    commands = quick_start(repo)
    assert 2 == len(commands)
    assert "bot chat" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command(repo: Path) -> None:
    ci = (repo / ".ci" / "run").read_text(encoding="utf-8")
    test_command = quick_start(repo)[1].split("&&")[-1].strip()
    assert test_command in ci


def test_every_cli_command_is_in_the_readme(repo: Path) -> None:
    readme = (repo / "README.md").read_text(encoding="utf-8")
    for name in main.commands:
        assert f"`bot {name}" in readme, name


def test_every_config_section_is_in_the_shipped_config(repo: Path) -> None:
    """config.yaml shows every section a shop can set, with a comment where it is not obvious."""
    from bot.loading.schema import ConfigFile

    config = (repo / "config.yaml").read_text(encoding="utf-8")
    for section in ConfigFile.model_fields:
        assert re.search(rf"^{section}:", config, re.M), section


def test_every_problem_code_has_both_languages_and_a_docs_entry(repo: Path) -> None:
    from bot.problems import CATALOGUE

    docs = (repo / "docs" / "problems.md").read_text(encoding="utf-8")
    for code, (_, zh, fix_zh, en, fix_en) in CATALOGUE.items():
        assert f"### {code}\n" in docs, code
        assert zh and fix_zh and en and fix_en, code
        assert re.search(r"[\u4e00-\u9fff]", zh + fix_zh), code


def test_worked_example_in_the_guide_works(repo: Path, shop: Path) -> None:
    """docs/editing-intents.md: its YAML files, added to a copy of the shop, lint clean and pass their dialogue."""
    from click.testing import CliRunner

    guide = (repo / "docs" / "editing-intents.md").read_text(encoding="utf-8")
    written = []
    for block in re.findall(r"```yaml\n(.*?)```", guide, re.S):
        first = block.splitlines()[0]
        if first.startswith("# ") and first.endswith(".yaml") and "/" in first:
            target = shop / first[2:]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block, encoding="utf-8")
            written.append(first[2:])
    assert ["intents/gift_wrap.yaml", "responses/gift_wrap.yaml", "tests/dialogues/gift_wrap.yaml"] == written
    config = str(shop / "config.yaml")
    lint = CliRunner().invoke(main, ["lint", str(shop)])
    assert 0 == lint.exit_code, lint.output
    test = CliRunner().invoke(
        main, ["test", str(shop / "tests" / "dialogues" / "gift_wrap.yaml"), "--config", config]
    )
    assert 0 == test.exit_code, test.output
    ask = CliRunner().invoke(main, ["ask", "能帮我包成礼盒吗 送朋友的", "--config", config, "--json"])
    assert '"intent": "gift_wrap"' in ask.output


def test_shipped_json_schemas_are_up_to_date(repo: Path, tmp_path: Path) -> None:
    """docs/schema/*.json are what `bot schema` writes now: editors complete what the bot accepts."""
    from click.testing import CliRunner

    assert 0 == CliRunner().invoke(main, ["schema", str(tmp_path)]).exit_code
    for fresh in sorted(tmp_path.glob("*.schema.json")):
        shipped = repo / "docs" / "schema" / fresh.name
        assert fresh.read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8"), (
            f"run: bot schema ({fresh.name})"
        )


def test_readme_dialogue_example_passes_on_the_shipped_shop(repo: Path, tmp_path: Path) -> None:
    """The dialogue file the README shows is one a shop owner can copy: it passes as written."""
    from click.testing import CliRunner

    readme = (repo / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(# yaml-language-server: \$schema=\S*dialogue\.schema\.json\n.*?)```", readme, re.S)
    assert block is not None
    (tmp_path / "readme.yaml").write_text(block.group(1), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["test", str(tmp_path / "readme.yaml"), "--config", str(repo / "config.yaml")]
    )
    assert 0 == result.exit_code, result.output
