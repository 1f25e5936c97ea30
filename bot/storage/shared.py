"""What the processes that share one SQLite file coordinate through: one small file beside it.

It holds a lock that writers take in turn (the kernel wakes the next one as soon as it is free,
where SQLite's busy handler sleeps for milliseconds), and a table of the turn each session last
reached, which a process reads to tell whether a session it remembers is still current without
asking SQLite. The table is a hint: two sessions may share a slot and a read may race a write.
Acting on a wrong hint costs a write that conflicts and a retry, never a wrong turn.

The table is read and written with pread/pwrite, never mapped into memory: a file that someone
truncates or damages then reads as "no hint" (and is rebuilt, with one log line) instead of killing
every process that maps it with SIGBUS.
"""

from __future__ import annotations

import logging
import os
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's own locking alone
    fcntl = None  # type: ignore[assignment]

_SLOT = struct.Struct("<II")  # (crc32 of the session key, the turn it reached)
SLOTS = 1 << 16
SIZE = SLOTS * _SLOT.size

log = logging.getLogger("bot")


class Locked(Exception):
    """The write lock was not free within the time given."""


class SharedFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._pid = 0  # the process that opened the file: a forked child opens its own
        self._fd = -1

    def _opened(self) -> int:
        if self._pid != os.getpid() or self._fd < 0:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if os.fstat(fd).st_size < SIZE:
                os.ftruncate(fd, SIZE)
            self._fd, self._pid = fd, os.getpid()
        return self._fd

    @contextmanager
    def lock(self, wait: float | None = None) -> Iterator[None]:
        """Held while writing: one process at a time. `wait` bounds how long to wait for it
        (`Locked` after; 0: only if free now); None waits as long as it takes (a thread's writes)."""
        fd = self._opened()
        if fcntl is None:  # pragma: no cover
            yield
            return
        if wait is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Locked(str(self.path)) from None
                    time.sleep(0.0005)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def turn(self, key: str) -> int | None:
        """The turn the session last reached, as far as the table knows."""
        tag = zlib.crc32(key.encode())
        raw = os.pread(self._opened(), _SLOT.size, tag % SLOTS * _SLOT.size)
        if len(raw) < _SLOT.size:  # the file was cut short under us: no hint, and a whole table again
            self._rebuild()
            return None
        seen, turn = _SLOT.unpack(raw)
        return turn if seen == tag else None

    def reached(self, turns: Iterable[tuple[str, int]]) -> None:
        fd = self._opened()
        for key, turn in turns:
            tag = zlib.crc32(key.encode())
            os.pwrite(fd, _SLOT.pack(tag, turn), tag % SLOTS * _SLOT.size)

    def _rebuild(self) -> None:
        fd = self._opened()
        if os.fstat(fd).st_size < SIZE:
            os.ftruncate(fd, SIZE)  # zeros: "no hint" for every session, which is always safe
            log.error('{"event": "shared_file_rebuilt", "path": "%s", "reason": "truncated"}', self.path.name)


__all__ = ["SIZE", "SLOTS", "Locked", "SharedFile"]
