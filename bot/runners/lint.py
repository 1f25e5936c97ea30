"""`bot lint`: every problem in a shop's files, structural (from loading) and behavioural (rules/)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

from bot.engine import Engine
from bot.problems import Problem, errors
from bot.runners.rules import concepts, duplicates, routing
from bot.shop import load_shop

RULES = (duplicates.check, routing.check)


def lint(config_path: Path, seen: frozenset[Path] = frozenset(), concept_rules: bool = True) -> list[Problem]:
    """All problems of the shop at `config_path`, and of every shop its `shops:` table lists (their
    files shown relative to this one's folder), sorted by position. Rules run only on a shop that loads.
    Without `concept_rules` the shop is not read a second time without its concepts (a change that
    adds only 问法 and topics: the routing rule already sees every example as the buyer's words)."""
    shop, problems = load_shop(config_path)
    if shop is not None and not errors(problems):
        bot = Engine(shop)
        for rule in RULES:
            problems += rule(bot)
        if shop.concepts and concept_rules:
            plain, _ = load_shop(config_path, use_concepts=False)
            problems += concepts.check(bot, Engine(plain) if plain is not None else None)
    seen = seen | {config_path.resolve()}
    for listed in shop.settings.shops.values() if shop is not None else ():
        if listed.resolve() in seen:
            continue  # two servers listing each other: each shop once
        folder = Path(os.path.relpath(listed.parent, config_path.parent))
        problems += [
            dataclasses.replace(
                p, origin=dataclasses.replace(p.origin, file=(folder / p.origin.file).as_posix())
            )
            for p in lint(listed, seen, concept_rules)
        ]
    return sorted(problems, key=lambda p: (p.origin.file, p.origin.line, p.origin.column, p.code))


def shop_of(path: Path) -> tuple[Path, str | None]:
    """The config.yaml a path belongs to, and the one file to report on (None: the whole shop)."""
    path = path.resolve()
    if path.is_dir():
        return path / "config.yaml", None
    if path.name == "config.yaml":
        return path, None
    for parent in path.parents:
        if (parent / "config.yaml").is_file():
            return parent / "config.yaml", str(path.relative_to(parent))
    return path, None


def lint_paths(paths: Iterable[Path]) -> list[Problem]:
    """Lint the shops the paths belong to; for single files, keep only the problems in them."""
    wanted: dict[Path, set[str] | None] = {}
    for path in paths:
        config, only = shop_of(path)
        if only is None:
            wanted[config] = None
        elif config not in wanted:
            wanted[config] = {only}
        elif (files := wanted[config]) is not None:
            files.add(only)
    found = []
    for config, files in wanted.items():
        found += [p for p in lint(config) if files is None or p.origin.file in files]
    return found
