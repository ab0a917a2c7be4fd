"""master(8)'s process limit for an inet service: how many smtpd processes serve connections at once.

master.cf's ``maxproc`` column (``-`` = default_process_limit, 100; 0 = no limit) caps the smtpd
processes of a service. When all are busy the kernel still completes new TCP handshakes (the
connection waits in the listen queue) but nobody greets the client until a process is free; the
connections waiting are served first come, first served. The client's greeting timeout
(smtp_helo_timeout, 300 s, in Postfix's client) runs meanwhile; a client that gives up leaves the
line and is never seen by smtpd (Postfix would still accept it later and log a lost connection at
once; the model leaves no record). A process serves one connection until it ends.

The wait is in smtpd's connect hook (:mod:`mailsim.mta.smtpd`), which both fidelities call. Busy
processes are counted in an :class:`~mailsim.core.servers.Occupancy` the host's hardware samples.

Postfix parameters read: maxproc of the service (master.cf), default_process_limit (100).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from mailsim.core.servers import Occupancy

_KEY = "master-process"  # in the session's state: BUSY, or the future of a connection still waiting
BUSY = "busy"


class ProcessLimit:
    """The smtpd processes of one master.cf inet service, handed out in connection order."""

    def __init__(self, limit: int, occupancy: Occupancy) -> None:
        self.limit = limit
        self.occupancy = occupancy
        self.waiting: deque[tuple[asyncio.Future[None], dict[str, Any], float]] = deque()

    async def enter(self, state: dict[str, Any], now: float) -> None:
        """Wait (FIFO) until a process is free and takes this connection."""
        if self.limit <= 0 or (self.occupancy.busy < self.limit and not self.waiting):
            state[_KEY] = BUSY
            self.occupancy.change(now, +1)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((future, state, now))
        state[_KEY] = future
        try:
            await future
        except asyncio.CancelledError:
            self._forget(future)
            raise

    def leave(self, state: dict[str, Any], now: float) -> None:
        """The connection is gone: free its process for the next in line, or leave the line."""
        held = state.pop(_KEY, None)
        if held is None:
            return
        if held != BUSY:
            self._forget(held)
            if not held.done():
                held.cancel()
            return
        self.occupancy.change(now, -1)
        while self.waiting:
            future, waiter, since = self.waiting.popleft()
            if not future.done():
                waiter[_KEY] = BUSY
                self.occupancy.change(now, +1, wait=now - since)
                future.set_result(None)
                return

    def _forget(self, future: asyncio.Future[None]) -> None:
        for item in self.waiting:
            if item[0] is future:
                self.waiting.remove(item)
                return


def for_service(host: Any, service: str) -> ProcessLimit:
    """The process limit of a master.cf inet service of the host, counted in ``host.occupancy``."""
    entry = host.config.master.service(service, "inet")
    limit = entry.process_limit(host.main) if entry is not None else host.main.int("default_process_limit")
    return ProcessLimit(limit, host.occupancy.setdefault(f"smtpd:{service}", Occupancy(limit)))
