"""What sender authentication needs of the DNS: one callable, ``dns(name, rdtype) -> answer``.

policy/ may not import mailsim.dns (DESIGN.md §2: same-layer packages stay apart), so every check
here takes a :data:`DnsQuery` instead. Anything with ``status`` and ``values`` answers it:
``Resolver.lookup_now`` (its ``Result`` also carries the modelled ``latency``), ``ZoneSet.answer``,
or a test's dict lookup. ``status`` is one of NOERROR, NXDOMAIN, NODATA, SERVFAIL, TIMEOUT;
``values`` holds the final RRset's data as plain Python (TXT records as joined bytes, MX as
``(preference, host)``, addresses and names as text).

A :class:`Meter` wraps the callable for one check so the verdict can say how many queries it made
and how much (virtual) time they would have cost: ``lookup_now`` lets no time pass, and the agent
charges ``dns_time`` afterwards.

Postfix parameters read: none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import dns.name

TEMPORARY = frozenset({"SERVFAIL", "TIMEOUT"})
"""Statuses that mean "ask again later" (RFC 7208 §2.6.6 temperror, RFC 6376 §6.1.2 TEMPFAIL)."""
NEGATIVE = frozenset({"NXDOMAIN", "NODATA"})
MAX_NAME = 253  # RFC 1035 §2.3.4: 255 octets on the wire, 253 characters as text
MAX_LABEL = 63  # RFC 1035 §2.3.4
_PLAIN = re.compile(r"^[A-Za-z0-9_.*-]+$")


class DnsAnswer(Protocol):
    """The part of ``mailsim.dns.Result`` (or ``Answer``) that sender authentication reads."""

    @property
    def status(self) -> str: ...

    @property
    def values(self) -> tuple[Any, ...]: ...


DnsQuery = Callable[[str, str], DnsAnswer]
"""``dns(name, rdtype)``: ``name`` without the trailing dot, ``rdtype`` a mnemonic such as ``"TXT"``."""


@dataclass(frozen=True, slots=True)
class NoSuchName:
    """The answer for a name that cannot be asked (non-ASCII, empty or over-long label): no query is made."""

    status: str = "NXDOMAIN"
    values: tuple[Any, ...] = ()


NO_SUCH_NAME = NoSuchName()


def status_of(answer: DnsAnswer) -> str:
    """The answer's status as plain text (``Status`` is a ``StrEnum``; tests may use plain strings)."""
    return str(answer.status)


def latency_of(answer: DnsAnswer) -> float:
    """The modelled time the query took; answers from a bare ``ZoneSet`` cost nothing."""
    return float(getattr(answer, "latency", 0.0) or 0.0)


def askable(name: str) -> bool:
    """True when ``name`` can be asked at all: ASCII, no empty or over-long label (RFC 1035 §2.3.4)."""
    if not name or not name.isascii() or len(name) > MAX_NAME:
        return False
    return all(0 < len(label) <= MAX_LABEL for label in name.rstrip(".").split("."))


def presentation(name: str) -> str:
    """``name`` as a zone file writes it (RFC 1035 §5.1): spaces, quotes and backslashes escaped.

    Labels are octets: SPF macros can put a space or a ``%`` into a name, and the DNS answers for it.
    """
    if _PLAIN.match(name):
        return name
    labels = [label.encode("ascii") for label in name.rstrip(".").split(".")]
    return dns.name.Name([*labels, b""]).to_text(omit_final_dot=True)


class Meter:
    """A :data:`DnsQuery` that counts one check's queries and adds up their modelled latency."""

    __slots__ = ("_dns", "queries", "latency", "temporary")

    def __init__(self, dns: DnsQuery) -> None:
        self._dns = dns
        self.queries = 0
        self.latency = 0.0
        self.temporary: list[str] = []

    def __call__(self, name: str, rdtype: str) -> DnsAnswer:
        if not askable(name):
            return NO_SUCH_NAME
        answer = self._dns(presentation(name.rstrip(".")), rdtype)
        self.queries += 1
        self.latency += latency_of(answer)
        if status_of(answer) in TEMPORARY:
            self.temporary.append(f"{name.rstrip('.')}/{rdtype} {status_of(answer)}")
        return answer


def txt_records(dns: DnsQuery, name: str) -> tuple[str, tuple[bytes, ...]]:
    """(status, TXT records as joined bytes) for ``name``; an unaskable name is NXDOMAIN."""
    ask = dns if isinstance(dns, Meter) else Meter(dns)
    answer = ask(name, "TXT")
    status = status_of(answer)
    if status != "NOERROR":
        return status, ()
    return status, tuple(value if isinstance(value, bytes) else str(value).encode() for value in answer.values)
