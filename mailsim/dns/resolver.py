"""A host's stub resolver: query latency, a TTL cache on virtual time, and injected faults.

The model
---------
Each host has one :class:`Resolver` (think ``/etc/resolv.conf`` pointing at a caching recursive
resolver; the cache here is that resolver's, kept per host):

- **Latency.** A query that is not answered from the cache costs one round trip to the resolver host,
  ``rtt()``; the network supplies that callable later (a float is a fixed RTT). The recursive resolver's
  own walk to the authorities is not modelled: it knows every scenario zone (:mod:`mailsim.dns.zones`).
  When ``rtt()`` returns ``None`` or a value not below ``timeout`` (resolver host unreachable, link
  down, reply lost) that attempt times out; after ``attempts`` attempts the query fails as TIMEOUT,
  having taken ``timeout * attempts`` (resolv.conf(5) defaults ``timeout:5 attempts:2``; glibc's
  doubling of the timeout per attempt is not modelled). A cache hit takes no time.
- **Cache.** Keyed ``(name, type)``; a positive answer lives for the lowest TTL of its answer section,
  a negative one (NXDOMAIN, NODATA) for ``min(SOA TTL, SOA MINIMUM)`` of its zone or 300 s without SOA
  (RFC 2308 §5; :class:`~mailsim.dns.zones.ZoneSet` ``negative_ttl``). NXDOMAIN is cached per (name, type)
  only, not for the whole name. SERVFAIL and timeouts are not cached. Entries expire on virtual time,
  counted from when the reply arrived. Concurrent misses for one key each go to the network.
- **Faults** (:mod:`mailsim.dns.faults`) are matched against the name asked and every CNAME target on
  the way, at the time the query is issued. By default a cached answer wins over a fault.

Three ways to ask, one decision (:func:`decide`: fault, cache, authority) behind them all:

- ``resolver.query(name, rdtype)`` - a simpy event (yield it in a process); its value is a :class:`Result`;
- ``await resolver.aquery(name, rdtype)`` - for asyncio agents; waits with ``asyncio.sleep``, which is
  virtual on the simulation's loop (its clock is ``env.now``) and real in a live run;
- ``resolver.lookup_now(name, rdtype)`` - synchronous and instant, for pyspf's and dkimpy's synchronous
  DNS hooks. Faults and the cache apply and the query is traced, but no time passes: ``Result.latency``
  tells what it would have cost, and the caller charges the sum of its lookups afterwards. Its answer
  enters the cache now rather than ``latency`` later.

Every query emits ``sim.emit(host, "dns", "query", qname=, qtype=, status=, from_cache=, latency=, fault=)``
when it completes (``qname`` without the trailing dot, ``fault`` the injected kind or ``None``).

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import dns.rrset
import simpy

from mailsim.dns.faults import Fault, FaultKind, Faults
from mailsim.dns.names import NameLike, TypeLike, canonical, display, rdtype_of, type_text
from mailsim.dns.zones import Answer, Status, ZoneSet

RttModel = Callable[[], float | None]
CACHEABLE = frozenset({Status.NOERROR, Status.NXDOMAIN, Status.NODATA})


class SimulationLike(Protocol):
    """What a resolver needs of :class:`mailsim.core.Simulation`."""

    env: simpy.Environment

    @property
    def now(self) -> float: ...

    def emit(self, host: str, service: str, event: str, **fields: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Result:
    """What a query returned, where from, how long it took, and whether a fault made it so.

    ``values`` is the answer's data as plain Python (addresses, ``(preference, host)`` for MX, TXT
    strings joined as bytes, target names), ready for pyspf/dkimpy hooks; ``rrset`` is the dnspython form.
    """

    status: Status
    qname: str
    rdtype: int
    rrsets: tuple[dns.rrset.RRset, ...] = ()
    ttl: float = 0.0
    from_cache: bool = False
    latency: float = 0.0
    fault: FaultKind | None = None
    values: tuple[Any, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is Status.NOERROR

    @property
    def qtype(self) -> str:
        return type_text(self.rdtype)

    @property
    def rrset(self) -> dns.rrset.RRset | None:
        """The RRset of the asked type at the end of any CNAME chain (``None`` unless NOERROR)."""
        if self.rrsets and self.rrsets[-1].rdtype == self.rdtype:
            return self.rrsets[-1]
        return None

    @property
    def records(self) -> tuple[Any, ...]:
        """The rdata objects of :attr:`rrset` (empty unless NOERROR)."""
        rrset = self.rrset
        return tuple(rrset) if rrset is not None else ()


class Cache:
    """A resolver's cache: ``(name key, type) -> (expiry time, answer)``, expiring on virtual time."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int], tuple[float, Answer]] = {}

    def get(self, key: tuple[str, int], now: float) -> tuple[float, Answer] | None:
        """The live entry for ``key`` (an expired one is dropped)."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] <= now:
            del self._entries[key]
            return None
        return entry

    def put(self, key: tuple[str, int], answer: Answer, expires: float) -> None:
        self._entries[key] = (expires, answer)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class Source(StrEnum):
    """Where a decision's answer comes from."""

    CACHE = "cache"
    AUTHORITY = "authority"
    FAULT = "fault"


