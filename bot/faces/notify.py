"""Telling the service manager how the server is: systemd's sd_notify protocol.

`READY=1` once the server answers, `WATCHDOG=1` while its event loop turns, `STOPPING=1` when it
shuts down. With `Type=notify` and `WatchdogSec=` in the unit (deploy/dianxiaoer.service), systemd
restarts a server whose loop has hung or that was stopped (SIGSTOP): with one worker, `bot serve`
is a single process that nothing of ours watches, and a well-kept supervisor does it instead. With
`--workers N` the supervisor process speaks to systemd, and replaces hung workers itself.

Outside systemd (no NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


class Notifier:
    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address  # @: abstract
        watchdog = environ.get("WATCHDOG_USEC", "")
        ours = environ.get("WATCHDOG_PID", str(os.getpid())) == str(os.getpid())  # not a child's
        usec = int(watchdog) if watchdog.isdigit() and ours else 0
        self._every = usec / 1e6 / 3 if usec else None  # three pings per period: one late is no restart
        self._last = 0.0
        self._socket: socket.socket | None = None

    def ready(self) -> bool:
        """READY=1; False if it could not be sent now (say it again on the next tick)."""
        return self._send("READY=1\nSTATUS=serving")

    def alive(self) -> None:
        """Called on every turn of the loop once ready; pings only as often as the watchdog needs."""
        now = time.monotonic()
        if self._every is not None and now - self._last >= self._every:
            self._last = now
            self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def _send(self, state: str) -> bool:
        if not self._address:
            return True
        # Never block: a manager that does not read (its queue holds ~10 datagrams) or has gone away
        # must not stop the loop; a ping dropped is one of three a period.
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            self._socket.sendto(state.encode(), self._address)
        except OSError:
            return False
        return True
