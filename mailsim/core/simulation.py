"""The simulation kernel: one simpy environment, its asyncio loop, its trace and its random streams.

Many runs live in one process (sweeps, tests), so nothing here is global: a :class:`Simulation`
owns everything a run needs. The asyncio loop that runs on ``env.now`` lives in ``engine/`` (the
seam of DESIGN.md §1) and is passed in as a factory, because the kernel sits below it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import simpy

from mailsim.core.clock import DEFAULT_EPOCH, wallclock
from mailsim.core.rng import RandomStreams
from mailsim.core.trace import Trace, TraceRecord

LoopFactory = Callable[["Simulation"], asyncio.AbstractEventLoop]


class Simulation:
    """A run: ``env`` (simpy), ``loop`` (asyncio on virtual time, if given), ``trace`` and ``streams``."""

    def __init__(
        self,
        seed: int = 0,
        *,
        loop_factory: LoopFactory | None = None,
        epoch: datetime = DEFAULT_EPOCH,
        keep_trace: bool = True,
    ) -> None:
        self.seed = int(seed)
        self.env = simpy.Environment()
        self.epoch = epoch
        self.streams = RandomStreams(self.seed)
        self.trace = Trace(lambda: self.env.now, keep=keep_trace)
        self.loop: asyncio.AbstractEventLoop | None = loop_factory(self) if loop_factory else None
        self._counters: dict[str, int] = {}

    @property
    def now(self) -> float:
        return float(self.env.now)

    def wallclock(self, at: float | None = None) -> datetime:
        """Calendar time of virtual time ``at`` (default: now)."""
        return wallclock(self.epoch, self.now if at is None else at)

    def rng(self, name: str) -> np.random.Generator:
        """The named random stream (see :mod:`mailsim.core.rng`)."""
        return self.streams.stream(name)

    def emit(self, host: str, service: str, event: str, **fields: Any) -> TraceRecord:
        """Record an event at the current virtual time."""
        return self.trace.emit(host, service, event, **fields)

    def counter(self, name: str) -> int:
        """A run-local sequence number (queue ids, session ids): never from wall clocks."""
        value = self._counters.get(name, 0) + 1
        self._counters[name] = value
        return value

    def run(self, until: float | None = None) -> None:
        """Advance virtual time; the asyncio loop (if any) is the running loop meanwhile."""
        runner = getattr(self.loop, "run_simulation", None)
        if runner is not None:
            runner(until)
        else:
            self.env.run(until=until)
