"""What the processes that share one SQLite file coordinate through: one small file beside it.

It holds a lock that writers take in turn (the kernel wakes the next one as soon as it is free,
where SQLite's busy handler sleeps for milliseconds), and a table of the turn each session last
reached, which a process reads from memory to tell whether a session it remembers is still
current without asking SQLite. The table is a hint: two sessions may share a slot and a read may
race a write. Acting on a wrong hint costs a write that conflicts and a retry, never a wrong turn.
"""

from __future__ import annotations

import mmap
import os
import struct
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


class SharedFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._pid = 0  # the process that opened the file: a forked child opens its own
        self._fd = -1
        self._map: mmap.mmap | None = None

    def _opened(self) -> mmap.mmap:
        if self._pid != os.getpid() or self._map is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            size = SLOTS * _SLOT.size
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
            self._fd, self._map, self._pid = fd, mmap.mmap(fd, size), os.getpid()
        return self._map

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Held while writing: one process at a time."""
        self._opened()
        if fcntl is None:  # pragma: no cover
            yield
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def turn(self, key: str) -> int | None:
        """The turn the session last reached, as far as the table knows."""
        tag = zlib.crc32(key.encode())
        seen, turn = _SLOT.unpack_from(self._opened(), tag % SLOTS * _SLOT.size)
        return turn if seen == tag else None

    def reached(self, turns: Iterable[tuple[str, int]]) -> None:
        table = self._opened()
        for key, turn in turns:
            tag = zlib.crc32(key.encode())
            _SLOT.pack_into(table, tag % SLOTS * _SLOT.size, tag, turn)
