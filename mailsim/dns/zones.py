"""Authoritative DNS data for a run: many zones of dnspython RRsets, and the answer an authority would give.

Theory of operation
-------------------
A :class:`ZoneSet` holds the scenario's zones, each a map from owner name (a lower-case absolute text
key, see :mod:`mailsim.dns.names`) to ``{rdtype: RRset}``, plus the set of every name that exists in
it, empty non-terminals included. Records are parsed once, when added; an answer shares the stored
RRsets (treat them as read-only).

:meth:`ZoneSet.answer` answers as the authoritative servers of the whole simulated Internet would,
with the recursion folded in:

- the zone is the deepest loaded zone whose origin contains the name. **Names outside every loaded zone
  are NXDOMAIN**: the simulated Internet knows only the scenario's zones (there is no root or TLD data
  and no delegation walk);
- a name with records of the type: NOERROR; a name that exists with other types only, or an empty
  non-terminal (``example.org`` when only ``a.b.example.org`` has records): NODATA (RFC 2308 §2.2); a
  name that does not exist: NXDOMAIN unless a wildcard ``*.<closest encloser>`` synthesises it (RFC 4592);
- a CNAME is followed (when another type was asked) across zones, at most :data:`MAX_CNAME_CHAIN` links;
  the answer section then holds the chain and the final RRset, and the final name decides the status
  (RFC 6604). A loop or a longer chain is SERVFAIL, as a recursive resolver reports it;
- an answer may be cached for the lowest TTL in its answer section; a negative one also no longer than
  ``min(SOA TTL, SOA MINIMUM)`` of the zone that gave it (RFC 2308 §5), or ``negative_ttl`` (default
  300 s) when that zone has no SOA or no zone holds the name. (RFC 2308 says not to cache negative
  answers without an SOA; scenario zones often have none, and a fixed 300 s is what a demanding user
  expects to see in a trace rather than no caching at all.)

Records added programmatically go into the deepest existing zone that contains their name, or into a
new zone at the name's last two labels (``www.example.org`` -> ``example.org.``; pass ``zone=`` or load
the zone first for ``example.co.uk``). When a zone is loaded or declared later below such an automatic
zone, the records under the new cut move into it. Values in records given as text are zone-file rdata read with the root as origin,
so ``"10 mx1.example.org"`` means ``mx1.example.org.``; TXT values that are not quoted are one string.

Postfix parameters read: none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from mailsim.core.errors import ScenarioError
from mailsim.core.units import parse_duration
from mailsim.dns.names import (
    NameLike,
    TypeLike,
    ancestors,
    canonical,
    checked,
    display,
    is_below,
    parent,
    rdtype_of,
    reverse_name,
    type_text,
)
from mailsim.dns.zonefile import parse_zone_text, read_zone_file

MAX_CNAME_CHAIN = 8  # links followed before SERVFAIL (BIND follows 16, glibc's stub none; 8 is ample)
DEFAULT_TTL = 300  # seconds, for records added without a TTL
DEFAULT_NEGATIVE_TTL = 300  # seconds a negative answer is cached when its zone has no SOA (or no zone exists)
CNAME = int(dns.rdatatype.CNAME)
SOA = int(dns.rdatatype.SOA)
MX = int(dns.rdatatype.MX)
TXT_TYPES = {int(dns.rdatatype.TXT), int(dns.rdatatype.SPF)}
ADDRESS_TYPES = {int(dns.rdatatype.A), int(dns.rdatatype.AAAA)}
TARGET_TYPES = {int(dns.rdatatype.CNAME), int(dns.rdatatype.PTR), int(dns.rdatatype.NS), int(dns.rdatatype.DNAME)}
RECORD_KEYS = {"name", "type", "value", "ttl"}


class Status(StrEnum):
    """The outcome of a query: an RCODE, NODATA (NOERROR with no answer), or a resolver timeout."""

    NOERROR = "NOERROR"
    NXDOMAIN = "NXDOMAIN"
    NODATA = "NODATA"
    SERVFAIL = "SERVFAIL"
    TIMEOUT = "TIMEOUT"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the authority says for (qname, rdtype): status, answer section, and how long it may be cached.

    ``values`` are the final RRset's data as plain Python (see :func:`plain_values`), computed when the
    record was loaded, so hot paths (MX selection, SPF, DKIM) never re-read rdata.
    """

    status: Status
    qname: str
    rdtype: int
    rrsets: tuple[dns.rrset.RRset, ...] = ()
    ttl: int = 0
    values: tuple[Any, ...] = ()

    @property
    def rrset(self) -> dns.rrset.RRset | None:
        """The RRset of the asked type at the end of any CNAME chain (``None`` unless NOERROR)."""
        if self.rrsets and self.rrsets[-1].rdtype == self.rdtype:
            return self.rrsets[-1]
        return None


