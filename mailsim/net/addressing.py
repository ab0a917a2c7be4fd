"""What socket calls ask of names and addresses, answered from the topology (no DNS, no OS resolver).

``create_connection(host=...)`` takes an IP literal or a topology host name; the DNS model is for agents,
which look up MX and A records themselves and then connect to addresses. A connection's own host comes from
an explicit local address or from the ``current_host`` context variable.

Postfix parameters read: none.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

from mailsim.net.context import current_host
from mailsim.net.topology import Topology

ANY_ADDRESS = frozenset({"", "0.0.0.0", "::"})
_VERSION = {int(socket.AF_INET): 4, int(socket.AF_INET6): 6}


def resolve(topology: Topology, host: str | None, family: int = 0) -> list[str]:
    """Addresses of an IP literal or a host name, filtered by socket family, as getaddrinfo would fail."""
    if host is None:
        raise ValueError("host and port must be given")
    try:
        found = [str(ipaddress.ip_address(host))]
    except ValueError:
        if not topology.has_host(host):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        found = list(topology.addresses(host))
    want = _VERSION.get(int(family))
    found = [ip for ip in found if want is None or ipaddress.ip_address(ip).version == want]
    if not found:
        raise socket.gaierror(socket.EAI_ADDRFAMILY, "Address family for hostname not supported")
    return found


def addrinfo(
    topology: Topology, host: str | None, port: Any, family: int = 0, type: int = 0, proto: int = 0
) -> list[Any]:
    """``getaddrinfo`` entries for a name the topology knows."""
    entries = []
    for ip in resolve(topology, host, family):
        v6 = ":" in ip
        sockaddr = (ip, int(port or 0), 0, 0) if v6 else (ip, int(port or 0))
        fam = socket.AF_INET6 if v6 else socket.AF_INET
        entries.append((fam, type or socket.SOCK_STREAM, proto or socket.IPPROTO_TCP, "", sockaddr))
    return entries


def source(topology: Topology, local_addr: tuple[Any, ...] | None) -> tuple[str, str | None]:
    """The connecting host and its chosen address: from ``local_addr`` (port ignored) or ``current_host``."""
    if local_addr is not None and local_addr[0] not in ANY_ADDRESS:
        host = topology.host_of_address(local_addr[0])
        if host is None:
            raise OSError(errno.EADDRNOTAVAIL, f"cannot bind to {local_addr[0]}: not an address of the topology")
        return host, local_addr[0]
    host = current_host.get()
    if host is None:
        raise RuntimeError("no current host: run the code inside host_context(name)/spawn() or pass local_addr")
    return host, None


def binds(topology: Topology, host: Any) -> list[tuple[str, str | None]]:
    """``(host, address or None for all)`` pairs for a server's ``host`` argument (None: the current host)."""
    if isinstance(host, (list, tuple, set)):
        return [pair for item in host for pair in binds(topology, item)]
    if host is None or host in ANY_ADDRESS:
        return [(source(topology, None)[0], None)]
    owner = topology.host_of_address(host)
    if owner is not None:
        return [(owner, host)]
    if topology.has_host(host):
        return [(host, None)]
    raise OSError(errno.EADDRNOTAVAIL, f"cannot bind to {host!r}: not an address or host of the topology")
