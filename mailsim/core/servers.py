"""A FIFO queue in front of c identical servers, computed in closed form: CPU cores and disks of a host.

Theory of operation
-------------------
A job that arrives at ``t`` needing ``s`` seconds of service takes the server that frees first: it
starts at ``max(t, earliest free)`` and ends at ``start + s``; that server is then free at the end.
The next-free time of each server lives in a small heap, so charging a job is O(log c) and costs no
simpy event at all: the caller waits ``end - now`` with one timeout (or ``asyncio.sleep``). Jobs are
served in the order they are *charged*, which is the arrival order as long as every job arrives
``now`` (a job charged to arrive later, like the fsync after cleanup's CPU work, keeps its place).

The accounting that utilisation samples read is exact: every job's busy interval ``[start, end)`` is
kept until it lies wholly in the past, so :meth:`FifoServers.sample` gives the busy seconds inside
``(last sample, t]`` even while the backlog reaches into the future. Jobs and queue waits are counted
when charged. Nothing here knows about simpy, hosts or mail: time is an argument.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """What a resource did between two samples: busy server-seconds, jobs charged, and their queue wait."""

    busy: float
    jobs: int
    wait: float


class FifoServers:
    """``servers`` identical servers fed by one FIFO queue (a c-server queue with c = ``servers``)."""

    def __init__(self, servers: int) -> None:
        if servers < 1:
            raise ValueError(f"a resource needs at least one server, not {servers}")
        self.servers = servers
        self._free = [0.0] * servers
        self._open: deque[tuple[float, float]] = deque()  # busy intervals not yet wholly sampled
        self._jobs = 0
        self._wait = 0.0
        self._sampled = 0.0

    def charge(self, arrival: float, cost: float) -> float:
        """Queue a job arriving at ``arrival`` that needs ``cost`` seconds; returns when it ends."""
        free = heapq.heappop(self._free)
        start = arrival if arrival > free else free
        end = start + cost
        heapq.heappush(self._free, end)
        self._jobs += 1
        self._wait += start - arrival
        if cost > 0:
            self._open.append((start, end))
        return end

    def next_free(self) -> float:
        """When the first server is free again (a job arriving then would not wait)."""
        return self._free[0]

    def sample(self, now: float) -> Sample:
        """Busy server-seconds in ``(last sample, now]``, jobs charged and their total wait since then."""
        since, busy = self._sampled, 0.0
        kept: deque[tuple[float, float]] = deque()
        for start, end in self._open:
            busy += max(0.0, min(end, now) - max(start, since))
            if end > now:
                kept.append((start, end))
        self._open = kept
        out = Sample(busy, self._jobs, self._wait)
        self._sampled, self._jobs, self._wait = now, 0, 0.0
        return out


class Occupancy:
    """How many of ``capacity`` processes are busy over time (master.cf maxproc slots), integrated exactly."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.busy = 0
        self._since = 0.0
        self._area = 0.0
        self._jobs = 0
        self._wait = 0.0

    def change(self, now: float, delta: int, wait: float = 0.0) -> None:
        """``delta`` processes start (+) or finish (-) at ``now``; a start reports how long it queued."""
        self._area += self.busy * (now - self._since)
        self._since = now
        self.busy += delta
        if delta > 0:
            self._jobs += delta
            self._wait += wait

    def sample(self, now: float) -> Sample:
        """Busy process-seconds since the last sample, processes started and their total queue wait."""
        self.change(now, 0)
        out = Sample(self._area, self._jobs, self._wait)
        self._area, self._jobs, self._wait = 0.0, 0, 0.0
        return out
