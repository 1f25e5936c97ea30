"""Shop id → its loaded engine, for a server that hosts one shop or several.

The server's config.yaml is the default shop (id `default`, answered when a request names none);
its `shops:` table adds more, each a folder with its own config.yaml, intents/ and responses/. Each
shop loads and reloads on its own: a reload builds a new engine and swaps one reference, or changes
nothing, and a shop whose files are broken never stops the others (its requests get 503 until a
good reload).
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from bot.engine import Engine
from bot.model import DEFAULT_SHOP
from bot.problems import Problem, errors
from bot.settings import Settings
from bot.shop import load_shop
from bot.watch import Watcher

log = logging.getLogger("bot")


class UnknownShop(LookupError):
    """The server hosts no shop of this id."""


class ShopUnavailable(Exception):
    """The shop is listed but its files could not be loaded; the problems say why."""

    def __init__(self, shop: str, problems: list[Problem]) -> None:
        super().__init__(shop)
        self.shop, self.problems = shop, problems


class Shops:
    """The shops one server answers for. Calling it with a shop id gives that shop's engine."""

    def __init__(self, configs: dict[str, Path], first: dict[str, Engine | list[Problem]]) -> None:
        self.configs = configs  # shop id → its config.yaml
        self._engines: dict[str, Engine] = {k: v for k, v in first.items() if isinstance(v, Engine)}
        self._broken: dict[str, list[Problem]] = {k: v for k, v in first.items() if isinstance(v, list)}
        self._lock = threading.Lock()  # one reload at a time; turns read the table without it

    @classmethod
    def from_config(cls, path: str | Path) -> Shops:
        """The shop at `path` (the default) and every shop its `shops:` table lists. `LoadError` if
        the default shop cannot load; a listed shop that cannot is logged and kept out until fixed."""
        default = Engine.from_config(path)
        configs = {DEFAULT_SHOP: Path(path), **dict(default.shop.settings.shops)}
        first: dict[str, Engine | list[Problem]] = {DEFAULT_SHOP: default}
        for shop_id, config in configs.items():
            if shop_id != DEFAULT_SHOP:
                first[shop_id] = _load(shop_id, config)
        return cls(configs, first)

    @property
    def default(self) -> Engine:
        return self(DEFAULT_SHOP)

    def __call__(self, shop_id: str) -> Engine:
        engine = self._engines.get(shop_id)
        if engine is not None:
            return engine
        if shop_id in self._broken:
            raise ShopUnavailable(shop_id, self._broken[shop_id])
        raise UnknownShop(shop_id)

    def ids(self) -> list[str]:
        return list(self.configs)

    def reload(self, shop_id: str) -> tuple[bool, list[Problem]]:
        """Load one shop again and swap it in, or leave its old engine serving."""
        if shop_id not in self.configs:
            raise UnknownShop(shop_id)
        with self._lock:
            loaded = _load(shop_id, self.configs[shop_id])
            if isinstance(loaded, list):
                if shop_id not in self._engines:
                    self._broken[shop_id] = loaded
                return False, loaded
            self._engines[shop_id] = loaded
            self._broken.pop(shop_id, None)
            settle()
            return True, []

    def watchers(self) -> list[Watcher]:
        """One watcher per shop, each reloading only its own shop when its files change."""
        return [
            Watcher(config, self._settings_of(shop_id), self._reload_logged(shop_id))
            for shop_id, config in self.configs.items()
        ]

    def _settings_of(self, shop_id: str) -> Callable[[], Settings | None]:
        def settings() -> Settings | None:
            engine = self._engines.get(shop_id)
            return engine.shop.settings if engine is not None else None

        return settings

    def _reload_logged(self, shop_id: str) -> Callable[[], None]:
        def reload() -> None:
            ok, problems = self.reload(shop_id)
            if ok:
                fingerprint = self._engines[shop_id].shop.intents.fingerprint
                log.info(json.dumps({"event": "reloaded", "shop": shop_id, "fingerprint": fingerprint}))
            else:
                log.error(
                    "店铺 %s 的文件有错误，继续使用旧的配置 (shop %s: files have errors; the old set keeps"
                    " serving):\n%s",
                    shop_id,
                    shop_id,
                    "\n".join(p.render() for p in problems),
                )

        return reload


def _load(shop_id: str, config: Path) -> Engine | list[Problem]:
    shop, problems = load_shop(config)
    if shop is None or errors(problems):
        if shop_id != DEFAULT_SHOP:
            log.error("店铺 %s 无法加载 (shop %s cannot load):\n%s", shop_id, shop_id,
                      "\n".join(p.render() for p in problems))  # fmt: skip
        return problems
    return Engine(shop)


def settle() -> None:
    """Take the loaded shops (jieba's dictionary, the index, the templates) out of the cyclic garbage
    collector's view: otherwise every full collection walks all of it, a 30-40 ms pause of every
    request in flight, several times a minute under load. Refcounting still frees an old shop."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
