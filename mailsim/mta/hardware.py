"""The machine under a Postfix instance: CPU cores and a disk that its daemons' work queues for.

A host that declares ``hardware`` in scenario.toml (see :mod:`mailsim.scenario.spec`) gets a
:class:`Hardware`: its CPU is a FIFO c-server queue with c = ``cores`` and its disk a 1-server FIFO
queue (:class:`mailsim.core.servers.FifoServers`, computed in closed form: a charge is one heap
operation and the daemon waits once). A host without it is an ideal machine: no cost at all, which
is how every scenario ran before (and still runs) unless it asks.

Where each daemon is charged (the same hooks run in the ``wire`` and ``fast`` fidelities, so both
charge alike):

- smtpd (:mod:`mailsim.mta.smtpd`): per message at the end of DATA, in parallel with cleanup's work
  on the same stream; the 250 goes out when both are done and the queue file is on disk.
- cleanup (:mod:`mailsim.mta.cleanup`): per queued message, then one fsync of the queue file on the
  disk (Postfix fsyncs the file before cleanup answers, and only then tells qmgr).
- qmgr and the delivery agents (smtp, lmtp, local, virtual, pipe, discard, error): one job per
  delivery request, qmgr's share plus the agent's, before the agent runs (:class:`ChargedAgent`).
  qmgr's cost is thus counted per request it hands out, not per message it activates.

Default costs: one CPU job costs ``per message + per KB x size`` (KB = 1000 bytes); the fsync
costs ``fsync``. The numbers are estimates, not measurements, and each is configurable per host
and per daemon (``cpu = { smtpd = "300us + 10us/KB" }``):

========  ============  ========  ==========================================================
daemon    per message   per KB    why
========  ============  ========  ==========================================================
smtpd     300 us        10 us     session work, restrictions, reading the DATA stream
cleanup   200 us        10 us     header/body parsing and the queue file write (CPU part)
qmgr      50 us         0         scheduling one delivery request
smtp      300 us        5 us      one client session's CPU (not its network waits)
lmtp      300 us        5 us      as smtp
local     200 us        5 us      aliases, .forward, mailbox append (CPU part)
virtual   150 us        5 us      mailbox append (CPU part)
pipe      1 ms          5 us      fork and exec of the command
discard   50 us         0         decide and report
error     50 us         0         decide and report
fsync     2 ms          --        one fsync of the queue file (disk, 1 server)
========  ============  ========  ==========================================================

Sources: postfix.org's performance note gives an "intrinsic" limit of about 2500 deliveries per
second with the queue on a RAM disk and the discard transport on a dual-core 2007 Opteron, which is
about 0.8 ms of CPU per message for smtpd + cleanup + qmgr + discard on two cores (the table sums to
0.6 ms for small messages); the same note gives about 300 deliveries per second across the Internet
on a 2003 server with a battery-backed RAID controller, where the disk (queue file create, fsync,
delete) is the limit: a few ms per message, of which the fsync here takes 2 ms (a bare 7200 rpm disk
without write cache is nearer 8 ms, an SSD well under 1 ms). Today's cores are several times faster
than 2007's; set lower costs to model them.

Utilisation: every ``sample`` seconds (default 60 s, 0 = never) each resource of the host writes one
``resource`` ``sample`` record: resource (``cpu``, ``disk``, ``smtpd:SERVICE`` for an smtpd's
processes, or a transport name for its delivery processes), capacity, busy (server-seconds in the
interval), interval, jobs (charged in it) and wait (their total queue wait).

Postfix parameters read: none here (the process limits come from master.cf through the host).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from mailsim.core.servers import FifoServers, Occupancy, Sample
from mailsim.core.units import parse_duration


@dataclass(frozen=True, slots=True)
class Cost:
    """CPU seconds of one job: a fixed part and a part per KB (1000 bytes) of message."""

    per_message: float
    per_kb: float = 0.0

    def of(self, size: int) -> float:
        return self.per_message + self.per_kb * size / 1000.0


DEFAULT_COSTS: dict[str, Cost] = {
    "smtpd": Cost(300e-6, 10e-6),
    "cleanup": Cost(200e-6, 10e-6),
    "qmgr": Cost(50e-6),
    "smtp": Cost(300e-6, 5e-6),
    "lmtp": Cost(300e-6, 5e-6),
    "local": Cost(200e-6, 5e-6),
    "virtual": Cost(150e-6, 5e-6),
    "pipe": Cost(1e-3, 5e-6),
    "discard": Cost(50e-6),
    "error": Cost(50e-6),
}
DAEMONS = tuple(DEFAULT_COSTS)
DEFAULT_FSYNC = 2e-3
DEFAULT_SAMPLE = 60.0


def parse_cost(text: str) -> Cost:
    """``"300us + 10us/KB"``, ``"2ms"`` or ``"10us/KB"``: a per-message and a per-KB duration."""
    per_message = per_kb = 0.0
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"not a cost: {text!r}")
    for term in text.split("+"):
        term = term.strip()
        if term.lower().endswith("/kb"):
            per_kb += parse_duration(term[:-3])
        else:
            per_message += parse_duration(term)
    return Cost(per_message, per_kb)


@dataclass(frozen=True, slots=True)
class HardwareSpec:
    """A host's declared machine: cores, the fsync time of its disk, CPU costs per daemon, sampling period."""

    cores: int = 2
    fsync: float = DEFAULT_FSYNC
    cpu: tuple[tuple[str, Cost], ...] = ()
    sample: float = DEFAULT_SAMPLE

    def cost(self, daemon: str) -> Cost:
        """The declared cost of a daemon, else the default (zero for a daemon the table does not know)."""
        for name, cost in self.cpu:
            if name == daemon:
                return cost
        return DEFAULT_COSTS.get(daemon, Cost(0.0))