@dataclass(frozen=True, slots=True)
class Decision:
    """The pure part of a query: what will be answered and from where (timing is added by the resolver)."""

    source: Source
    answer: Answer | None = None
    fault: Fault | None = None
    expires: float = 0.0


def decide(zones: ZoneSet, cache: Cache, faults: Faults, key: str, rdtype: int, now: float) -> Decision:
    """Fault, cache or authority for (key, rdtype) at ``now``; no side effect but dropping expired entries."""
    fault = faults.match(key, rdtype, now) if faults else None
    if fault is not None and fault.bypass_cache:
        return Decision(Source.FAULT, fault=fault)
    hit = cache.get((key, rdtype), now)
    if hit is not None:
        return Decision(Source.CACHE, answer=hit[1], expires=hit[0])
    if fault is not None:
        return Decision(Source.FAULT, fault=fault)
    answer = zones.answer(key, rdtype)
    if faults and len(answer.rrsets) > 1:
        for rrset in answer.rrsets[1:]:
            fault = faults.match(canonical(rrset.name), rdtype, now)
            if fault is not None:
                return Decision(Source.FAULT, fault=fault)
    return Decision(Source.AUTHORITY, answer=answer)


class Resolver:
    """One host's stub resolver over the run's zones (see the module docstring for the model)."""

    def __init__(
        self,
        sim: SimulationLike,
        zones: ZoneSet,
        *,
        host: str,
        rtt: RttModel | float = 0.0,
        timeout: float = 5.0,
        attempts: int = 2,
        faults: Faults | None = None,
    ) -> None:
        if timeout <= 0 or attempts < 1:
            raise ValueError("a resolver needs timeout > 0 and attempts >= 1")
        self.sim = sim
        self.zones = zones
        self.host = host
        self.timeout = float(timeout)
        self.attempts = int(attempts)
        self.faults = faults if faults is not None else Faults()
        self.cache = Cache()
        self._rtt: RttModel = rtt if callable(rtt) else _fixed(float(rtt))

    def query(self, name: NameLike, rdtype: TypeLike = "A") -> simpy.Event:
        """A simpy event that fires after the query's latency with its :class:`Result` as value."""
        key, number, decision, result = self._begin(name, rdtype)
        event = self.sim.env.timeout(result.latency, value=result)
        event.callbacks.append(lambda _event: self._finish(key, number, decision, result))
        return event

    async def aquery(self, name: NameLike, rdtype: TypeLike = "A") -> Result:
        """The same query for asyncio code; sleeps on the running loop's clock."""
        key, number, decision, result = self._begin(name, rdtype)
        if result.latency > 0:
            await asyncio.sleep(result.latency)
        self._finish(key, number, decision, result)
        return result

    def lookup_now(self, name: NameLike, rdtype: TypeLike = "A") -> Result:
        """The same query with no time passing; the caller charges ``Result.latency`` itself."""
        key, number, decision, result = self._begin(name, rdtype)
        self._finish(key, number, decision, result)
        return result

    def _begin(self, name: NameLike, rdtype: TypeLike) -> tuple[str, int, Decision, Result]:
        key = canonical(name)
        number = rdtype_of(rdtype)
        now = self.sim.now
        decision = decide(self.zones, self.cache, self.faults, key, number, now)
        answer = decision.answer
        if decision.source is Source.CACHE and answer is not None:
            ttl = decision.expires - now
            return (
                key,
                number,
                decision,
                Result(answer.status, key, number, answer.rrsets, ttl, True, 0.0, None, answer.values),
            )
        fault = decision.fault
        if fault is not None and fault.kind is FaultKind.TIMEOUT:
            latency = self.timeout * self.attempts
            return key, number, decision, Result(Status.TIMEOUT, key, number, (), 0.0, False, latency, fault.kind)
        latency, answered = self._wait()
        if not answered:
            result = Result(Status.TIMEOUT, key, number, (), 0.0, False, latency)
        elif fault is not None:
            result = Result(Status(fault.kind.value), key, number, (), 0.0, False, latency, fault.kind)
        else:
            assert answer is not None
            result = Result(
                answer.status, key, number, answer.rrsets, float(answer.ttl), False, latency, None, answer.values
            )
        return key, number, decision, result

    def _wait(self) -> tuple[float, bool]:
        """Time spent on the network and whether a reply came (``rtt()`` None or >= timeout: no reply)."""
        spent = 0.0
        for _ in range(self.attempts):
            rtt = self._rtt()
            if rtt is not None and rtt < self.timeout:
                return spent + rtt, True
            spent += self.timeout
        return spent, False

    def _finish(self, key: str, rdtype: int, decision: Decision, result: Result) -> None:
        """Cache an authoritative answer that arrived and trace the query."""
        if decision.source is Source.AUTHORITY and result.status in CACHEABLE and result.ttl > 0:
            assert decision.answer is not None
            self.cache.put((key, rdtype), decision.answer, self.sim.now + result.ttl)
        self.sim.emit(
            self.host,
            "dns",
            "query",
            qname=display(key),
            qtype=type_text(rdtype),
            status=result.status.value,
            from_cache=result.from_cache,
            latency=result.latency,
            fault=result.fault.value if result.fault is not None else None,
        )


def _fixed(value: float) -> RttModel:
    return lambda: value
