"""The network as data: hosts, routers and links with outage windows, and the routes between hosts.

Theory of operation
-------------------
A :class:`Topology` is an undirected graph (networkx) whose nodes are :class:`Host` (a name and its IPv4/IPv6
addresses) and :class:`Router` records and whose edges are :class:`Link` records (latency in s, bandwidth in
bytes/s, loss probability per segment, outage windows). Hosts and routers may have outage windows too. A window
``(start, end)`` means "down for ``start <= t < end``".

:meth:`Topology.route` picks the lowest-total-latency path over the links and nodes that are up at ``at``
(Dijkstra; hosts may forward unless ``transit_hosts=False``) and describes it as a :class:`Route`:

- ``latency``   = sum of the link latencies on the path (one way),
- ``bandwidth`` = the smallest link bandwidth on the path (the bottleneck),
- ``delivery``  = probability that one segment crosses every link = prod(1 - loss_i),
- ``rto``       = 2 * latency + TCP_RTO_MIN (0.2 s): RFC 6298 §2 with Linux's floor standing in for 4*RTTVAR,
- ``breaks_at`` = first time after ``at`` that a link or node on the path goes down (``inf``: never).

One-way delay of ``n`` payload bytes (DESIGN.md §4)::

    delay(n) = latency + n / bandwidth + penalty(n)
    segments = max(1, ceil(n / MSS))                      # MSS = 1460 bytes; control segments count as one
    penalty(n) = retransmissions * rto
    retransmissions = segments * (1 - delivery) / delivery  (expected value; deterministic, no rng)
                    ~ NegativeBinomial(segments, delivery)  (when an rng stream is passed: failures before
                                                             ``segments`` successes)

A path whose delivery probability is 0 (a link with loss 1.0) is treated as down. Headers are not counted; the
path is fixed per time epoch (between two outage boundaries) and cached, so queries are cheap in large runs.
The topology is pure data plus queries: no simpy, no clock.

Postfix parameters read: none.
"""

from __future__ import annotations

import ipaddress
import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx
import numpy as np

from mailsim.core.errors import ScenarioError
from mailsim.core.units import parse_bandwidth, parse_duration

MSS = 1460
TCP_RTO_MIN = 0.2
Window = tuple[float, float]


def _is_down(windows: tuple[Window, ...], at: float) -> bool:
    return any(start <= at < end for start, end in windows)


def _next_down(windows: tuple[Window, ...], at: float) -> float:
    return min((start for start, _ in windows if start > at), default=math.inf)


@dataclass(frozen=True, slots=True)
class Host:
    """An end system: where agents run and what addresses reach it."""

    name: str
    addresses: tuple[str, ...] = ()
    down: tuple[Window, ...] = ()

    def is_up(self, at: float) -> bool:
        return not _is_down(self.down, at)


@dataclass(frozen=True, slots=True)
class Router:
    """A forwarding node with no addresses of its own (it only shapes paths)."""

    name: str
    down: tuple[Window, ...] = ()

    def is_up(self, at: float) -> bool:
        return not _is_down(self.down, at)


@dataclass(frozen=True, slots=True)
class Link:
    """A symmetric link: one-way latency (s), bandwidth per direction (bytes/s), segment loss, outages."""

    a: str
    b: str
    latency: float = 0.0
    bandwidth: float = math.inf
    loss: float = 0.0
    down: tuple[Window, ...] = ()

    def is_up(self, at: float) -> bool:
        return self.loss < 1.0 and not _is_down(self.down, at)