class Hardware:
    """One host's CPU and disk, and the sampler that writes their utilisation into the trace."""

    def __init__(self, host: Any, spec: HardwareSpec) -> None:
        self.host = host
        self.sim = host.sim
        self.spec = spec
        self.cpu = FifoServers(spec.cores)
        self.disk = FifoServers(1)
        self.costs = {name: spec.cost(name) for name in DAEMONS} | dict(spec.cpu)
        self._sampled = self.sim.env.now  # the end of the last sample's interval
        if spec.sample > 0:
            self.sim.env.process(self._sampler(spec.sample))

    def work(self, daemon: str, size: int) -> float:
        """Charge one CPU job of ``daemon`` for a message of ``size`` bytes now; seconds until it is done."""
        now = self.sim.env.now
        return self.cpu.charge(now, self.costs[daemon].of(size)) - now

    def store(self, size: int) -> float:
        """cleanup's work on a queue file, then its fsync: seconds until the file is safely on disk."""
        now = self.sim.env.now
        done = self.cpu.charge(now, self.costs["cleanup"].of(size))
        return self.disk.charge(done, self.spec.fsync) - now

    def delivery(self, command: str, size: int) -> float:
        """qmgr's share of a delivery request and the delivery agent's work, as one CPU job now."""
        now = self.sim.env.now
        cost = self.costs["qmgr"].of(size) + self.costs.get(command, Cost(0.0)).of(size)
        return self.cpu.charge(now, cost) - now

    def flush(self) -> None:
        """A last, partial sample when the run ends (simpy stops before a sample due exactly then)."""
        now = self.sim.env.now
        if self.spec.sample > 0 and now > self._sampled:
            self._sample(now)

    def _sampler(self, period: float) -> Generator[simpy.Event, Any, None]:
        env = self.sim.env
        while True:
            yield env.timeout(period)
            self._sample(env.now)

    def _sample(self, now: float) -> None:
        interval, self._sampled = now - self._sampled, now
        self._emit("cpu", self.spec.cores, self.cpu.sample(now), interval)
        self._emit("disk", 1, self.disk.sample(now), interval)
        for name, occupancy in list(self.host.occupancy.items()):
            self._emit(name, occupancy.capacity, occupancy.sample(now), interval)

    def _emit(self, resource: str, capacity: int, sample: Sample, period: float) -> None:
        self.sim.emit(self.host.name, "resource", "sample", resource=resource, capacity=capacity, busy=sample.busy,
                      interval=period, jobs=sample.jobs, wait=sample.wait)  # fmt: skip


class ChargedAgent:
    """A delivery agent on a host with hardware: each request first waits for its CPU job, then runs.

    It also counts the transport's busy processes (qmgr's slots, master.cf maxproc) for the samples.
    """

    def __init__(self, host: Any, transport: str, inner: Any, command: str) -> None:
        self.host = host
        self.env: simpy.Environment = host.sim.env
        self.inner = inner
        self.command = command
        self.processes = host.occupancy.setdefault(transport, Occupancy(int(host.process_limit(transport))))

    def deliver(self, request: Any) -> simpy.Event:
        return self.env.process(self._run(request))

    def _run(self, request: Any) -> Generator[simpy.Event, Any, Any]:
        self.processes.change(self.env.now, +1)
        try:
            yield self.env.timeout(self.host.hardware.delivery(self.command, request.size))
            report = yield self.inner.deliver(request)
        finally:
            self.processes.change(self.env.now, -1)
        return report


def install(host: Any, spec: HardwareSpec) -> None:
    """Give the host its machine, and put every delivery agent it looks up behind :class:`ChargedAgent`."""
    host.hardware = Hardware(host, spec)

    def wrap(transport: str, inner: Any) -> ChargedAgent:
        service = host.config.master.service(transport, "unix")
        return ChargedAgent(host, transport, inner, service.command if service is not None else "error")

    host.wrap_agents(wrap)
