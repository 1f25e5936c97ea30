"""Read one YAML file safely, keeping the line and column of every value.

Safe loading only: no Python tags, no anchors or aliases (so no "billion laughs"), duplicate keys
refused, a size cap. Mappings come back as `YMap` and sequences as `YList`, which remember where
each of their items was written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from bot.model import Origin
from bot.problems import Problem, problem

MAX_BYTES = 1_000_000
# libyaml's C parser when PyYAML was built with it (same nodes and marks, several times faster).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
)


class YMap(dict[str, Any]):
    """A YAML mapping that knows where it and each of its keys and values were written."""

    origin: Origin
    key_origins: dict[str, Origin]
    value_origins: dict[str, Origin]


class YList(list[Any]):
    """A YAML sequence that knows where it and each of its items were written."""

    origin: Origin
    origins: list[Origin]


def origin_of(container: object, key: str | int, default: Origin | None = None) -> Origin:
    """Where `container[key]` was written: the container itself when unknown, else `default`."""
    if isinstance(container, YMap) and isinstance(key, str):
        return container.value_origins.get(key, container.origin)
    if isinstance(container, YList) and isinstance(key, int) and 0 <= key < len(container.origins):
        return container.origins[key]
    if isinstance(container, YMap | YList):
        return container.origin
    return default or Origin(file="")


def shown(path: Path, root: Path) -> str:
    """`path` as a shop owner should see it: relative to the shop folder when inside it."""
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def read(path: Path, shown_as: str) -> tuple[Any, list[Problem]]:
    """Read `path`; return (document, problems). The document is None when unreadable."""
    whole = Origin(file=shown_as)
    if not path.is_file():
        return None, [problem("file-missing", whole, path=shown_as)]
    size = path.stat().st_size
    if size > MAX_BYTES:
        return None, [problem("file-too-large", whole, size=size, limit=MAX_BYTES)]
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None, [problem("file-not-utf8", whole)]
    return parse(text, shown_as)


def parse(text: str, shown_as: str) -> tuple[Any, list[Problem]]:
    """Parse YAML `text` as if read from `shown_as`."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _origin(shown_as, mark)
        detail = " ".join(filter(None, [exc.context, exc.problem]))
        return None, [problem("yaml-syntax", where, detail=detail, detail_zh=syntax_zh(detail))]
    except yaml.YAMLError as exc:  # a control character, found before any mark is made
        detail = str(exc).split("\n", 1)[0]
        return None, [problem("yaml-syntax", Origin(file=shown_as), detail=detail, detail_zh=syntax_zh(detail))]
    if node is None:
        return None, []
    problems: list[Problem] = []
    value = _Builder(shown_as, problems).build(node)
    return value, problems


# What PyYAML's messages mean, for a shop owner: (words of the message, what to tell them).
_SYNTAX_ZH = (
    ("expected '-' indicator", "列表的各项没有对齐：每一项的 - 要和上一项的 - 在同一列"),
    ("mapping values are not allowed", "这一行多了一个冒号：值里有冒号（如 发货: 什么时候）时，请把整个值用引号括起来"),
    ("cannot start any token", "这里有一个 YAML 不认的字符：用 Tab 缩进的请改成空格；以 @ ` % 开头的值请加引号"),
    ("quoted scalar", "引号没有配对：这一行开头的引号在后面没有结束"),
    ("expected ',' or ']'", "方括号 [ ] 没有配对，或者列表项之间少了逗号"),
    ("expected ',' or '}'", "花括号 { } 没有配对：在值里用花括号（如 {shop.name}）时，请把整个值用引号括起来"),
    ("did not find expected key", "缩进不对：这一行要和同一级的键对齐（同一级的键前面的空格数一样）"),
    ("could not find expected ':'", "这一行少了冒号，或者缩进不对，被当成了上一项的延续"),
    ("undefined alias", "* 开头的值会被当成引用：请把整个值用引号括起来"),
    ("control characters are not allowed", "文件里有看不见的控制字符：删掉它，或者重新输入这一行"),
)


