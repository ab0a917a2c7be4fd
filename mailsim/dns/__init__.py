"""L2: the simulated DNS - authoritative zones (dnspython rdata, RFC 1035 zone files), per-host resolvers
with latency, TTL cache and injected faults, and RFC 5321 §5.1 MX selection (DESIGN.md §4).

Imports only :mod:`mailsim.core`. The simulated Internet knows only the scenario's zones: every other
name is NXDOMAIN.
"""

from mailsim.dns.faults import Fault, FaultKind, Faults
from mailsim.dns.mx import MxHost, MxPlan, MxStatus, addresses_of, mx_plan, order_addresses, order_mx
from mailsim.dns.names import canonical, display, reverse_name
from mailsim.dns.resolver import Cache, Decision, Resolver, Result, Source, decide
from mailsim.dns.zones import Answer, Status, ZoneSet

__all__ = [
    "Answer",
    "Cache",
    "Decision",
    "Fault",
    "FaultKind",
    "Faults",
    "MxHost",
    "MxPlan",
    "MxStatus",
    "Resolver",
    "Result",
    "Source",
    "Status",
    "ZoneSet",
    "addresses_of",
    "canonical",
    "decide",
    "display",
    "mx_plan",
    "order_addresses",
    "order_mx",
    "reverse_name",
]
