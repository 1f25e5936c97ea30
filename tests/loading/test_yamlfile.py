"""The YAML reader: values keep their line:column, and broken YAML becomes problems, not tracebacks."""

from pathlib import Path

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