class _Zone:
    """One zone: nodes by owner key, every existing name, its SOA."""

    __slots__ = ("origin", "nodes", "plain", "names", "soa", "source")

    def __init__(self, origin: str, source: str | None = None) -> None:
        self.origin = origin
        self.nodes: dict[str, dict[int, dns.rrset.RRset]] = {}
        self.plain: dict[tuple[str, int], tuple[Any, ...]] = {}
        self.names: set[str] = {origin}
        self.soa: dns.rrset.RRset | None = None
        self.source = source

    def add(self, owner: str, rrset: dns.rrset.RRset) -> None:
        """Merge ``rrset`` into the node ``owner`` (a union, lowest TTL wins, as dnspython's RRset does)."""
        node = self.nodes.setdefault(owner, {})
        if (CNAME in node) != (rrset.rdtype == CNAME) and node:
            raise ScenarioError(
                "a name with a CNAME can have no other data (RFC 1034 §3.6.2)",
                key="type",
                expected=f"either a CNAME or other records at {owner}",
                found=type_text(rrset.rdtype),
            )
        held = node.get(rrset.rdtype)
        if held is None:
            held = node[rrset.rdtype] = dns.rrset.RRset(rrset.name, rrset.rdclass, rrset.rdtype)
        held.union_update(rrset)
        self.plain[(owner, rrset.rdtype)] = plain_values(held)
        if rrset.rdtype == SOA and owner == self.origin:
            self.soa = held
        for name in ancestors(owner):
            if name == self.origin or (name in self.names and name != owner):
                break
            self.names.add(name)

    def negative_ttl(self, default: int) -> int:
        """RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM); ``default`` without an SOA."""
        if self.soa is None:
            return default
        return min(self.soa.ttl, self.soa[0].minimum)

    def lookup(self, key: str, rdtype: int) -> tuple[str, dns.rrset.RRset | None]:
        """One step: ("answer", rrset), ("cname", rrset), ("nodata", None) or ("nxdomain", None)."""
        node = self.nodes.get(key)
        if node is None:
            if key in self.names:
                return "nodata", None
            node = self._wildcard(key)
            if node is None:
                return "nxdomain", None
            return self._from_node(node, rdtype, synthesise=key)
        return self._from_node(node, rdtype)

    def _from_node(
        self, node: dict[int, dns.rrset.RRset], rdtype: int, synthesise: str | None = None
    ) -> tuple[str, dns.rrset.RRset | None]:
        kind, found = "answer", node.get(rdtype)
        if found is None and rdtype != CNAME:
            kind, found = "cname", node.get(CNAME)
        if found is None:
            return "nodata", None
        if synthesise is not None:
            copy = dns.rrset.RRset(dns.name.from_text(synthesise), found.rdclass, found.rdtype)
            copy.update(found)
            found = copy
        return kind, found

    def _wildcard(self, key: str) -> dict[int, dns.rrset.RRset] | None:
        """The node of ``*.<closest encloser>`` (RFC 4592 §3.3.1), if the closest encloser has one."""
        up = parent(key)
        while up is not None and up not in self.names:
            up = parent(up)
        if up is None:
            return None
        return self.nodes.get("*." + up if up != "." else "*.")


