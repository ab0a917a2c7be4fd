"""The resolver model: latency, TTL cache on virtual time, injected faults, traces, three APIs on one decision."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any

import pytest

from mailsim.core import Simulation
from mailsim.dns import Cache, Faults, Resolver, Result, Source, Status, ZoneSet, decide

RTT = 0.04


@pytest.fixture
def zones() -> ZoneSet:
    zones = ZoneSet()
    zones.load_zone_text(
        "$TTL 300\n@ IN SOA ns hm 1 7200 900 1209600 60\n@ IN MX 10 mx1\nmx1 IN A 192.0.2.10\n"
        "mx2 IN A 192.0.2.11\nalias 30 IN CNAME mx2\n",
        filename="example.org.zone",
    )
    return zones


def ask_at(sim: Simulation, resolver: Resolver, plan: list[tuple[float, str, str]]) -> list[tuple[float, Result]]:
    """Issue each (time, name, type) query in a simpy process; returns (completion time, result)."""
    seen: list[tuple[float, Result]] = []

    def client() -> Generator[Any, Any, None]:
        for at, name, rdtype in plan:
            yield sim.env.timeout(max(0.0, at - sim.now))
            result = yield resolver.query(name, rdtype)
            seen.append((sim.now, result))

    sim.env.process(client())
    sim.run()
    return seen


def make(
    zones: ZoneSet, faults: Faults | None = None, rtt: float | Callable[[], float | None] = RTT
) -> tuple[Simulation, Resolver]:
    sim = Simulation(1)
    return sim, Resolver(sim, zones, host="client.example.org", rtt=rtt, faults=faults)


def test_a_query_costs_one_round_trip(zones: ZoneSet) -> None:
    sim, resolver = make(zones)
    [(done, result)] = ask_at(sim, resolver, [(0.0, "mx1.example.org", "A")])
    assert done == pytest.approx(RTT) and result.latency == pytest.approx(RTT)
    assert result.ok and result.values == ("192.0.2.10",) and not result.from_cache


def test_cached_within_ttl_without_latency_and_requeried_after(zones: ZoneSet) -> None:
    sim, resolver = make(zones)
    plan = [(0.0, "mx1.example.org", "A"), (100.0, "mx1.example.org", "A"), (301.0, "mx1.example.org", "A")]
    first, second, third = ask_at(sim, resolver, plan)
    assert second[1].from_cache and second[1].latency == 0.0 and second[0] == 100.0
    assert second[1].ttl == pytest.approx(300 + RTT - 100)
    assert not third[1].from_cache and third[0] == pytest.approx(301.0 + RTT)


def test_negative_answers_are_cached_for_the_soa_minimum(zones: ZoneSet) -> None:
    sim, resolver = make(zones)
    plan = [(0.0, "nope.example.org", "A"), (59.0, "nope.example.org", "A"), (61.0, "nope.example.org", "A")]
    first, second, third = ask_at(sim, resolver, plan)
    assert first[1].status is Status.NXDOMAIN
    assert second[1].from_cache and not third[1].from_cache


def test_a_cname_chain_is_cached_for_its_lowest_ttl(zones: ZoneSet) -> None:
    sim, resolver = make(zones)
    first, second = ask_at(sim, resolver, [(0.0, "alias.example.org", "A"), (31.0, "alias.example.org", "A")])
    assert first[1].values == ("192.0.2.11",) and not second[1].from_cache


@pytest.mark.parametrize(
    ("kind", "status", "latency"),
    [("NXDOMAIN", Status.NXDOMAIN, RTT), ("SERVFAIL", Status.SERVFAIL, RTT), ("timeout", Status.TIMEOUT, 10.0)],
)
def test_each_fault_strikes_only_inside_its_window(zones: ZoneSet, kind: str, status: Status, latency: float) -> None:
    faults = Faults()
    faults.add(kind, "mx2.example.org", start=1000.0, end=2000.0)
    sim, resolver = make(zones, faults)
    sim_plan = [(999.0, "mx2.example.org", "AAAA"), (1500.0, "mx2.example.org", "A"), (2000.0, "mx2.example.org", "A")]
    before, inside, after = ask_at(sim, resolver, sim_plan)
    assert before[1].status is Status.NODATA and before[1].fault is None
    assert inside[1].status is status and inside[1].fault == kind.upper()
    assert inside[0] - 1500.0 == pytest.approx(latency) and inside[1].latency == pytest.approx(latency)
    assert after[1].status is Status.NOERROR and not after[1].from_cache


def test_wildcard_and_per_type_faults(zones: ZoneSet) -> None:
    faults = Faults()
    faults.add("SERVFAIL", "*.example.org", rdtype="A")
    sim, resolver = make(zones, faults)
    assert resolver.lookup_now("mx1.example.org", "A").status is Status.SERVFAIL
    assert resolver.lookup_now("mx1.example.org", "AAAA").status is Status.NODATA
    assert resolver.lookup_now("example.org", "MX").status is Status.NOERROR  # *.x is below x only


def test_a_fault_on_a_cname_target_fails_the_query(zones: ZoneSet) -> None:
    faults = Faults()
    faults.add("SERVFAIL", "mx2.example.org")
    sim, resolver = make(zones, faults)
    assert resolver.lookup_now("alias.example.org", "A").status is Status.SERVFAIL


def test_cached_answers_outlive_an_upstream_fault_unless_it_bypasses_the_cache(zones: ZoneSet) -> None:
    faults = Faults()
    faults.add("SERVFAIL", "mx1.example.org", start=10.0)
    faults.add("TIMEOUT", "example.org", start=10.0, bypass_cache=True)
    sim, resolver = make(zones, faults)
    plan = [
        (0.0, "mx1.example.org", "A"),
        (0.0, "example.org", "MX"),
        (20.0, "mx1.example.org", "A"),
        (20.0, "example.org", "MX"),
    ]
    results = [result for _, result in ask_at(sim, resolver, plan)]
    assert results[2].from_cache and results[2].ok
    assert results[3].status is Status.TIMEOUT


def test_an_unreachable_resolver_times_out_after_every_attempt(zones: ZoneSet) -> None:
    sim, resolver = make(zones, rtt=lambda: None)
    [(done, result)] = ask_at(sim, resolver, [(0.0, "mx1.example.org", "A")])
    assert result.status is Status.TIMEOUT and result.fault is None and done == pytest.approx(10.0)


def test_a_lost_reply_is_retried(zones: ZoneSet) -> None:
    replies = iter([None, RTT])
    sim, resolver = make(zones, rtt=lambda: next(replies))
    [(done, result)] = ask_at(sim, resolver, [(0.0, "mx1.example.org", "A")])
    assert result.ok and done == pytest.approx(5.0 + RTT)


def test_every_query_is_traced(zones: ZoneSet) -> None:
    faults = Faults()
    faults.add("TIMEOUT", "mx2.example.org")
    sim, resolver = make(zones, faults)
    ask_at(sim, resolver, [(0.0, "mx1.example.org", "A"), (1.0, "mx1.example.org", "A"), (2.0, "mx2.example.org", "A")])
    records = sim.trace.select("query", service="dns", host="client.example.org")
    assert [(r.time, *(r.get(k) for k in ("qname", "qtype", "status", "from_cache", "fault"))) for r in records] == [
        (pytest.approx(RTT), "mx1.example.org", "A", "NOERROR", False, None),
        (1.0, "mx1.example.org", "A", "NOERROR", True, None),
        (12.0, "mx2.example.org", "A", "TIMEOUT", False, "TIMEOUT"),
    ]
    assert [r.get("latency") for r in records] == [pytest.approx(RTT), 0.0, 10.0]


def test_lookup_now_takes_no_time_but_reports_its_latency(zones: ZoneSet) -> None:
    sim, resolver = make(zones)
    first = resolver.lookup_now("mx1.example.org", "A")
    second = resolver.lookup_now("mx1.example.org", "A")
    assert sim.now == 0.0 and first.latency == RTT and second.from_cache and second.latency == 0.0
    assert len(sim.trace.select("query")) == 2


def test_aquery_on_a_stock_asyncio_loop(zones: ZoneSet) -> None:
    sim, resolver = make(zones, rtt=0.0)

    async def main() -> tuple[Result, Result]:
        return await resolver.aquery("example.org", "MX"), await resolver.aquery("example.org", "MX")

    first, second = asyncio.run(main())
    assert first.values == ((10, "mx1.example.org"),) and second.from_cache
    assert len(sim.trace.select("query")) == 2


def test_the_decision_is_a_plain_function(zones: ZoneSet) -> None:
    cache, faults = Cache(), Faults()
    decision = decide(zones, cache, faults, "mx1.example.org.", 1, 0.0)
    assert decision.source is Source.AUTHORITY and decision.answer.status is Status.NOERROR
    cache.put(("mx1.example.org.", 1), decision.answer, 300.0)
    assert decide(zones, cache, faults, "mx1.example.org.", 1, 299.0).source is Source.CACHE
    assert decide(zones, cache, faults, "mx1.example.org.", 1, 300.0).source is Source.AUTHORITY
    faults.add("NXDOMAIN", "mx1.example.org", start=400.0)
    assert decide(zones, cache, faults, "mx1.example.org.", 1, 400.0).source is Source.FAULT


def test_aquery_sleeps_in_virtual_time_on_the_simulation_loop(zones: ZoneSet) -> None:
    simloop = pytest.importorskip("mailsim.engine.simloop")
    sim = Simulation(1, loop_factory=simloop.SimLoop)
    faults = Faults()
    faults.add("TIMEOUT", "mx2.example.org")
    resolver = Resolver(sim, zones, host="client.example.org", rtt=RTT, faults=faults)

    async def main() -> list[tuple[float, Status]]:
        seen = []
        for name in ("mx1.example.org", "mx1.example.org", "mx2.example.org"):
            result = await resolver.aquery(name, "A")
            seen.append((sim.now, result.status))
        return seen

    assert sim.loop.run_until_complete(main()) == [
        (pytest.approx(RTT), Status.NOERROR),
        (pytest.approx(RTT), Status.NOERROR),
        (pytest.approx(RTT + 10.0), Status.TIMEOUT),
    ]
