"""The YAML reader: values keep their line:column, and broken YAML becomes problems, not tracebacks."""

import re
from pathlib import Path

import pytest

from bot.loading import yamlfile


def codes(problems: list) -> list[tuple[str, str]]:
    return [(p.code, str(p.origin)) for p in problems]


def test_values_remember_where_they_were_written() -> None:
    doc, problems = yamlfile.parse("id: x\nexamples:\n  - 在吗\n  - 你好\n", "f.yaml")
    assert [] == problems
    assert "f.yaml:4:5" == str(yamlfile.origin_of(doc["examples"], 1))


def test_duplicate_key_is_an_error_at_its_line() -> None:
    _, problems = yamlfile.parse("id: a\ntitle: t\nid: b\n", "f.yaml")
    assert [("duplicate-key", "f.yaml:3:1")] == codes(problems)


def test_billion_laughs_is_refused_without_expanding() -> None:
    """Aliases are refused, so a YAML bomb costs nothing."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    _, problems = yamlfile.parse(bomb, "bomb.yaml")
    assert ["yaml-alias"] == [p.code for p in problems]


def test_syntax_error_says_where() -> None:
    doc, problems = yamlfile.parse("id: x\nexamples: [a, b\n", "f.yaml")
    assert doc is None
    assert "yaml-syntax" == problems[0].code
    assert problems[0].origin.line == 3


def test_python_tags_are_not_executed() -> None:
    _, problems = yamlfile.parse("x: !!python/object/apply:os.system ['echo hi']\n", "f.yaml")
    assert "yaml-syntax" == problems[0].code


def test_size_cap_and_encoding(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * (yamlfile.MAX_BYTES + 1))
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("a: café".encode("latin-1"))
    assert "file-too-large" == yamlfile.read(big, "big.yaml")[1][0].code
    assert "file-not-utf8" == yamlfile.read(latin, "latin.yaml")[1][0].code


@pytest.mark.parametrize(
    ("written", "read_as"),
    [("cutoff: 16:00", "六十进制"), ("phone: 0755", "八进制"), ("word: no", "是/否"), ("day: 2026-12-01", "日期")],
)
def test_a_value_yaml_reads_as_something_else_is_an_error_with_the_quoted_fix(written: str, read_as: str) -> None:
    """YAML 1.1 reads 16:00 as 960, 0755 as 493, no as false and 2026-12-01 as a date: the owner meant text."""
    key, value = written.split(": ")
    doc, problems = yamlfile.parse(f"{written}\nquoted: \"{value}\"\nfine: 0.8\nswitch: true\n", "f.yaml")
    assert ["yaml-reads-otherwise"] == [p.code for p in problems]
    assert read_as in problems[0].message_zh and f'"{value}"' in problems[0].fix_zh
    assert (problems[0].origin.line, problems[0].origin.column) == (1, len(key) + 3)
    assert {key: value, "quoted": value, "fine": 0.8, "switch": True} == dict(doc)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('answers:\n  - "a"\n   - "b"\n', "没有对齐"),
        ("title: 发货: 什么时候\n", "引号括起来"),
        ("a:\n\t- b\n", "Tab"),
        ('a: "abc\nb: c\n', "引号没有配对"),
        ("a:\n  b: 1\n c: 2\n", "缩进不对"),
        ("a: {shop.name\n", "花括号"),
    ],
)
def test_a_syntax_error_is_explained_in_chinese_without_yamls_english(text: str, says: str) -> None:
    _, problems = yamlfile.parse(text, "f.yaml")
    [found] = problems
    assert found.code == "yaml-syntax" and says in found.message_zh
    said = re.sub(r"\{[^}]*\}|YAML|Tab", "", found.message_zh)  # a variable as the owner writes it
    assert not re.search(r"[A-Za-z]{4,}", said), found.message_zh
    assert "while parsing" in found.message_en or "while scanning" in found.message_en or "mapping" in found.message_en