class ZoneSet:
    """All authoritative data of a run; answers queries as the simulated Internet's DNS would."""

    def __init__(self, *, negative_ttl: int = DEFAULT_NEGATIVE_TTL) -> None:
        self._zones: dict[str, _Zone] = {}
        self.negative_ttl = negative_ttl

    @property
    def origins(self) -> list[str]:
        """The loaded zones' origins (keys, with the trailing dot), sorted."""
        return sorted(self._zones)

    def zone_for(self, name: NameLike) -> str | None:
        """The origin of the deepest loaded zone holding ``name``, or ``None``."""
        zone = self._zone_for(canonical(name))
        return zone.origin if zone is not None else None

    def _zone_for(self, key: str) -> _Zone | None:
        zones = self._zones
        while True:
            zone = zones.get(key)
            if zone is not None:
                return zone
            if key == ".":
                return None
            key = key[key.index(".") + 1 :] or "."

    # ----- loading --------------------------------------------------------------------------------
    def load_zone_file(self, path: str | Path, *, origin: str | None = None) -> str:
        """Load an RFC 1035 zone file; returns its origin. Syntax errors name file and line."""
        key, rrsets = read_zone_file(path, origin=origin)
        self._load(key, rrsets, str(path))
        return key

    def load_zone_text(self, text: str, *, origin: str | None = None, filename: str = "<zone>") -> str:
        """Load zone-file text (``filename`` is used for the origin rule and in errors); returns the origin."""
        key, rrsets = parse_zone_text(text, filename=filename, origin=origin)
        self._load(key, rrsets, filename)
        return key

    def _load(self, origin: str, rrsets: list[dns.rrset.RRset], source: str) -> None:
        zone = self._zones.get(origin)
        if zone is not None and zone.source is not None:
            raise ScenarioError(
                f"zone {origin} loaded twice", file=source, expected="one zone file per origin", found=zone.source
            )
        if zone is None:
            zone = self._new_zone(origin)
        zone.source = source
        for rrset in rrsets:
            try:
                zone.add(canonical(rrset.name), rrset)
            except ScenarioError as error:
                raise ScenarioError(
                    error.detail, file=source, key=error.key, expected=error.expected, found=error.found
                ) from None

    def add_zone(self, origin: NameLike) -> str:
        """Declare an (empty) zone, so names under it are NODATA/NXDOMAIN answered by it."""
        key = checked(origin, key="origin")
        if key not in self._zones:
            self._new_zone(key)
        return key

    def _new_zone(self, origin: str) -> _Zone:
        """A new zone; records added earlier to a programmatic parent zone move below the new cut."""
        parent_zone = self._zone_for(origin)
        zone = self._zones[origin] = _Zone(origin)
        if parent_zone is not None and parent_zone.source is None:
            for owner in [name for name in parent_zone.nodes if is_below(name, origin)]:
                for rdtype, rrset in parent_zone.nodes.pop(owner).items():
                    parent_zone.plain.pop((owner, rdtype), None)
                    zone.add(owner, rrset)
        return zone

    def add_rrset(self, rrset: dns.rrset.RRset, *, zone: NameLike | None = None) -> None:
        """Add a dnspython RRset (absolute owner name) to its zone."""
        owner = canonical(rrset.name)
        self._zone_to_hold(owner, zone).add(owner, rrset)

    def add_record(
        self,
        name: NameLike,
        rdtype: TypeLike,
        value: str,
        ttl: int | str = DEFAULT_TTL,
        *,
        zone: NameLike | None = None,
    ) -> None:
        """Add one record from zone-file rdata text (names in it are absolute; TXT unquoted is one string)."""
        owner = checked(name)
        number = rdtype_of(rdtype)
        rdata = _rdata(number, value)
        rrset = dns.rrset.from_rdata_list(dns.name.from_text(owner), _ttl(ttl), [rdata])
        self._zone_to_hold(owner, zone).add(owner, rrset)

    def add_records(
        self, records: Iterable[Mapping[str, Any]], *, file: str | None = None, key: str = "dns.records"
    ) -> None:
        """Add scenario records ``{"name", "type", "value", "ttl"?}``; errors name ``key[i].field``."""
        for index, record in enumerate(records):
            place = f"{key}[{index}]"
            try:
                unknown = sorted(set(record) - RECORD_KEYS)
                if unknown:
                    raise ScenarioError(
                        "unknown key", key=unknown[0], expected="one of name, type, value, ttl", found=unknown[0]
                    )
                missing = sorted({"name", "type", "value"} - set(record))
                if missing:
                    raise ScenarioError("missing key", key=missing[0], expected="name, type and value", found="nothing")
                ttl = record.get("ttl", DEFAULT_TTL)
                self.add_record(str(record["name"]), str(record["type"]), str(record["value"]), ttl)
            except ScenarioError as error:
                where = f"{place}.{error.key}" if error.key else place
                raise ScenarioError(
                    error.detail, file=file, key=where, expected=error.expected, found=error.found
                ) from None

    def add_host(self, name: NameLike, addresses: Iterable[str], *, ttl: int = DEFAULT_TTL, ptr: bool = True) -> None:
        """A and AAAA records for a host and, with ``ptr``, the matching PTR records in the reverse zones."""
        owner = checked(name)
        for address in addresses:
            reverse = reverse_name(address)
            rdtype = "AAAA" if reverse.endswith("ip6.arpa.") else "A"
            self.add_record(owner, rdtype, address, ttl)
            if ptr:
                self.add_record(reverse, "PTR", owner, ttl)

    def _zone_to_hold(self, owner: str, zone: NameLike | None) -> _Zone:
        if zone is not None:
            key = self.add_zone(zone)
            if not is_below(owner, key):
                raise ScenarioError("name outside zone", key="name", expected=f"a name inside {key}", found=owner)
            return self._zones[key]
        found = self._zone_for(owner)
        if found is not None:
            return found
        labels = owner.split(".")
        return self._new_zone(".".join(labels[-3:]) if len(labels) > 3 else owner)

    # ----- answering ------------------------------------------------------------------------------
    def answer(self, qname: NameLike, rdtype: TypeLike) -> Answer:
        """The authoritative answer for (qname, rdtype), CNAMEs followed (see the module docstring)."""
        qkey = canonical(qname)
        number = rdtype_of(rdtype)
        key, seen = qkey, {qkey}
        chain: list[dns.rrset.RRset] = []
        for _ in range(MAX_CNAME_CHAIN + 1):
            zone = self._zone_for(key)
            if zone is None:
                return Answer(Status.NXDOMAIN, qkey, number, tuple(chain), _min_ttl(chain, self.negative_ttl))
            kind, rrset = zone.lookup(key, number)
            if rrset is None:
                status = Status.NODATA if kind == "nodata" else Status.NXDOMAIN
                negative = zone.negative_ttl(self.negative_ttl)
                return Answer(status, qkey, number, tuple(chain), _min_ttl(chain, negative))
            chain.append(rrset)
            if kind == "answer":
                values = zone.plain.get((key, number))
                if values is None:  # synthesised from a wildcard
                    values = plain_values(rrset)
                return Answer(Status.NOERROR, qkey, number, tuple(chain), _min_ttl(chain), values)
            key = canonical(rrset[0].target)
            if key in seen:
                break
            seen.add(key)
        return Answer(Status.SERVFAIL, qkey, number, tuple(chain), 0)


