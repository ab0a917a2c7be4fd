"""Topology: routes over up links and nodes, the one-way delay formula, the loss model, addresses."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from mailsim.core.errors import ScenarioError
from mailsim.net.topology import MSS, TCP_RTO_MIN, Topology


@pytest.fixture
def diamond() -> Topology:
    """a - r1 - b is fast (10 ms); a - r2 - b is slow (50 ms) but survives r1's outage."""
    topology = Topology()
    topology.add_host("a", ["192.0.2.1", "2001:db8::1"])
    topology.add_host("b", ["192.0.2.2"])
    topology.add_router("r1", down=[(100, 200)])
    topology.add_router("r2")
    topology.add_link("a", "r1", latency=0.004, bandwidth=1e6)
    topology.add_link("r1", "b", latency="6ms", bandwidth="80Mbit")
    topology.add_link("a", "r2", latency=0.025, bandwidth=1e8)
    topology.add_link("r2", "b", latency=0.025, bandwidth=1e8, down=[(300, 400)])
    return topology


def test_route_is_the_lowest_latency_path(diamond: Topology) -> None:
    route = diamond.route("a", "b", 0.0)
    assert route is not None and route.nodes == ("a", "r1", "b")
    assert route.latency == pytest.approx(0.010)
    assert route.bandwidth == 1e6
    assert route.rto == pytest.approx(2 * 0.010 + TCP_RTO_MIN)
    assert route.breaks_at == 100


def test_route_avoids_a_down_router_and_returns_after(diamond: Topology) -> None:
    assert diamond.path("a", "b", 150.0) == ("a", "r2", "b")
    assert diamond.route("a", "b", 150.0).breaks_at == 300  # the r2-b link's outage
    assert diamond.path("a", "b", 200.0) == ("a", "r1", "b")


def test_no_route_when_every_path_is_down() -> None:
    topology = Topology()
    topology.add_host("a", ["192.0.2.1"])
    topology.add_host("b", ["192.0.2.2"], down=[(5, 6)])
    topology.add_link("a", "b", latency=0.001, down=[(1, 2)])
    assert topology.path("a", "b", 1.5) is None
    assert topology.path("a", "b", 5.5) is None
    assert topology.one_way_delay("a", "b", 100, 1.5) is None
    assert topology.path("a", "b", 2.0) == ("a", "b")


def test_one_way_delay_is_latency_plus_size_over_bottleneck(diamond: Topology) -> None:
    assert diamond.one_way_delay("a", "b", 5000, 0.0) == pytest.approx(0.010 + 5000 / 1e6)


def test_expected_loss_penalty_formula() -> None:
    topology = Topology()
    topology.add_host("a", ["192.0.2.1"])
    topology.add_host("b", ["192.0.2.2"])
    topology.add_link("a", "b", latency=0.05, bandwidth=1e6, loss=0.1)
    route = topology.route("a", "b", 0)
    nbytes = 10 * MSS + 1  # 11 segments
    expected = 11 * 0.1 / 0.9 * (2 * 0.05 + TCP_RTO_MIN)
    assert route.penalty(nbytes) == pytest.approx(expected)
    assert route.one_way_delay(nbytes) == pytest.approx(0.05 + nbytes / 1e6 + expected)
    assert route.penalty(0) == pytest.approx(0.1 / 0.9 * route.rto)  # a control segment counts as one


def test_random_loss_penalty_is_reproducible_per_seed() -> None:
    topology = Topology()
    topology.add_host("a", ["192.0.2.1"])
    topology.add_host("b", ["192.0.2.2"])
    topology.add_link("a", "b", latency=0.01, loss=0.2)
    route = topology.route("a", "b", 0)

    def draws(seed: int) -> list[float]:
        rng = np.random.default_rng(seed)
        return [route.penalty(50_000, rng) for _ in range(20)]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)
    assert all(abs(d / route.rto - round(d / route.rto)) < 1e-9 for d in draws(1))  # whole RTOs


def test_a_fully_lossy_link_counts_as_down() -> None:
    topology = Topology()
    topology.add_host("a", ["192.0.2.1"])
    topology.add_host("b", ["192.0.2.2"])
    topology.add_link("a", "b", latency=0.01, loss=1.0)
    assert topology.route("a", "b", 0) is None


def test_hosts_do_not_forward_when_transit_is_off() -> None:
    topology = Topology(transit_hosts=False)
    for name, ip in (("a", "192.0.2.1"), ("m", "192.0.2.2"), ("b", "192.0.2.3")):
        topology.add_host(name, [ip])
    topology.add_link("a", "m", latency=0.001)
    topology.add_link("m", "b", latency=0.001)
    assert topology.path("a", "b", 0) is None
    assert topology.path("a", "m", 0) == ("a", "m")


def test_addresses_and_their_owner(diamond: Topology) -> None:
    assert diamond.addresses("a") == ("192.0.2.1", "2001:db8::1")
    assert diamond.host_of_address("2001:0db8:0::1") == "a"
    assert diamond.host_of_address("198.51.100.7") is None
    assert diamond.host_of_address("not-an-ip") is None


def test_from_networkx_graph() -> None:
    graph = nx.Graph()
    graph.add_node("client", kind="host", addresses=["10.0.0.1"])
    graph.add_node("core", kind="router")
    graph.add_node("server", addresses=["10.0.0.2"], down=[(10, 20)])
    graph.add_edge("client", "core", latency="2ms", bandwidth="8Mbit")
    graph.add_edge("core", "server", latency=0.003, bandwidth=None, loss=0.0)
    topology = Topology.from_graph(graph)
    route = topology.route("client", "server", 0)
    assert route.nodes == ("client", "core", "server")
    assert route.latency == pytest.approx(0.005) and route.bandwidth == pytest.approx(1e6)
    assert route.breaks_at == 10
    assert topology.route("server", "server", 0).latency == 0
    assert math.isinf(topology.route("client", "server", 25).breaks_at)


def test_outage_added_later_invalidates_cached_routes(diamond: Topology) -> None:
    assert diamond.path("a", "b", 50) == ("a", "r1", "b")
    diamond.add_down(("a", "r1"), 40, 60)
    assert diamond.path("a", "b", 50) == ("a", "r2", "b")
    diamond.add_down("b", 45, 55)
    assert diamond.path("a", "b", 50) is None


@pytest.mark.parametrize(
    ("call", "key"),
    [
        (lambda t: t.add_link("a", "nowhere"), "links.a-nowhere"),
        (lambda t: t.add_link("a", "b", latency=-1), "links.a-b.latency"),
        (lambda t: t.add_link("a", "b", bandwidth=0), "links.a-b.bandwidth"),
        (lambda t: t.add_link("a", "b", loss=1.5), "links.a-b.loss"),
        (lambda t: t.add_link("a", "b", down=[(5, 1)]), "links.a-b.down"),
        (lambda t: t.add_host("c", ["192.0.2.1"]), "hosts.c.addresses"),
        (lambda t: t.add_host("c", ["300.1.1.1"]), "hosts.c.addresses"),
        (lambda t: t.add_router("a"), "a"),
    ],
)
def test_mistakes_name_the_key(call, key: str) -> None:
    topology = Topology()
    topology.add_host("a", ["192.0.2.1"])
    topology.add_host("b", ["192.0.2.2"])
    with pytest.raises(ScenarioError) as caught:
        call(topology)
    assert caught.value.key == key
