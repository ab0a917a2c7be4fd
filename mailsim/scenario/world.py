"""Building a run from a scenario: the simulation, its network, its DNS, and each host's agents.

Describe first, then build (Ciw's way): :func:`build_world` turns a validated
:class:`~mailsim.scenario.spec.ScenarioSpec` into live objects. Everything the spec names is
checked again here as it is built, so a problem found only now (a zone file's syntax, a main.cf
line) is still reported as ``FILE:LINE: key: expected X, found Y``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mailsim.core.clock import parse_epoch
from mailsim.core.simulation import Simulation
from mailsim.dns.faults import Faults
from mailsim.dns.resolver import Resolver
from mailsim.dns.zones import ZoneSet
from mailsim.engine.simloop import SimLoop
from mailsim.net.network import Network
from mailsim.net.topology import Topology
from mailsim.scenario.spec import ScenarioSpec

DNS_FAULTS = {"dns-nxdomain": "NXDOMAIN", "dns-servfail": "SERVFAIL", "dns-timeout": "TIMEOUT"}


@dataclass
class World:
    """Everything a run is made of; agents find each other through it by name, never by import."""

    spec: ScenarioSpec
    sim: Simulation
    topology: Topology
    network: Network
    zones: ZoneSet
    faults: Faults
    resolvers: dict[str, Resolver] = field(default_factory=dict)
    hosts: dict[str, Any] = field(default_factory=dict)
    agents: list[Any] = field(default_factory=list)
    fidelity: str = "wire"
    warnings: list[str] = field(default_factory=list)
    files: Path | None = None
    tls: Any = None

    def resolver(self, host: str) -> Resolver:
        return self.resolvers[host]


def build_topology(spec: ScenarioSpec) -> Topology:
    topology = Topology()
    for host in spec.hosts:
        topology.add_host(host.name, host.addresses)
    for router in spec.routers:
        topology.add_router(router)
    for link in spec.links:
        topology.add_link(
            link.a, link.b, latency=link.latency, bandwidth=link.bandwidth, loss=link.loss, down=link.down
        )
    for fault in spec.faults:
        end = fault.until if fault.until is not None else float("inf")
        if fault.kind == "host-down" and fault.host:
            topology.add_down(fault.host, fault.at, end)
        elif fault.kind == "link-down" and fault.link:
            topology.add_down((fault.link[0], fault.link[1]), fault.at, end)
    return topology


def build_zones(spec: ScenarioSpec) -> ZoneSet:
    zones = ZoneSet()
    for path in spec.dns.zones:
        zones.load_zone_file(path)
    if spec.dns.auto_hosts:
        for host in spec.hosts:
            zones.add_host(host.name, host.addresses)
    records = [{"name": r.name, "type": r.type, "value": r.value, "ttl": r.ttl} for r in spec.dns.records]
    zones.add_records(records, file=str(spec.folder / "scenario.toml"), key="dns.records")
    return zones


def build_faults(spec: ScenarioSpec) -> Faults:
    faults = Faults()
    for fault in spec.faults:
        if fault.kind in DNS_FAULTS and fault.name:
            end = fault.until if fault.until is not None else float("inf")
            faults.add(DNS_FAULTS[fault.kind], fault.name, rdtype=fault.type, start=fault.at, end=end)
    return faults


def _rtt_to(network: Network, src: str, dst: str) -> Callable[[], float | None]:
    """Round trip of one small query from ``src`` to its DNS server host now (None: unreachable)."""

    def rtt() -> float | None:
        if src == dst:
            return 0.0
        now = network.sim.now
        there = network.topology.one_way_delay(src, dst, 64, now)
        back = network.topology.one_way_delay(dst, src, 256, now)
        if there is None or back is None:
            return None
        return there + back

    return rtt


def build_resolvers(world: World) -> None:
    spec = world.spec
    for host in spec.hosts:
        server = host.resolver or spec.dns.server
        rtt: Callable[[], float | None] | float
        rtt = _rtt_to(world.network, host.name, server) if server else spec.dns.latency
        world.resolvers[host.name] = Resolver(world.sim, world.zones, host=host.name, rtt=rtt, faults=world.faults)


HostBuilder = Callable[[World], None]


def build_world(
    spec: ScenarioSpec,
    *,
    seed: int | None = None,
    fidelity: str | None = None,
    keep_trace: bool = True,
    builders: tuple[HostBuilder, ...] = (),
    files: Path | None = None,
    epoch: datetime | None = None,
) -> World:
    """A ready-to-run world: network, DNS, resolvers, then each role builder in order."""
    sim = Simulation(
        spec.seed if seed is None else seed,
        loop_factory=SimLoop,
        epoch=epoch or parse_epoch(spec.epoch),
        keep_trace=keep_trace,
    )
    topology = build_topology(spec)
    network = Network(sim, topology)
    sim.loop.network = network  # type: ignore[union-attr]
    world = World(spec, sim, topology, network, build_zones(spec), build_faults(spec))
    world.fidelity = fidelity or spec.fidelity
    sim.loop.fidelity = world.fidelity  # type: ignore[union-attr]  # fidelity: read by engine.fidelity.session
    world.files = files
    build_resolvers(world)
    for builder in builders:
        builder(world)
    return world


def check_world(spec: ScenarioSpec, builders: tuple[HostBuilder, ...] = ()) -> list[str]:
    """Build the world once without running it, so every file it names is parsed; returns warnings."""
    return list(build_world(spec, builders=builders).warnings)
