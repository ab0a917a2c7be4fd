"""Who an SMTP client is, as smtpd establishes it: its address, its verified name, and whether it is trusted.

Postfix's smtpd looks the client up once per connection: the PTR name counts only when the name's own
address lookup returns the client's address (else the client is ``unknown``, with the PTR name kept as
the "reverse" name for reject_unknown_reverse_client_hostname); a temporary DNS failure is ``tempfail``.
A live client on loopback (``mailsim serve --client HOST``) stands for the scenario host it names.
local_header_rewrite_clients decides whether cleanup may add and complete headers for this client.
Per-address answers that are pure (PTR query names, "is this one of our addresses") are remembered,
capped, because capacity runs see the same clients again and again.

Postfix parameters read: local_header_rewrite_clients (permit_inet_interfaces).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import dns.reversename

from mailsim.core.memo import remember
from mailsim.dns.mx import addresses_of
from mailsim.dns.zones import Status
from mailsim.policy.restrictions.model import SmtpdContext

_MEMORY_LIMIT = 4096  # remembered answers per kind before the memory is cleared


class ClientIdentity:
    """One smtpd service's view of its clients (the host gives the resolver, addresses and live stand-in)."""

    def __init__(self, host: Any, main: Any, mynetworks: Any) -> None:
        self.host = host
        self.mynetworks = mynetworks
        self.rewrite_clients = main.list("local_header_rewrite_clients")
        self._reverse: dict[str, str] = {}  # client address -> PTR query name
        self._own: dict[str, bool] = {}  # client address -> loopback or ours (permit_inet_interfaces)

    def peer(self, address: str) -> str:
        """A live (loopback) client is seen as the scenario host it stands for (``mailsim serve --client``)."""
        live = getattr(self.host, "live_client", None)
        return live if live and _is_loopback(address) else address

    async def name(self, address: str) -> tuple[str, str | None, str]:
        """(client name, reverse name, status): the PTR name if its forward lookup returns the address."""
        resolver = self.host.resolver
        ptr = await resolver.aquery(self._reverse_name(address), "PTR")
        if ptr.status is not Status.NOERROR or not ptr.values:
            return "unknown", None, "tempfail" if ptr.status in (Status.SERVFAIL, Status.TIMEOUT) else "notfound"
        name = str(ptr.values[0]).rstrip(".")
        forward = await resolver.aquery(name, "AAAA" if ":" in address else "A")
        if address in addresses_of(forward):
            return name, name, "ok"
        return "unknown", name, "notfound"

    def rewrites(self, ctx: SmtpdContext) -> bool:
        """local_header_rewrite_clients: may cleanup add and complete headers for this client?"""
        for item in self.rewrite_clients:
            if item == "static:all":
                return True
            if item == "permit_sasl_authenticated" and ctx.sasl_username:
                return True
            if item == "permit_inet_interfaces" and self.is_own(ctx.client_address):
                return True
            if item == "permit_mynetworks" and self.mynetworks.match(ctx.client_name, ctx.client_address):
                return True
        return False

    def is_own(self, address: str) -> bool:
        """Loopback or one of this host's addresses (remembered per client: ip_address() is slow)."""
        own = self._own.get(address)
        if own is None:
            own = remember(self._own, address, _is_own(address, self.host.addresses), _MEMORY_LIMIT)
        return own

    def _reverse_name(self, address: str) -> str:
        """The PTR query name of an address (dnspython's is slow and clients come back often)."""
        name = self._reverse.get(address)
        if name is None:
            name = remember(self._reverse, address, dns.reversename.from_address(address).to_text(), _MEMORY_LIMIT)
        return name


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _is_own(address: str, own: tuple[str, ...]) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback or address in own
    except ValueError:
        return False
