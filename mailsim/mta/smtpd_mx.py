"""The DNS answers smtpd gives permit_mx_backup (MX records, MX host addresses), and the time they cost.

The restrictions are pure and synchronous, so the lookups use the host's resolver with ``lookup_now``:
faults and the cache apply and each query is traced, but no time passes. The modelled latency of every
query is added up, and smtpd waits that long (:meth:`MxLookups.timed`) before it answers the RCPT, so
the wait is the same in the ``wire`` and ``fast`` fidelities, which share smtpd's hooks.

Postfix parameters read: inet_protocols (all): which of A and AAAA an MX host's addresses come from.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from typing import Any, TypeVar

from mailsim.core.errors import ConfigError
from mailsim.dns.mx import parse_inet_protocols
from mailsim.dns.resolver import Result
from mailsim.dns.zones import Status
from mailsim.policy.restrictions.model import DnsStatus

_FAMILIES = (("ipv4", "A"), ("ipv6", "AAAA"))
_TEMPORARY = (Status.SERVFAIL, Status.TIMEOUT)
_T = TypeVar("_T")


class MxLookups:
    """One smtpd service's MX questions; ``owed`` is the resolver time the current check has used."""

    def __init__(self, host: Any, inet_protocols: str) -> None:
        self.host = host
        try:
            enabled = parse_inet_protocols(inet_protocols)
        except ValueError:
            raise ConfigError("", key="inet_protocols", expected="all, ipv4, ipv6 or ipv4, ipv6",
                              found=inet_protocols) from None  # fmt: skip
        self.types = tuple(rdtype for family, rdtype in _FAMILIES if family in enabled)
        self.owed = 0.0

    def mx_records(self, domain: str) -> tuple[tuple[int, str], ...] | DnsStatus:
        """dns_lookup(domain, MX): the records, or why there are none (a lone ``0 .`` is a null MX)."""
        answer = self._ask(domain, "MX")
        if answer.status is Status.NOERROR and answer.values:
            records = tuple((int(preference), str(host)) for preference, host in answer.values)
            return DnsStatus.NULL_MX if records in (((0, "."),), ((0, ""),)) else records
        return DnsStatus.TEMPFAIL if answer.status in _TEMPORARY else DnsStatus.NOT_FOUND

    def host_addresses(self, name: str) -> tuple[str, ...] | DnsStatus:
        """The A/AAAA addresses of an MX host; any address wins, then a temporary failure, then NXDOMAIN."""
        found: list[str] = []
        statuses: list[Status] = []
        for rdtype in self.types:
            answer = self._ask(name, rdtype)
            statuses.append(answer.status)
            if answer.status is Status.NOERROR:
                found.extend(str(ipaddress.ip_address(value)) for value in answer.values)
        if found:
            return tuple(found)
        if any(status in _TEMPORARY for status in statuses):
            return DnsStatus.TEMPFAIL
        return DnsStatus.NOT_FOUND if Status.NXDOMAIN in statuses else DnsStatus.NO_DATA

    def _ask(self, name: str, rdtype: str) -> Result:
        result = self.host.resolver.lookup_now(name, rdtype)
        self.owed += result.latency
        return result

    async def timed(self, judge: Callable[..., _T], *args: Any) -> _T:
        """``judge(*args)``, then the time its lookups took passes (virtual on the simulation's loop)."""
        self.owed = 0.0
        verdict = judge(*args)
        owed, self.owed = self.owed, 0.0
        if owed > 0:
            await asyncio.sleep(owed)
        return verdict
