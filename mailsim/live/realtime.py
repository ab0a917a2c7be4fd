"""Real-time driving of a simulation's simpy world from a stock asyncio loop (``mailsim serve``).

In a live run the agents are asyncio code on the ordinary event loop with real sockets, while the daemons
(cleanup, qmgr, local, bounce) stay simpy processes (DESIGN.md §1). :class:`RealtimeDriver` is the one task
that keeps simpy's clock in step with the wall clock, as ``simpy.rt.RealtimeEnvironment`` does but without
blocking the asyncio loop: it advances ``env`` to the virtual time that corresponds to "now", sleeps until
the next simpy event is due (at most ``max_sleep``) and wakes early when :meth:`wake` is called.

Virtual time ``t`` is due at wall time ``start_wall + (t - start_virtual) * factor``. Asyncio code that
triggers a simpy event (puts a message into cleanup's queue, say) should call :meth:`sync` first, so the event
is stamped with the current time rather than the last step's, then :meth:`wake` so it is processed at once.
A simpy process that raises stops the driver, and :meth:`run` raises it.

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
import math

from mailsim.core.simulation import Simulation


class RealtimeDriver:
    """Advance ``sim.env`` with the wall clock of ``loop`` (a stock asyncio loop); see the module docstring."""

    def __init__(
        self,
        sim: Simulation,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        factor: float = 1.0,
        max_sleep: float = 0.25,
    ) -> None:
        if factor <= 0:
            raise ValueError("factor must be positive (wall seconds per virtual second)")
        self.sim = sim
        self.env = sim.env
        self.loop = loop
        self.factor = factor
        self.max_sleep = max_sleep
        self.lag = 0.0  # the largest delay seen between an event's due time and its processing (wall seconds)
        self._start_wall = 0.0
        self._start_virtual = 0.0
        self._stepping = False
        self._stopped = False
        self._wakeup: asyncio.Event | None = None

    def _clock(self) -> asyncio.AbstractEventLoop:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        return self.loop

    def virtual_now(self) -> float:
        """The virtual time that corresponds to this wall-clock instant."""
        return self._start_virtual + (self._clock().time() - self._start_wall) / self.factor

    def sync(self) -> None:
        """Process everything due and bring ``env.now`` up to the wall clock (no-op inside a simpy step)."""
        self._advance(self.virtual_now())

    def _advance(self, target: float) -> None:
        if self._stepping or target <= self.env.now:
            return
        self._stepping = True
        try:
            self.sim.run(until=target)  # with the SimLoop as running loop while simulated agents step
        finally:
            self._stepping = False

    def wake(self) -> None:
        """Make the driver look at the event queue now (after asyncio code scheduled something in simpy)."""
        if self._wakeup is not None:
            self._wakeup.set()

    def stop(self) -> None:
        self._stopped = True
        self.wake()

    def start(self, until: float | None = None) -> asyncio.Task[None]:
        """Run :meth:`run` as a task on the loop."""
        return self._clock().create_task(self.run(until))

    async def run(self, until: float | None = None) -> None:
        """Drive simpy until virtual time ``until`` (or :meth:`stop`)."""
        loop = self._clock()
        self._start_wall, self._start_virtual = loop.time(), self.env.now
        self._wakeup = asyncio.Event()
        self._stopped = False
        while not self._stopped:
            due = self.env.peek()
            self._advance(min(self.virtual_now(), until if until is not None else math.inf))
            if math.isfinite(due) and due <= self.env.now:
                self.lag = max(self.lag, (self.env.now - due) * self.factor)
            if until is not None and self.env.now >= until:
                return
            next_due = min(self.env.peek(), until if until is not None else math.inf)
            delay = (next_due - self.virtual_now()) * self.factor
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=max(0.0, min(delay, self.max_sleep)))
            except TimeoutError:
                pass
