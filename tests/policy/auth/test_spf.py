"""SPF over the simulated DNS: results, limits, macros, explanations, the Received-SPF header."""

from __future__ import annotations

import spf as pyspf

from mailsim.core import Simulation
from mailsim.dns import Faults, Resolver, ZoneSet
from mailsim.policy.auth.dnsview import DnsAnswer
from mailsim.policy.auth.spf import check_helo, check_spf
from tests.policy.auth.seedworld import MAIL_SCHWEIKERT, RELAY_ATRUST, World


def _zones(**records: str) -> ZoneSet:
    zones = ZoneSet()
    for name, text in records.items():
        zones.add_record(name.replace("_", "."), "TXT", text)
    return zones


def test_the_origin_server_passes(world: World) -> None:
    verdict = check_spf(MAIL_SCHWEIKERT, "david@schweikert.ch", "mail.schweikert.ch", world.dns)
    assert (verdict.result, verdict.mechanism, verdict.identity) == ("pass", "mx", "mailfrom")


def test_a_forwarder_fails_the_authors_record(world: World) -> None:
    """The seed: Gmail compares mail-relay.atrust.com's address with schweikert.ch's SPF record."""
    verdict = check_spf(
        RELAY_ATRUST, "david@schweikert.ch", "mail-relay.atrust.com", world.dns, receiver="mx.gmail.example"
    )
    assert verdict.result == "fail"
    assert verdict.mechanism == "-all"
    assert verdict.explanation == "SPF fail - not authorized"
    assert verdict.header == (
        "Received-SPF: Fail (mx.gmail.example: domain of schweikert.ch does not designate 198.51.100.7 as permitted "
        'sender) client-ip=198.51.100.7; envelope-from="david@schweikert.ch"; helo=mail-relay.atrust.com; '
        "receiver=mx.gmail.example; mechanism=-all; identity=mailfrom"
    )


def test_the_header_is_pyspfs_own() -> None:
    """The same query through pyspf with a record given inline writes the same header."""
    zones = _zones(example_org="v=spf1 ip4:192.0.2.0/24 ~all")
    ours = check_spf("198.51.100.1", "a@example.org", "h.example.net", zones.answer, receiver="rx")
    theirs = pyspf.query(i="198.51.100.1", s="a@example.org", h="h.example.net", receiver="rx")
    result = theirs.check("v=spf1 ip4:192.0.2.0/24 ~all")[0]
    assert ours.result == result == "softfail"
    assert ours.header_value == theirs.get_header(result, receiver="rx")


def test_no_record_is_none_and_the_null_sender_checks_helo(world: World) -> None:
    assert check_spf(RELAY_ATRUST, "x@nowhere.example", "h", world.dns).result == "none"
    helo = check_helo(RELAY_ATRUST, "mail-relay.atrust.com", world.dns)
    assert (helo.result, helo.identity, helo.sender) == ("pass", "helo", "postmaster@mail-relay.atrust.com")


def test_malformed_records_are_permerrors() -> None:
    for record in (
        "v=spf1 ip4:192.0.2.300 -all",
        "v=spf1 moo -all",
        "v=spf1 include: -all",
        "v=spf1 redirect=a redirect=b",
    ):
        verdict = check_spf("192.0.2.1", "a@bad.example", "h", _zones(bad_example=record).answer)
        assert verdict.result == "permerror", record
        assert verdict.problem


def test_two_spf_records_are_a_permerror() -> None:
    zones = _zones(two_example="v=spf1 -all")
    zones.add_record("two.example", "TXT", "v=spf1 +all")
    assert check_spf("192.0.2.1", "a@two.example", "h", zones.answer).result == "permerror"


def test_a_dns_timeout_is_a_temperror_with_its_cost() -> None:
    zones = _zones(slow_example="v=spf1 -all")
    faults = Faults()
    faults.add("TIMEOUT", "slow.example")
    resolver = Resolver(Simulation(seed=1, keep_trace=False), zones, host="rx", faults=faults, timeout=5, attempts=2)
    verdict = check_spf("192.0.2.1", "a@slow.example", "h", resolver.lookup_now)
    assert verdict.result == "temperror"
    assert verdict.dns_time == 10.0  # resolv.conf defaults: 5 s x 2 attempts, for the caller to charge


def test_the_lookup_limit_of_ten() -> None:
    """RFC 7208 §4.6.4: the eleventh DNS-querying term is a permerror."""
    zones = ZoneSet()
    includes = " ".join(f"include:i{n}.example" for n in range(11))
    zones.add_record("many.example", "TXT", f"v=spf1 {includes} -all")
    for n in range(11):
        zones.add_record(f"i{n}.example", "TXT", "v=spf1 ?all" if n < 10 else "v=spf1 +all")
    verdict = check_spf("192.0.2.1", "a@many.example", "h", zones.answer)
    assert verdict.result == "permerror"
    assert "Too many DNS lookups" in verdict.problem


def test_the_void_lookup_limit_of_two() -> None:
    zones = _zones(void_example="v=spf1 a:n1.example a:n2.example a:n3.example -all")
    verdict = check_spf("192.0.2.1", "a@void.example", "h", zones.answer)
    assert verdict.result == "permerror"
    assert "Void lookup limit" in verdict.problem
    assert check_spf("192.0.2.1", "a@void.example", "h", zones.answer, void_limit=3).result == "fail"


def test_macros_and_the_explanation_use_the_simulated_clock_and_receiver() -> None:
    zones = _zones(
        mac_example="v=spf1 exists:%{l}.%{d}.allow.example -all exp=why.example",
        why_example="%{i} may not send for %{d} (checked by %{r} at %{t})",
    )
    zones.add_record("alice.mac.example.allow.example", "A", "127.0.0.2")
    ok = check_spf("192.0.2.1", "alice@mac.example", "h", zones.answer)
    bad = check_spf("192.0.2.1", "bob@mac.example", "h", zones.answer, receiver="mx.test", now=1_700_000_000)
    assert ok.result == "pass"
    assert bad.result == "fail"
    assert bad.explanation == "192.0.2.1 may not send for mac.example (checked by mx.test at 1700000000)"


def test_every_query_goes_to_the_given_dns_only() -> None:
    """Two simulations with different data at once: pyspf's module globals are never patched."""
    first, second = _zones(x_example="v=spf1 +all"), _zones(x_example="v=spf1 -all")
    asked: list[str] = []

    def counting(name: str, rdtype: str) -> DnsAnswer:
        asked.append(f"{name}/{rdtype}")
        return second.answer(name, rdtype)

    assert check_spf("192.0.2.1", "a@x.example", "h", first.answer).result == "pass"
    assert check_spf("192.0.2.1", "a@x.example", "h", counting).result == "fail"
    assert asked == ["x.example/TXT"]
    assert pyspf.DNSLookup is pyspf.DNSLookup_dnspython and pyspf.MAX_VOID_LOOKUPS == 2


def test_a_bad_client_address_is_a_permerror_without_dns() -> None:
    verdict = check_spf("not-an-ip", "a@x.example", "h", _zones().answer)
    assert (verdict.result, verdict.dns_queries) == ("permerror", 0)
