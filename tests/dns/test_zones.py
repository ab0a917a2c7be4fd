"""Authoritative answers: zone files, NXDOMAIN vs NODATA, CNAMEs, wildcards, scenario records."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailsim.core.errors import ScenarioError
from mailsim.dns import Status, ZoneSet

EXAMPLE_ORG = """\
$TTL 1h
@       IN SOA ns1 hostmaster 2026010501 7200 900 1209600 120
        IN NS  ns1
        IN MX  10 mx1
        IN MX  20 mx2.example.net.
ns1     IN A   192.0.2.53
mx1  600 IN A  192.0.2.10
www  60 IN CNAME mx1
far     IN CNAME mail.example.net.
gone    IN CNAME nothing.example.net.
loop1   IN CNAME loop2
loop2   IN CNAME loop1
a.b     IN TXT "deep"
$ORIGIN lab.example.org.
printer IN A   192.0.2.99
"""


@pytest.fixture
def zones(tmp_path: Path) -> ZoneSet:
    path = tmp_path / "example.org.zone"
    path.write_text(EXAMPLE_ORG)
    zones = ZoneSet()
    zones.load_zone_file(path)
    zones.add_records([{"name": "mail.example.net", "type": "A", "value": "198.51.100.7", "ttl": 30}])
    return zones


def test_zone_file_origin_ttl_and_relative_names(zones: ZoneSet) -> None:
    mx = zones.answer("example.org", "MX")
    assert mx.status is Status.NOERROR and mx.ttl == 3600
    assert sorted(rd.to_text() for rd in mx.rrset) == ["10 mx1.example.org.", "20 mx2.example.net."]
    assert zones.answer("mx1.example.org.", "A").ttl == 600
    assert zones.answer("printer.lab.example.org", "A").rrset[0].address == "192.0.2.99"
    assert zones.origins == ["example.net.", "example.org."]


def test_names_are_case_insensitive(zones: ZoneSet) -> None:
    assert zones.answer("MX1.Example.ORG", "a").status is Status.NOERROR


def test_a_name_with_other_types_is_nodata(zones: ZoneSet) -> None:
    answer = zones.answer("mx1.example.org", "AAAA")
    assert answer.status is Status.NODATA and answer.rrset is None


def test_an_empty_non_terminal_is_nodata(zones: ZoneSet) -> None:
    assert zones.answer("b.example.org", "TXT").status is Status.NODATA
    assert zones.answer("lab.example.org", "A").status is Status.NODATA


def test_a_missing_name_is_nxdomain(zones: ZoneSet) -> None:
    assert zones.answer("nobody.example.org", "A").status is Status.NXDOMAIN
    assert zones.answer("x.a.b.example.org", "TXT").status is Status.NXDOMAIN


def test_names_outside_every_zone_are_nxdomain(zones: ZoneSet) -> None:
    assert zones.answer("www.google.com", "A").status is Status.NXDOMAIN


def test_negative_ttl_is_the_soa_minimum_or_the_default(zones: ZoneSet) -> None:
    assert zones.answer("nobody.example.org", "A").ttl == 120
    assert zones.answer("nobody.example.net", "A").ttl == 300
    assert ZoneSet(negative_ttl=60).answer("x.invalid", "A").ttl == 60


def test_cname_is_chased_across_zones(zones: ZoneSet) -> None:
    answer = zones.answer("far.example.org", "A")
    assert answer.status is Status.NOERROR
    assert [r.rdtype for r in answer.rrsets] == [5, 1]
    assert answer.rrset[0].address == "198.51.100.7"
    assert answer.ttl == 30  # the lowest TTL along the chain


def test_cname_query_returns_the_cname_itself(zones: ZoneSet) -> None:
    answer = zones.answer("www.example.org", "CNAME")
    assert answer.status is Status.NOERROR and answer.rrset[0].target.to_text() == "mx1.example.org."


def test_cname_to_a_missing_name_is_nxdomain_with_the_chain(zones: ZoneSet) -> None:
    answer = zones.answer("gone.example.org", "A")
    assert answer.status is Status.NXDOMAIN and len(answer.rrsets) == 1


def test_cname_loop_is_servfail(zones: ZoneSet) -> None:
    assert zones.answer("loop1.example.org", "A").status is Status.SERVFAIL


def test_wildcard_synthesises_answers_below_its_closest_encloser() -> None:
    zones = ZoneSet()
    zones.load_zone_text("$TTL 60\n* IN TXT wild\nhost IN A 192.0.2.1\n", filename="example.com.zone")
    answer = zones.answer("anything.example.com", "TXT")
    assert answer.status is Status.NOERROR and answer.rrset.name.to_text() == "anything.example.com."
    assert zones.answer("anything.example.com", "A").status is Status.NODATA
    assert zones.answer("host.example.com", "TXT").status is Status.NODATA


def test_scenario_records_and_unquoted_txt_is_one_string() -> None:
    zones = ZoneSet()
    zones.add_records(
        [
            {"name": "example.org", "type": "MX", "value": "10 mx1.example.org", "ttl": 300},
            {"name": "example.org", "type": "TXT", "value": "v=spf1 ip4:192.0.2.0/24 -all", "ttl": "5m"},
        ]
    )
    assert zones.answer("example.org", "MX").rrset[0].exchange.to_text() == "mx1.example.org."
    txt = zones.answer("example.org", "TXT").rrset
    assert txt[0].strings == (b"v=spf1 ip4:192.0.2.0/24 -all",) and txt.ttl == 300


@pytest.mark.parametrize(
    ("record", "where"),
    [
        ({"name": "example.org", "type": "MXX", "value": "10 mx"}, "dns.records[0].type"),
        ({"name": "example.org", "type": "A", "value": "300.1.1.1"}, "dns.records[0].value"),
        ({"name": "example.org", "type": "A", "value": "192.0.2.1", "ttl": -5}, "dns.records[0].ttl"),
        ({"name": "example.org", "type": "A", "value": "192.0.2.1", "color": "red"}, "dns.records[0].color"),
        ({"name": "example.org", "type": "A"}, "dns.records[0].value"),
    ],
)
def test_bad_scenario_records_name_the_key(record: dict, where: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        ZoneSet().add_records([record], file="scenario.toml")
    assert caught.value.key == where and str(caught.value).startswith(f"scenario.toml: {where}: ")


def test_add_host_makes_forward_and_reverse_records() -> None:
    zones = ZoneSet()
    zones.add_host("mail.example.org", ["192.0.2.10", "2001:db8::10"])
    assert zones.answer("mail.example.org", "A").rrset[0].address == "192.0.2.10"
    assert zones.answer("mail.example.org", "AAAA").rrset[0].address == "2001:db8::10"
    ptr = zones.answer("10.2.0.192.in-addr.arpa", "PTR").rrset
    assert ptr[0].target.to_text() == "mail.example.org."
    v6 = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    assert zones.answer(v6, "PTR").rrset[0].target.to_text() == "mail.example.org."


def test_add_host_rejects_a_bad_address() -> None:
    with pytest.raises(ScenarioError, match="expected an IPv4 or IPv6 address, found 192.0.2"):
        ZoneSet().add_host("mail.example.org", ["192.0.2"])


def test_a_zone_loaded_after_host_records_takes_them_over() -> None:
    zones = ZoneSet()
    zones.add_host("mail.example.co.uk", ["192.0.2.25"])
    assert zones.zone_for("mail.example.co.uk") == "co.uk."
    zones.load_zone_text("$TTL 300\nwww IN A 192.0.2.80\n", filename="example.co.uk.zone")
    assert zones.zone_for("mail.example.co.uk") == "example.co.uk."
    assert zones.answer("mail.example.co.uk", "A").status is Status.NOERROR
    assert zones.answer("www.example.co.uk", "A").status is Status.NOERROR
