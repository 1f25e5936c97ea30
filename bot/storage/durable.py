"""Making a SQLite file's commits durable without holding the event loop on the disk.

The connections commit with `synchronous=NORMAL`: in WAL mode a commit then writes its frames to the
`-wal` file (the page cache) and does not wait for the disk. Before a write is acknowledged, this
thread fdatasyncs the `-wal` file, which makes every commit written before it durable: one sync
covers all the commits made while the one before it ran (group commit on the disk's side too), and
the loop answers /healthz and other buyers meanwhile. A disk that hangs holds the writes waiting for
it, up to the caller's bound, and nothing else.

It also checkpoints the WAL into the database when it has grown (the connections' automatic
checkpoint, which would sync both files inside a commit on the loop, is off).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

# A checkpoint once the WAL holds about this much (SQLite's own default is 1000 pages of 4 KB).
CHECKPOINT_BYTES = 4 * 1024 * 1024
# The thread ends when no write has waited for it this long; the next write starts it again.
IDLE_SECONDS = 5.0

Done = Callable[[OSError | None], None]


class Syncer:
    """One thread per database file and process: `after(loop, done)` calls `done(None)` on `loop`
    once everything committed before the call is on the disk, or `done(error)` if the sync failed."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._wal = path.with_name(path.name + "-wal")
        self._condition = threading.Condition()
        self._waiting: list[tuple[asyncio.AbstractEventLoop, Done]] = []
        self._running = False
        self._synced_inode: int | None = None

    def after(self, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        with self._condition:
            self._waiting.append((loop, done))
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name=f"sync {self._path.name}", daemon=True).start()
            self._condition.notify()

    async def durable(self) -> None:
        """Wait until what this process committed so far is on the disk."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def done(error: OSError | None) -> None:
            if not future.done():
                future.set_exception(error) if error else future.set_result(None)

        self.after(loop, done)
        await future

    def sync_now(self) -> None:
        """The same sync, in the calling thread (at start, before any loop runs)."""
        self._sync()

    def _run(self) -> None:
        while True:
            with self._condition:
                if not self._waiting:
                    self._condition.wait(IDLE_SECONDS)
                if not self._waiting:
                    self._running = False
                    return
                waiting, self._waiting = self._waiting, []
            error: OSError | None = None
            try:
                size = self._sync()
            except OSError as exc:
                error, size = exc, 0
            for loop, done in waiting:
                with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits any more
                    loop.call_soon_threadsafe(done, error)
            if size > CHECKPOINT_BYTES:
                self._checkpoint()

    def _sync(self) -> int:
        """fdatasync the WAL (and, when SQLite has made a new one, its directory); its size."""
        try:
            fd = os.open(self._wal, os.O_RDONLY)
        except FileNotFoundError:
            return 0  # nothing committed in WAL mode yet, or the last connection checkpointed it away
        try:
            os.fdatasync(fd)
            stat = os.fstat(fd)
        finally:
            os.close(fd)
        if stat.st_ino != self._synced_inode:
            directory = os.open(self._wal.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            self._synced_inode = stat.st_ino
        return stat.st_size

    def _checkpoint(self) -> None:
        """Copy the WAL into the database without waiting for readers or writers (PASSIVE); the WAL
        is reused from its start by the next commit once every frame is copied."""
        with (
            contextlib.suppress(sqlite3.Error),
            contextlib.closing(sqlite3.connect(self._path, timeout=0)) as db,
        ):
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
