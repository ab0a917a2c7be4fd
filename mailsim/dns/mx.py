"""Which hosts to try for a mail domain, and in which order: RFC 5321 §5.1 with RFC 7505 null MX.

Pure functions over query results (anything with ``status`` and ``values``, as
:class:`~mailsim.dns.resolver.Result` and :class:`~mailsim.dns.zones.Answer` have) and a numpy
``Generator``; no simpy, no clock. The Postfix smtp(8) client calls them with its own random stream.

Main.cf parameters whose meaning these functions implement (the caller reads and passes them):
``inet_protocols`` (default ``all``), ``smtp_address_preference`` (default ``any``),
``smtp_randomize_addresses`` (default ``yes``), ``smtp_balance_inet_protocols`` (default ``yes``).
``smtp_mx_address_limit`` and ``smtp_mx_session_limit`` are the caller's to apply to the lists returned.

:func:`mx_plan` decides, from the MX answer for a domain:

- **NOERROR with MX records**: hosts sorted by preference, ties shuffled with ``rng`` (RFC 5321 §5.1
  "randomize them to spread the load"); a host listed twice is kept at its lowest preference;
- **null MX** (RFC 7505): a single MX whose exchange is ``.`` means the domain accepts no mail - status
  ``NULL_MX``, the caller bounces with 556 5.1.10. A ``.`` among other MX records breaks RFC 7505 §3;
  it is dropped and the other hosts are used;
- **NODATA** (the name exists, no MX): the implicit MX - the domain itself at preference 0 (RFC 5321 §5.1);
- **NXDOMAIN**: ``NOT_FOUND`` (Postfix: "Host or domain name not found", a permanent error);
- **SERVFAIL, TIMEOUT**: ``TEMPFAIL`` (the caller defers, 4.4.3);
- **the local host is an MX** (``local_names``, the client's own host names, e.g. ``myhostname``): all
  hosts with its preference or a higher number are dropped (RFC 5321 §5.1: "if the SMTP client is itself
  an MX"); when none remain the status is ``LOOP`` (Postfix: "mail for DOMAIN loops back to myself",
  5.4.6). This applies to the implicit MX too. Names are compared, not addresses.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from mailsim.dns.names import canonical, display
from mailsim.dns.zones import Status

PROTOCOLS = ("ipv4", "ipv6")


class MxStatus(StrEnum):
    """The outcome of MX selection for a domain."""

    OK = "ok"
    NULL_MX = "null-mx"
    NOT_FOUND = "not-found"
    TEMPFAIL = "tempfail"
    LOOP = "loop"


@dataclass(frozen=True, slots=True)
class MxHost:
    """One host to try: its name (no trailing dot), its preference, and whether it is the implicit MX."""

    host: str
    preference: int
    implicit: bool = False


@dataclass(frozen=True, slots=True)
class MxPlan:
    """The hosts to try for ``domain``, in order, or why there are none."""

    domain: str
    status: MxStatus
    hosts: tuple[MxHost, ...] = ()

    @property
    def names(self) -> list[str]:
        return [entry.host for entry in self.hosts]


class QueryResult(Protocol):
    """What MX selection reads from a query result."""

    @property
    def status(self) -> Status: ...

    @property
    def values(self) -> tuple[Any, ...]: ...


def mx_plan(domain: str, result: QueryResult, rng: np.random.Generator, *, local_names: Collection[str] = ()) -> MxPlan:
    """The RFC 5321 §5.1 host list for ``domain`` from its MX query result (see the module docstring)."""
    name = display(canonical(domain))
    status = result.status
    if status is Status.NXDOMAIN:
        return MxPlan(name, MxStatus.NOT_FOUND)
    if status is not Status.NOERROR and status is not Status.NODATA:
        return MxPlan(name, MxStatus.TEMPFAIL)
    records = result.values if status is Status.NOERROR else ()
    if not records:
        hosts = [MxHost(name, 0, implicit=True)]
    elif len(records) == 1 and records[0][1] == ".":
        return MxPlan(name, MxStatus.NULL_MX)
    else:
        hosts = _ordered(records, rng)
    hosts = drop_self(hosts, local_names)
    if not hosts:
        return MxPlan(name, MxStatus.LOOP)
    return MxPlan(name, MxStatus.OK, tuple(hosts))


def order_mx(records: Iterable[tuple[int, str]], rng: np.random.Generator) -> list[MxHost]:
    """Sort ``(preference, host)`` by preference and shuffle ties; ``.`` and duplicates are dropped."""
    return _ordered([(int(preference), display(canonical(host))) for preference, host in records], rng)


def _ordered(records: Iterable[tuple[int, str]], rng: np.random.Generator) -> list[MxHost]:
    """:func:`order_mx` for records already normalised (as ``Result.values`` holds them)."""
    best: dict[str, int] = {}
    for preference, host in records:
        if host != "." and (host not in best or preference < best[host]):
            best[host] = preference
    groups: dict[int, list[str]] = {}
    for host in sorted(best):
        groups.setdefault(best[host], []).append(host)
    ordered: list[MxHost] = []
    for preference in sorted(groups):
        group = groups[preference]
        if len(group) > 1:
            group = [group[i] for i in rng.permutation(len(group))]
        ordered.extend(MxHost(host, preference) for host in group)
    return ordered


def drop_self(hosts: list[MxHost], local_names: Collection[str]) -> list[MxHost]:
    """Keep only hosts more preferred than the local host's own MX entry (RFC 5321 §5.1)."""
    if not local_names:
        return hosts
    mine = {display(canonical(name)) for name in local_names}
    own = [entry.preference for entry in hosts if entry.host in mine]
    if not own:
        return hosts
    limit = min(own)
    return [entry for entry in hosts if entry.preference < limit]


