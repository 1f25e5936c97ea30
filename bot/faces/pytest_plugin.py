"""pytest collects regression dialogues: every YAML file under a `dialogues/` folder is a test file and
each dialogue in it a test item. Registered through the `pytest11` entry point, so a shop's own repo
gets it by installing this package. The shop is the nearest config.yaml above the dialogue file, or
the one given with `--bot-config`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.problems import LoadError, errors
from bot.report import dialogues as report_dialogues
from bot.runners import dialogues
from bot.service import Bot

_BOTS = pytest.StashKey[dict[Path, Bot]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dianxiaoer", "店小二 regression dialogues")
    group.addoption("--bot-config", default=None, help="config.yaml of the shop the dialogues run against")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_BOTS] = {}


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and "dialogues" in file_path.parts[:-1]:
        return DialogueFile.from_parent(parent, path=file_path)
    return None


def _config_for(config: pytest.Config, path: Path) -> Path:
    given = config.getoption("--bot-config")
    if given:
        return Path(given).resolve()
    for parent in path.resolve().parents:
        if (parent / "config.yaml").is_file():
            return parent / "config.yaml"
    raise pytest.UsageError(f"no config.yaml above {path}; pass --bot-config")


class DialogueFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        shown = (
            self.path.relative_to(self.config.rootpath)
            if self.path.is_relative_to(self.config.rootpath)
            else self.path
        )
        found, problems = dialogues.load(self.path, str(shown))
        if errors(problems):
            raise LoadError(problems, ("对话文件", "the dialogue file"))
        for dialogue in found:
            yield DialogueItem.from_parent(self, name=dialogue.name, dialogue=dialogue)


class DialogueFailed(Exception):
    pass


class DialogueItem(pytest.Item):
    def __init__(self, *, dialogue: dialogues.Dialogue, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dialogue = dialogue

    def _bot(self) -> Bot:
        path = _config_for(self.config, self.path)
        bots = self.config.stash[_BOTS]
        if path not in bots:
            bots[path] = Bot.from_config(path)
        return bots[path]

    def runtest(self) -> None:
        bot = self._bot()
        result = dialogues.run(bot, self.dialogue)
        if not result.passed:
            raise DialogueFailed(report_dialogues.summary([result], bot.title))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, DialogueFailed | LoadError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.dialogue.origin.line - 1, 0), f"dialogue: {self.name}"
