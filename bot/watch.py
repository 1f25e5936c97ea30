"""Notice when a shop's files change: a polling thread over config.yaml, intents/ and responses/.

Polling (every 0.3 s) needs no extra package, works on every file system and in containers, and a
shop has a few dozen files, so one scan costs well under a millisecond.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from bot.settings import Settings


def snapshot(config_path: Path, settings: Settings | None) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of every file a shop is made of (without settings, a shop
    that never loaded: the folders next to its config.yaml)."""
    folders = (
        (settings.intents_dir, settings.responses_dir, settings.concepts_dir)
        if settings is not None
        else tuple(config_path.parent / name for name in ("intents", "responses", "concepts"))
    )
    files = [config_path, *(p for d in folders for p in d.glob("*.yaml"))]
    out = []
    for path in sorted(files):
        try:
            stat = path.stat()
        except OSError:
            continue
        out.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(out)


class Watcher:
    """Calls `on_change()` (in its own thread) after the shop's files change."""

    def __init__(
        self,
        config_path: Path,
        settings: Callable[[], Settings | None],
        on_change: Callable[[], None],
        interval: float = 0.3,
    ) -> None:
        self._config = config_path
        self._settings = settings
        self._on_change = on_change
        self._interval = interval
        self._stop = threading.Event()
        self._seen: tuple[tuple[str, int, int], ...] = ()
        self._thread = threading.Thread(target=self._run, name="shop-watcher", daemon=True)

    def start(self) -> None:
        # What the files are now, taken here and not in the thread: a change made right after start
        # (before the thread first runs, on a busy machine) is then a change, not the starting point.
        self._seen = snapshot(self._config, self._settings())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        seen = self._seen
        while not self._stop.wait(self._interval):
            now = snapshot(self._config, self._settings())
            if now != seen:
                seen = now
                self._on_change()