def plain_values(rrset: dns.rrset.RRset) -> tuple[Any, ...]:
    """Record data as plain Python: addresses, ``(preference, host)``, TXT bytes joined, target names.

    Host names are lower case without the trailing dot (the root is ``.``); other types give their text.
    """
    kind = rrset.rdtype
    if kind in ADDRESS_TYPES:
        return tuple(rd.address for rd in rrset)
    if kind == MX:
        return tuple((rd.preference, display(canonical(rd.exchange))) for rd in rrset)
    if kind in TXT_TYPES:
        return tuple(b"".join(rd.strings) for rd in rrset)
    if kind in TARGET_TYPES:
        return tuple(display(canonical(rd.target)) for rd in rrset)
    return tuple(rd.to_text() for rd in rrset)


def _min_ttl(chain: list[dns.rrset.RRset], negative: int | None = None) -> int:
    ttls = [rrset.ttl for rrset in chain]
    if negative is not None:
        ttls.append(negative)
    return min(ttls) if ttls else 0


def _ttl(value: object) -> int:
    """A TTL: seconds as an integer, or a duration such as "5m" (RFC 2181 §8: 0 .. 2**31 - 1)."""
    seconds: object = value
    if isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except ValueError:
            seconds = None
    if isinstance(seconds, float) and seconds.is_integer():
        seconds = int(seconds)
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= 2**31 - 1:
        raise ScenarioError(
            "bad TTL", key="ttl", expected="whole seconds 0..2147483647 or a duration like 5m", found=value
        )
    return seconds


def _rdata(rdtype: int, value: str) -> dns.rdata.Rdata:
    """Parse record data once (names absolute, TXT unquoted as one string split at 255 bytes)."""
    text = value.strip()
    if rdtype in TXT_TYPES and not text.startswith('"'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        text = " ".join(f'"{escaped[i : i + 255]}"' for i in range(0, max(len(escaped), 1), 255))
    try:
        return dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.RdataType.make(rdtype), text, origin=dns.name.root, relativize=False
        )
    except (dns.exception.DNSException, ValueError) as error:
        shape = type_text(rdtype)
        raise ScenarioError(str(error).rstrip("."), key="value", expected=f"{shape} record data", found=value) from None
