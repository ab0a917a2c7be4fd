"""The DNS that smtpd's restrictions ask (reject_unknown_*, reject_rbl_client and friends, permit_mx_backup),
and the time it costs.

The restrictions are pure and synchronous, so the lookups use the host's resolver with ``lookup_now``:
faults and the cache apply and each query is traced, but no time passes during the check. The modelled
latency of every query is added up, and smtpd waits that long (:meth:`RestrictionDns.timed`) before it
answers the command, as Postfix's smtpd waits for its resolver; cached answers cost nothing. The wait is
the same in the ``wire`` and ``fast`` fidelities, which share smtpd's hooks.

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
from mailsim.policy.restrictions.model import DnsblAnswer, DnsStatus

_FAMILIES = (("ipv4", "A"), ("ipv6", "AAAA"))
_TEMPORARY = (Status.SERVFAIL, Status.TIMEOUT)
_T = TypeVar("_T")


class RestrictionDns:
    """One smtpd service's DNS questions; ``owed`` is the resolver time the current check has used."""

    def __init__(self, host: Any, inet_protocols: str) -> None:
        self.host = host
        try:
            enabled = parse_inet_protocols(inet_protocols)
        except ValueError:
            raise ConfigError("", key="inet_protocols", expected="all, ipv4, ipv6 or ipv4, ipv6",
                              found=inet_protocols) from None  # fmt: skip
        self.types = tuple(rdtype for family, rdtype in _FAMILIES if family in enabled)
        self.owed = 0.0

    def mail_domain(self, domain: str) -> DnsStatus:
        """reject_unknown_sender/recipient_domain: MX (a null MX says so), else an address record."""
        mx = self._ask(domain, "MX")
        if mx.status is Status.NOERROR:
            return DnsStatus.NULL_MX if mx.values in (((0, "."),), ((0, ""),)) else DnsStatus.OK
        return self.host_name(domain)

    def host_name(self, name: str) -> DnsStatus:
        """reject_unknown_helo_hostname and the domain fallback: does the name have an A record."""
        answer = self._ask(name, "A")
        if answer.status is Status.NOERROR:
            return DnsStatus.OK
        return DnsStatus.TEMPFAIL if answer.status in _TEMPORARY else DnsStatus.NOT_FOUND

    def dnsbl(self, query: str) -> DnsblAnswer | DnsStatus | None:
        """A DNS block list lookup (reject_rbl_client and friends): A records, and the TXT reason if any."""
        answer = self._ask(query, "A")
        if answer.status in _TEMPORARY:
            return DnsStatus.TEMPFAIL
        if answer.status is not Status.NOERROR:
            return None
        txt = self._ask(query, "TXT")
        reason = txt.values[0].decode("utf-8", "replace") if txt.status is Status.NOERROR and txt.values else None
        return DnsblAnswer(tuple(str(a) for a in answer.values), reason)

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
