"""The resource model, first part: how long a delivery keeps a delivery-agent process busy.

A host's ``service_time`` table (scenario.toml, ``[[hosts]]``) gives, per master.cf transport, a
distribution of durations (``{ local = "exponential(200ms)", smtp = "fixed(20ms)" }``; the syntax of
:mod:`mailsim.ua.arrivals` with durations). Each delivery request of that transport first holds its
process for a drawn time, then runs the agent as usual (whose own modelled time, SMTP round trips or
a mailbox write, comes on top). The processes are qmgr's: a transport has ``maxproc`` of them
(master.cf, or default_process_limit), so the transport is a c-server queue with c = maxproc fed by
qmgr's active queue; with the ``discard`` agent behind it the service time is exactly the drawn one,
which is how the M/M/c validation (tests/validation) is built.

Every service start and end is a ``resource`` trace record (``start``/``end``: resource = the
transport, busy = processes in use after the change, capacity = maxproc, hold = the drawn time,
queue_id of the request), from which :mod:`mailsim.analysis.metrics` computes utilisation and the
wait from qmgr activation to the start of service. Draws come from the stream
``resource.HOST.TRANSPORT``.

The rest of the resource model lives with the daemons it slows down: a host's ``hardware`` (CPU cores
and a disk; per-message and per-KB CPU costs of smtpd, cleanup, qmgr and the delivery agents; the
queue file's fsync; utilisation samples) in :mod:`mailsim.mta.hardware`, applied here after the
``service_time`` tables (so a delivery's CPU job comes before its drawn hold); smtpd's master.cf
``maxproc`` in :mod:`mailsim.mta.process_limit`; in_flow_delay in :mod:`mailsim.mta.mail_flow`;
smtpd's anvil limits and slow greetings in :mod:`mailsim.mta.smtpd`. Remote destinations throttle
with those same knobs on their own hosts (SCHEDULER_README's experiment: tests/validation).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from mailsim.mta import hardware
from mailsim.scenario.world import World
from mailsim.ua.arrivals import Distribution


class TimedAgent:
    """A delivery agent behind the resource model: each request first holds a process for a drawn time."""

    def __init__(self, host: Any, transport: str, inner: Any, service: Distribution) -> None:
        self.host = host
        self.sim = host.sim
        self.transport = transport
        self.inner = inner
        self.service = service
        self.capacity = int(host.process_limit(transport))
        self.rng = host.sim.rng(f"resource.{host.name}.{transport}")
        self.busy = 0

    def deliver(self, request: Any) -> simpy.Event:
        return self.sim.env.process(self._run(request))

    def _run(self, request: Any) -> Generator[simpy.Event, Any, Any]:
        self.busy += 1
        hold = max(0.0, self.service.sample(self.rng))
        self._emit("start", request.queue_id, hold=hold)
        try:
            yield self.sim.env.timeout(hold)
            report = yield self.inner.deliver(request)
        finally:
            self.busy -= 1
            self._emit("end", request.queue_id)
        return report

    def _emit(self, event: str, queue_id: str, **fields: Any) -> None:
        self.sim.emit(self.host.name, "resource", event, queue_id=queue_id, resource=self.transport, busy=self.busy,
                      capacity=self.capacity, **fields)  # fmt: skip


def install(host: Any, service_times: dict[str, Distribution]) -> None:
    """Put the host's agents of these transports behind :class:`TimedAgent` (as qmgr looks them up)."""

    def wrap(transport: str, inner: Any) -> Any:
        service = service_times.get(transport)
        return inner if service is None else TimedAgent(host, transport, inner, service)

    host.wrap_agents(wrap)


def build_resources(world: World) -> None:
    """Role builder (after the mail hosts): apply every host's ``service_time`` table, then its hardware."""
    for spec in world.spec.hosts:
        if spec.service_time and spec.name in world.hosts:
            install(world.hosts[spec.name], dict(spec.service_time))
        if spec.hardware is not None and spec.name in world.hosts:
            hardware.install(world.hosts[spec.name], spec.hardware)
