"""concepts/*.yaml → the shop's synonyms (同义词): each word of a concept is read as its name.

One 问法 then covers its paraphrases: with 运费: [邮费, 快递费], 「邮费谁出」 and 「快递费谁出」 both
match an example written 「运费谁出」. The words are replaced in buyer messages, examples, keywords and
negatives alike (by the normaliser), so the matcher and the index never see them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bot.loading import yamlfile
from bot.loading.schema import ConceptFile, validate
from bot.model import Origin
from bot.problems import Problem, errors, problem

# A one-character word would be replaced inside other words (退 in 退出): not allowed.
MIN_WORD = 2
_LATIN = re.compile(r"[a-z0-9 ]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Concept:
    name: str
    words: tuple[str, ...]  # besides the name
    origin: Origin


def load_concepts(directory: Path, shown_root: Path) -> tuple[list[Concept], list[Problem]]:
    """Every concept of the files in `directory` (none when it does not exist), with their problems:
    a word in two concepts, a word too short to replace safely."""
    if not directory.is_dir():
        return [], []
    concepts: list[Concept] = []
    problems: list[Problem] = []
    owner: dict[str, tuple[str, Origin]] = {}
    for path in sorted(directory.glob("*.yaml")):
        shown = yamlfile.shown(path, shown_root)
        document, found = yamlfile.read(path, shown)
        problems += found
        if errors(found):
            continue
        parsed, found = validate(ConceptFile, document, shown)
        problems += found
        if parsed is None or not isinstance(document, yamlfile.YMap):
            continue
        table = document.get("concepts")
        for name, words in parsed.concepts.items():
            where = yamlfile.origin_of(table, name, Origin(file=shown))
            kept = []
            for word in (name, *words):
                key = word.strip().lower()
                if len(key) < MIN_WORD and not _LATIN.fullmatch(key):
                    problems.append(problem("concept-word-short", where, word=word, concept=name))
                    continue
                if key in owner:
                    other, other_at = owner[key]
                    if other != name or other_at != where:
                        problems.append(problem(
                            "concept-word-twice", where, word=word, concept=name, other=other, at=other_at
                        ))  # fmt: skip
                    continue
                owner[key] = (name, where)
                if word != name:
                    kept.append(key)
            concepts.append(Concept(name=name.strip().lower(), words=tuple(kept), origin=where))
    return concepts, problems
