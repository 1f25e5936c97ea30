"""Read one YAML file safely, keeping the line and column of every value.

Safe loading only: no Python tags, no anchors or aliases (so no "billion laughs"), duplicate keys
refused, a size cap. Mappings come back as `YMap` and sequences as `YList`, which remember where
each of their items was written.
"""

from __future__ import annotations

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
        return None, [problem("yaml-syntax", where, detail=detail)]
    except yaml.YAMLError as exc:  # pragma: no cover - pyyaml raises marked errors for text input
        return None, [problem("yaml-syntax", Origin(file=shown_as), detail=str(exc))]
    if node is None:
        return None, []
    problems: list[Problem] = []
    value = _Builder(shown_as, problems).build(node)
    return value, problems


def _origin(file: str, mark: Any) -> Origin:
    if mark is None:
        return Origin(file=file)
    return Origin(file=file, line=mark.line + 1, column=mark.column + 1)


_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


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
                    detail=f"不支持的标签 (unsupported tag) {node.tag}",
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
        if (
            isinstance(node, yaml.ScalarNode)
            and not node.style
            and ":" in node.value
            and node.tag in _NUMBERS
        ):
            return node.value  # YAML 1.1 reads 16:00 as 960 (base 60): whoever wrote it meant a time
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
