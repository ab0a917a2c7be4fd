"""MX selection per RFC 5321 §5.1 and RFC 7505, and address ordering per Postfix's smtp(8) parameters."""

from __future__ import annotations

import numpy as np
import pytest

from mailsim.core import Simulation
from mailsim.dns import MxPlan, MxStatus, Status, ZoneSet, mx_plan, order_addresses, order_mx

ZONE = """\
$TTL 300
@        IN MX 20 backup
@        IN MX 10 mx-b
@        IN MX 10 mx-a
@        IN MX 10 mx-c
nomail   IN MX 0 .
bare     IN A 192.0.2.5
"""


@pytest.fixture
def zones() -> ZoneSet:
    zones = ZoneSet()
    zones.load_zone_text(ZONE, filename="example.org.zone")
    return zones


def plan(zones: ZoneSet, domain: str, seed: int = 1, local_names: tuple[str, ...] = ()) -> MxPlan:
    rng = Simulation(seed).rng("smtp.mx")
    return mx_plan(domain, zones.answer(domain, "MX"), rng, local_names=local_names)


def test_hosts_come_in_preference_order(zones: ZoneSet) -> None:
    result = plan(zones, "example.org")
    assert result.status is MxStatus.OK
    assert [h.preference for h in result.hosts] == [10, 10, 10, 20]
    assert sorted(result.names[:3]) == ["mx-a.example.org", "mx-b.example.org", "mx-c.example.org"]
    assert result.names[3] == "backup.example.org"


def test_equal_preferences_shuffle_the_same_way_for_a_seed(zones: ZoneSet) -> None:
    assert plan(zones, "example.org", seed=5).names == plan(zones, "example.org", seed=5).names


def test_equal_preferences_shuffle_differently_across_draws_and_seeds() -> None:
    records = [(10, "a.example"), (10, "b.example"), (10, "c.example"), (5, "first.example")]
    rng = np.random.default_rng(0)
    orders = [tuple(h.host for h in order_mx(records, rng)) for _ in range(300)]
    assert all(order[0] == "first.example" for order in orders)
    counts = {order: orders.count(order) for order in set(orders)}
    assert len(counts) == 6 and min(counts.values()) > 20  # every permutation, roughly evenly
    firsts = {tuple(h.host for h in order_mx(records, Simulation(seed).rng("smtp.mx"))) for seed in range(20)}
    assert len(firsts) > 1


def test_no_mx_records_is_the_implicit_mx(zones: ZoneSet) -> None:
    result = plan(zones, "bare.example.org")
    assert result.status is MxStatus.OK and result.names == ["bare.example.org"] and result.hosts[0].implicit


def test_a_single_dot_mx_is_null_mx(zones: ZoneSet) -> None:
    assert plan(zones, "nomail.example.org").status is MxStatus.NULL_MX


def test_a_dot_among_other_mx_records_is_dropped() -> None:
    assert [h.host for h in order_mx([(0, "."), (10, "mx.example")], np.random.default_rng(0))] == ["mx.example"]


def test_nxdomain_and_temporary_failures(zones: ZoneSet) -> None:
    assert plan(zones, "missing.example.org").status is MxStatus.NOT_FOUND

    class Failed:
        status = Status.SERVFAIL
        values = ()

    assert mx_plan("example.org", Failed(), np.random.default_rng(0)).status is MxStatus.TEMPFAIL


def test_an_mx_drops_itself_and_everything_less_preferred(zones: ZoneSet) -> None:
    backup = plan(zones, "example.org", local_names=("BACKUP.example.org.",))
    assert [h.preference for h in backup.hosts] == [10, 10, 10]
    assert plan(zones, "example.org", local_names=("mx-a.example.org",)).status is MxStatus.LOOP
    assert plan(zones, "bare.example.org", local_names=("bare.example.org",)).status is MxStatus.LOOP


def test_address_families_follow_inet_protocols_and_preference() -> None:
    v4, v6 = ["192.0.2.1", "192.0.2.2"], ["2001:db8::1"]
    assert order_addresses(v4, v6, inet_protocols="ipv4", randomize=False) == v4
    assert order_addresses(v4, v6, preference="ipv6", randomize=False, balance=False) == v6 + v4
    assert order_addresses(v4, v6, preference="ipv4", randomize=False) == ["192.0.2.1", "2001:db8::1", "192.0.2.2"]
    firsts = {order_addresses(v4, v6, rng=np.random.default_rng(seed))[0][:4] for seed in range(20)}
    assert firsts == {"192.", "2001"}
    with pytest.raises(ValueError, match="inet_protocols"):
        order_addresses(v4, v6, inet_protocols="ipx")
