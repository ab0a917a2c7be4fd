"""The facts about a host that Postfix reads from the machine, given instead of read.

Postfix computes three defaults from the machine it runs on: ``myhostname`` (gethostname(), with
``.$mydomain`` or ``.localdomain`` appended when it has no dot), ``mydomain`` (``$myhostname``
minus its first label, or ``localdomain``) and ``mynetworks`` (the networks of the interfaces it
listens on, per ``mynetworks_style``). mailsim never looks at the real machine: a simulated host
is described by :class:`HostFacts`, and these functions compute the same defaults from it.

Addresses are written as interfaces (``192.0.2.10/24``, ``2001:db8::10/64``); a bare address is
taken as a typical LAN interface, /24 for IPv4 and /64 for IPv6, so that ``mynetworks_style =
subnet`` means what it means on a real host. The loopback interfaces 127.0.0.1/8 and ::1/128 are
always present, first, as on Linux. Networks print as Postfix prints them: IPv4 ``net/len``,
IPv6 ``[net]/len``, all IPv4 before all IPv6.

Parameters read: mynetworks_style, inet_interfaces, inet_protocols (through the caller).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from mailsim.core.errors import ConfigError

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
DEFAULT_DOMAIN = "localdomain"  # Postfix's DEF_MYDOMAIN
LOOPBACKS = ("127.0.0.1/8", "::1/128")


@dataclass(frozen=True, slots=True)
class HostFacts:
    """A host's name and interface addresses, the only machine facts the configuration depends on."""

    hostname: str = "localhost"
    addresses: tuple[str, ...] = ()

    def interfaces(self) -> tuple[Interface, ...]:
        """Loopbacks first, then the given addresses; each a network interface with its prefix."""
        found: list[Interface] = []
        for text in (*LOOPBACKS, *self.addresses):
            interface = _interface(text)
            if interface not in found:
                found.append(interface)
        return tuple(found)


def _interface(text: str) -> Interface:
    """One address as an interface; a bare address gets a LAN-sized prefix (/24 or /64)."""
    try:
        if "/" in text:
            return ipaddress.ip_interface(text)
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError as error:
        raise ConfigError(str(error), key="addresses", expected="an IPv4 or IPv6 address", found=text) from None
    prefix = 24 if address.version == 4 else 64
    return ipaddress.ip_interface(f"{address}/{prefix}")


def default_myhostname(host: HostFacts, mydomain: str | None) -> str:
    """gethostname(), made fully qualified with ``mydomain`` (or localdomain) when it has no dot."""
    if "." in host.hostname:
        return host.hostname
    return f"{host.hostname}.{mydomain or DEFAULT_DOMAIN}"


def default_mydomain(myhostname: str) -> str:
    """``myhostname`` minus its first label; ``localdomain`` for a name without a dot."""
    _, dot, rest = myhostname.partition(".")
    return rest if dot and rest else DEFAULT_DOMAIN


def listening_interfaces(host: HostFacts, inet_interfaces: list[str], inet_protocols: list[str]) -> list[Interface]:
    """The interfaces Postfix would listen on for these settings, in Postfix's order (IPv4 first)."""
    protocols = {p.lower() for p in inet_protocols} or {"all"}
    versions = (
        {4, 6} if "all" in protocols else {4 for p in protocols if p == "ipv4"} | {6 for p in protocols if p == "ipv6"}
    )
    chosen = [i for i in host.interfaces() if i.version in versions]
    wanted = {word.lower() for word in inet_interfaces} or {"all"}
    if "all" not in wanted:
        chosen = [i for i in chosen if _wanted(i, wanted, host)]
    return sorted(chosen, key=lambda i: i.version)


def _wanted(interface: Interface, wanted: set[str], host: HostFacts) -> bool:
    """Whether one interface is named by inet_interfaces (loopback-only, an address, or the host's name)."""
    if interface.is_loopback and ("loopback-only" in wanted or "localhost" in wanted):
        return True
    if host.hostname.lower() in wanted and not interface.is_loopback:
        return True
    names = {str(interface.ip), f"[{interface.ip}]"}
    return bool(names & wanted)


def default_mynetworks(interfaces: list[Interface], style: str) -> str:
    """The mynetworks default for ``style`` (host, subnet or class) over the listening interfaces."""
    style = style.strip().lower()
    if style not in ("host", "subnet", "class"):
        raise ConfigError("", key="mynetworks_style", expected="host, subnet or class", found=style)
    networks: list[str] = []
    for interface in interfaces:
        text = _format(_network(interface, style))
        if text not in networks:
            networks.append(text)
    return " ".join(networks)


def _network(interface: Interface, style: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The network one interface contributes under ``style``."""
    if style == "host":
        return ipaddress.ip_network(f"{interface.ip}/{interface.max_prefixlen}")
    if style == "class" and interface.version == 4:
        first = int(interface.ip) >> 24
        prefix = 8 if first < 128 else 16 if first < 192 else 24 if first < 224 else 4 if first < 240 else -1
        if prefix < 0:
            raise ConfigError("", key="mynetworks_style", expected="an address of class A-D", found=str(interface.ip))
        return ipaddress.ip_network(f"{interface.ip}/{prefix}", strict=False)
    return interface.network


def _format(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """``127.0.0.0/8`` or ``[::1]/128``, Postfix's notation."""
    if network.version == 6:
        return f"[{network.network_address}]/{network.prefixlen}"
    return str(network)