def addresses_of(result: QueryResult) -> list[str]:
    """The addresses in an A or AAAA result (empty unless NOERROR)."""
    return list(result.values) if result.status is Status.NOERROR else []


def parse_inet_protocols(value: str) -> tuple[str, ...]:
    """Postfix ``inet_protocols`` ("all", "ipv4", "ipv6", "ipv4, ipv6") as the families it enables."""
    words = value.replace(",", " ").lower().split()
    if words == ["all"]:
        return PROTOCOLS
    if not words or any(word not in PROTOCOLS for word in words):
        raise ValueError(f"inet_protocols: expected all, ipv4, ipv6 or ipv4, ipv6; found {value!r}")
    return tuple(family for family in PROTOCOLS if family in words)


def order_addresses(
    ipv4: Sequence[str],
    ipv6: Sequence[str],
    *,
    inet_protocols: str = "all",
    preference: str = "any",
    rng: np.random.Generator | None = None,
    randomize: bool = True,
    balance: bool = True,
) -> list[str]:
    """The addresses of one MX host in the order to try them (Postfix smtp(8) address selection).

    Disabled families are removed; with ``randomize`` (and an ``rng``) addresses are shuffled within a
    family; the ``preference`` family ("ipv4", "ipv6", or "any" = chosen at random) comes first; with
    ``balance`` the second address is of the other family, so both are tried before an address limit.
    """
    enabled = parse_inet_protocols(inet_protocols)
    families = {"ipv4": list(ipv4) if "ipv4" in enabled else [], "ipv6": list(ipv6) if "ipv6" in enabled else []}
    if randomize and rng is not None:
        families = {name: _shuffled(found, rng) for name, found in families.items()}
    first = _first_family(preference, families, rng)
    second = "ipv4" if first == "ipv6" else "ipv6"
    ordered = families[first] + families[second]
    if balance and families[first] and families[second] and len(families[first]) > 1:
        ordered = [families[first][0], families[second][0], *families[first][1:], *families[second][1:]]
    return ordered


def _shuffled(addresses: list[str], rng: np.random.Generator) -> list[str]:
    if len(addresses) < 2:
        return addresses
    return [addresses[i] for i in rng.permutation(len(addresses))]


def _first_family(preference: str, families: dict[str, list[Any]], rng: np.random.Generator | None) -> str:
    choice = preference.lower()
    if choice in PROTOCOLS:
        return choice
    if choice != "any":
        raise ValueError(f"smtp_address_preference: expected any, ipv4 or ipv6; found {preference!r}")
    if families["ipv4"] and families["ipv6"]:
        if rng is None:
            raise ValueError('smtp_address_preference "any" needs a random stream to choose a family')
        return PROTOCOLS[int(rng.integers(2))]
    return "ipv6" if families["ipv6"] else "ipv4"
