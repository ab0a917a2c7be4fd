"""L2: the network model: topology (hosts, routers, links, outages) and simulated TCP in virtual time."""

from mailsim.net.context import current_host, host_context
from mailsim.net.network import Listener, Network
from mailsim.net.server import SimServer
from mailsim.net.topology import Host, Link, Route, Router, Topology
from mailsim.net.transport import SimTransport

__all__ = [
    "Host",
    "Link",
    "Listener",
    "Network",
    "Route",
    "Router",
    "SimServer",
    "SimTransport",
    "Topology",
    "current_host",
    "host_context",
]