def syntax_zh(detail: str) -> str:
    """PyYAML's message about a syntax error, as a shop owner should read it."""
    for words, zh in _SYNTAX_ZH:
        if words in detail:
            return zh
    return "这一行附近的写法 YAML 读不懂"


def _origin(file: str, mark: Any) -> Origin:
    if mark is None:
        return Origin(file=file)
    return Origin(file=file, line=mark.line + 1, column=mark.column + 1)


_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_SWITCH = "（要表示开关请写 true 或 false）"


def _read_otherwise(node: yaml.ScalarNode) -> tuple[str, str, str, str] | None:
    """How YAML 1.1 reads an unquoted value other than as the text its owner wrote, if it does:
    (read as, in English, a hint, in English). 16:00 is 960 (base 60), 0755 is 493 (octal), no is
    false, 2026-12-01 a date."""
    value = node.value
    if node.tag in _NUMBERS and ":" in value:
        return "数字（六十进制：16:00 会变成 960）", "a base-60 number (16:00 becomes 960)", "", ""
    if node.tag == "tag:yaml.org,2002:int" and re.fullmatch(r"[-+]?0[0-9_]+", value):
        return "八进制数字（0755 会变成 493）", "an octal number (0755 becomes 493)", "", ""
    if node.tag == "tag:yaml.org,2002:bool" and value.lower() not in ("true", "false"):
        return ("“是/否”（true/false）", "a true/false switch", _SWITCH,
                " (for a switch write true or false)")  # fmt: skip
    if node.tag == "tag:yaml.org,2002:timestamp":
        return "日期", "a date", "", ""
    return None


class _Builder:
    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        self.constructor = SafeConstructor()
        self.visited: set[int] = set()
        self.alias_reported = False

    def build(self, node: yaml.Node) -> Any:
        # The composer turns an alias into the very node of its anchor: a node met twice is an
        # alias. Refusing it (instead of expanding it) makes "billion laughs" documents harmless.
        if isinstance(node, yaml.CollectionNode | yaml.ScalarNode) and id(node) in self.visited:
            if not self.alias_reported:
                self.alias_reported = True
                self.problems.append(problem("yaml-alias", _origin(self.file, node.start_mark)))
            return None
        self.visited.add(id(node))
        if node.tag not in _PLAIN_TAGS:
            self.problems.append(
                problem(
                    "yaml-syntax",
                    _origin(self.file, node.start_mark),
                    detail=f"unsupported tag {node.tag}",
                    detail_zh=f"不支持 {node.tag} 这种标签（!! 开头的写法）：请去掉它，直接写值",
                )
            )
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node)
        if isinstance(node, yaml.SequenceNode):
            result = YList()
            result.origin = _origin(self.file, node.start_mark)
            result.origins = []
            for item in node.value:
                result.append(self.build(item))
                result.origins.append(_origin(self.file, item.start_mark))
            return result
        if isinstance(node, yaml.ScalarNode) and not node.style:
            surprise = _read_otherwise(node)
            if surprise is not None:
                self.problems.append(
                    problem("yaml-reads-otherwise", _origin(self.file, node.start_mark), value=node.value,
                            read_as=surprise[0], read_as_en=surprise[1], hint=surprise[2], hint_en=surprise[3])
                )  # fmt: skip
                return node.value  # what the owner wrote, so that the rest of the file is checked as meant
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode) -> YMap:
        result = YMap()
        result.origin = _origin(self.file, node.start_mark)
        result.key_origins = {}
        result.value_origins = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(problem("yaml-alias", _origin(self.file, key_node.start_mark)))
                continue
            key = str(self.build(key_node)) if isinstance(key_node, yaml.ScalarNode) else "?"
            where = _origin(self.file, key_node.start_mark)
            if key in result:
                self.problems.append(problem("duplicate-key", where, key=key))
                continue
            result[key] = self.build(value_node)
            result.key_origins[key] = where
            result.value_origins[key] = _origin(self.file, value_node.start_mark)
        return result
