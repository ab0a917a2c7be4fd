"""Small simulated worlds shared by the net and engine tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailsim.core import Simulation
from mailsim.engine.simloop import SimLoop
from mailsim.net.network import Network
from mailsim.net.topology import Topology

CLIENT_IP = "192.0.2.1"
SERVER_IP = "192.0.2.2"
# client --(10 ms, 1 MB/s)-- router --(5 ms, 10 MB/s)-- server
LATENCY = 0.015
BANDWIDTH = 1e6
RTT = 2 * LATENCY


@dataclass
class World:
    sim: Simulation
    loop: SimLoop
    topology: Topology
    network: Network


def two_link_world(
    seed: int = 1, *, link_down: Any = (), server_down: Any = (), loss: float = 0.0, **net: Any
) -> World:
    """Client and server hosts joined through one router by two links (the issue's host-router-host path)."""
    sim = Simulation(seed, loop_factory=lambda s: SimLoop(s))
    topology = Topology()
    topology.add_host("client", [CLIENT_IP, "2001:db8::1"])
    topology.add_host("server", [SERVER_IP, "2001:db8::2"], down=server_down)
    topology.add_router("router")
    topology.add_link("client", "router", latency=0.010, bandwidth=BANDWIDTH, loss=loss)
    topology.add_link("router", "server", latency=0.005, bandwidth=10 * BANDWIDTH, down=link_down)
    network = Network(sim, topology, **net)
    loop = sim.loop
    assert isinstance(loop, SimLoop)
    loop.network = network
    return World(sim, loop, topology, network)