@dataclass(frozen=True, slots=True)
class Route:
    """A path chosen at one moment, with everything the transport needs to time bytes over it."""

    nodes: tuple[str, ...]
    latency: float
    bandwidth: float
    delivery: float
    rto: float
    breaks_at: float

    def penalty(self, nbytes: int, rng: np.random.Generator | None = None) -> float:
        """Retransmission delay for ``nbytes`` (see the module docstring); 0 on a lossless path."""
        q = self.delivery
        if q >= 1.0:
            return 0.0
        segments = max(1, -(-nbytes // MSS))
        if rng is None:
            return segments * (1.0 - q) / q * self.rto
        return float(rng.negative_binomial(segments, q)) * self.rto

    def one_way_delay(self, nbytes: int, rng: np.random.Generator | None = None) -> float:
        """Time for ``nbytes`` to cross the path when the bottleneck is idle."""
        return self.latency + nbytes / self.bandwidth + self.penalty(nbytes, rng)


def _seconds(value: Any, key: str) -> float:
    try:
        seconds = parse_duration(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ScenarioError(key=key, expected="a duration such as 10ms", found=value) from None
    if seconds < 0 or math.isnan(seconds):
        raise ScenarioError(key=key, expected="a duration >= 0", found=value)
    return seconds


def _windows(value: Iterable[Any], key: str) -> tuple[Window, ...]:
    result = []
    for item in value or ():
        try:
            start, end = item
        except (TypeError, ValueError):
            raise ScenarioError(key=key, expected="(start, end) pairs", found=item) from None
        start, end = _seconds(start, key), _seconds(end, key)
        if not start < end:
            raise ScenarioError(key=key, expected="start < end", found=item)
        result.append((start, end))
    return tuple(sorted(result))


def _link_values(latency: Any, bandwidth: Any, loss: Any, key: str) -> tuple[float, float, float]:
    lat = _seconds(latency, f"{key}.latency")
    try:
        bw = (
            math.inf
            if bandwidth is None
            else (parse_bandwidth(bandwidth) if isinstance(bandwidth, str) else float(bandwidth))
        )
    except (TypeError, ValueError):
        raise ScenarioError(
            key=f"{key}.bandwidth", expected="bytes/s or a speed such as 100Mbit", found=bandwidth
        ) from None
    if not bw > 0:
        raise ScenarioError(key=f"{key}.bandwidth", expected="a bandwidth > 0", found=bandwidth)
    if not isinstance(loss, (int, float)) or not 0.0 <= float(loss) <= 1.0:
        raise ScenarioError(key=f"{key}.loss", expected="a probability between 0 and 1", found=loss)
    return lat, bw, float(loss)


def _normal_ip(text: str) -> str:
    return str(ipaddress.ip_address(text))


class Topology:
    """Hosts, routers and links; answers route and delay queries at a given virtual time."""

    def __init__(self, *, transit_hosts: bool = True) -> None:
        self.transit_hosts = transit_hosts
        self._graph = nx.Graph()
        self._by_address: dict[str, str] = {}
        self._cuts: list[float] = []
        self._routes: dict[tuple[str, str, int], Route | None] = {}

    # -- building ---------------------------------------------------------------------------------------------

    @classmethod
    def from_graph(cls, graph: nx.Graph, *, transit_hosts: bool = True) -> Topology:
        """Build from a networkx graph: node attrs ``kind`` ("host"|"router"), ``addresses``, ``down``;
        edge attrs ``latency``, ``bandwidth``, ``loss``, ``down`` (strings such as "10ms" or "100Mbit" allowed)."""
        topology = cls(transit_hosts=transit_hosts)
        for name, attrs in graph.nodes(data=True):
            kind = attrs.get("kind", "host" if attrs.get("addresses") else "router")
            if kind == "host":
                topology.add_host(name, attrs.get("addresses", ()), down=attrs.get("down", ()))
            elif kind == "router":
                topology.add_router(name, down=attrs.get("down", ()))
            else:
                raise ScenarioError(key=f"nodes.{name}.kind", expected='"host" or "router"', found=kind)
        for a, b, attrs in graph.edges(data=True):
            topology.add_link(
                a,
                b,
                latency=attrs.get("latency", 0.0),
                bandwidth=attrs.get("bandwidth"),
                loss=attrs.get("loss", 0.0),
                down=attrs.get("down", ()),
            )
        return topology

    def add_host(self, name: str, addresses: Iterable[str] = (), *, down: Iterable[Any] = ()) -> Host:
        """Declare an end system; each address may belong to one host only."""
        self._check_new(name)
        normal = []
        for text in addresses:
            try:
                ip = _normal_ip(text)
            except ValueError:
                raise ScenarioError(
                    key=f"hosts.{name}.addresses", expected="an IPv4 or IPv6 address", found=text
                ) from None
            if ip in self._by_address:
                raise ScenarioError(key=f"hosts.{name}.addresses", expected="an address no other host has", found=text)
            normal.append(ip)
        host = Host(name, tuple(normal), _windows(down, f"hosts.{name}.down"))
        self._by_address.update(dict.fromkeys(normal, name))
        self._graph.add_node(name, node=host)
        self._changed()
        return host

    def add_router(self, name: str, *, down: Iterable[Any] = ()) -> Router:
        """Declare a forwarding node."""
        self._check_new(name)
        router = Router(name, _windows(down, f"routers.{name}.down"))
        self._graph.add_node(name, node=router)
        self._changed()
        return router

    def add_link(
        self,
        a: str,
        b: str,
        *,
        latency: Any = 0.0,
        bandwidth: Any = None,
        loss: Any = 0.0,
        down: Iterable[Any] = (),
    ) -> Link:
        """Connect two declared nodes; ``bandwidth=None`` means unlimited."""
        key = f"links.{a}-{b}"
        for end in (a, b):
            if end not in self._graph:
                raise ScenarioError(key=key, expected="endpoints that are declared hosts or routers", found=end)
        if a == b or self._graph.has_edge(a, b):
            raise ScenarioError(key=key, expected="one link between two different nodes", found=f"{a}-{b}")
        lat, bw, lossp = _link_values(latency, bandwidth, loss, key)
        link = Link(a, b, lat, bw, lossp, _windows(down, f"{key}.down"))
        self._graph.add_edge(a, b, link=link)
        self._changed()
        return link

    def add_down(self, element: str | tuple[str, str], start: float, end: float) -> None:
        """Add an outage window to a host, router (by name) or link (by its two endpoint names)."""
        if isinstance(element, tuple):
            a, b = element
            if not self._graph.has_edge(a, b):
                raise ScenarioError(key="faults.link", expected="a declared link", found=f"{a}-{b}")
            link = self._graph.edges[a, b]["link"]
            self._graph.edges[a, b]["link"] = replace(link, down=_windows((*link.down, (start, end)), "faults"))
        else:
            if element not in self._graph:
                raise ScenarioError(key="faults.host", expected="a declared host or router", found=element)
            node = self._graph.nodes[element]["node"]
            self._graph.nodes[element]["node"] = replace(node, down=_windows((*node.down, (start, end)), "faults"))
        self._changed()

    def _check_new(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ScenarioError(key="name", expected="a non-empty node name", found=name)
        if name in self._graph:
            raise ScenarioError(key=name, expected="a name not declared before", found=name)

    def _changed(self) -> None:
        cuts: set[float] = set()
        for _, node in self._graph.nodes(data="node"):
            cuts.update(t for window in node.down for t in window)
        for _, _, link in self._graph.edges(data="link"):
            cuts.update(t for window in link.down for t in window)
        self._cuts = sorted(cuts)
        self._routes.clear()

    # -- queries ----------------------------------------------------------------------------------------------

    @property
    def graph(self) -> nx.Graph:
        """A read-only view of the graph (nodes carry ``node``, edges carry ``link``)."""
        return self._graph.copy(as_view=True)

    @property
    def hosts(self) -> tuple[Host, ...]:
        return tuple(n for _, n in self._graph.nodes(data="node") if isinstance(n, Host))

    @property
    def routers(self) -> tuple[Router, ...]:
        return tuple(n for _, n in self._graph.nodes(data="node") if isinstance(n, Router))

    @property
    def links(self) -> tuple[Link, ...]:
        return tuple(link for _, _, link in self._graph.edges(data="link"))

    def host(self, name: str) -> Host:
        node = self._graph.nodes[name]["node"] if name in self._graph else None
        if not isinstance(node, Host):
            raise KeyError(name)
        return node

    def link(self, a: str, b: str) -> Link:
        return self._graph.edges[a, b]["link"]

    def has_host(self, name: str) -> bool:
        return name in self._graph and isinstance(self._graph.nodes[name]["node"], Host)

    def addresses(self, host: str) -> tuple[str, ...]:
        """The host's addresses in declaration order."""
        return self.host(host).addresses

    def host_of_address(self, ip: str) -> str | None:
        """The host owning ``ip`` (any textual form of the address), or None."""
        name = self._by_address.get(ip)
        if name is None:
            try:
                name = self._by_address.get(_normal_ip(ip))
            except ValueError:
                return None
        return name

    def is_up(self, name: str, at: float) -> bool:
        """Whether a host or router is up at ``at``."""
        return self._graph.nodes[name]["node"].is_up(at)

    def route(self, src: str, dst: str, at: float) -> Route | None:
        """The lowest-latency usable route between two hosts at ``at`` (cached per outage epoch)."""
        key = (src, dst, bisect_right(self._cuts, at))
        try:
            return self._routes[key]
        except KeyError:
            route = self._routes[key] = self._find_route(src, dst, at)
            return route

    def path(self, src: str, dst: str, at: float) -> tuple[str, ...] | None:
        """Node names on the route (endpoints included), or None when no route exists at ``at``."""
        route = self.route(src, dst, at)
        return None if route is None else route.nodes

    def one_way_delay(
        self, src: str, dst: str, nbytes: int, at: float, rng: np.random.Generator | None = None
    ) -> float | None:
        """Seconds for ``nbytes`` from ``src`` to ``dst`` sent at ``at`` over an idle path; None without a route."""
        route = self.route(src, dst, at)
        return None if route is None else route.one_way_delay(nbytes, rng)

    def _find_route(self, src: str, dst: str, at: float) -> Route | None:
        graph = self._graph
        for name in (src, dst):
            if not self.has_host(name):
                raise KeyError(name)
        if not (graph.nodes[src]["node"].is_up(at) and graph.nodes[dst]["node"].is_up(at)):
            return None
        if src == dst:
            node = graph.nodes[src]["node"]
            return Route((src,), 0.0, math.inf, 1.0, TCP_RTO_MIN, _next_down(node.down, at))

        def weight(_u: str, v: str, attrs: dict[str, Any]) -> float | None:
            link = attrs["link"]
            node = graph.nodes[v]["node"]
            if not link.is_up(at) or not node.is_up(at):
                return None
            if v != dst and not self.transit_hosts and isinstance(node, Host):
                return None
            return link.latency

        try:
            _, nodes = nx.single_source_dijkstra(graph, src, dst, weight=weight)
        except nx.NetworkXNoPath:
            return None
        return self._describe(tuple(nodes), at)

    def _describe(self, nodes: tuple[str, ...], at: float) -> Route:
        links = [self._graph.edges[u, v]["link"] for u, v in zip(nodes, nodes[1:])]
        latency = math.fsum(link.latency for link in links)
        delivery = math.prod(1.0 - link.loss for link in links)
        breaks = min(
            min((_next_down(link.down, at) for link in links), default=math.inf),
            min(_next_down(self._graph.nodes[n]["node"].down, at) for n in nodes),
        )
        bandwidth = min(link.bandwidth for link in links)
        return Route(nodes, latency, bandwidth, delivery, 2.0 * latency + TCP_RTO_MIN, breaks)
