"""DMARC: policy discovery with the organizational-domain fallback, alignment, p/sp/pct."""

from __future__ import annotations

import numpy as np
import pytest

from mailsim.core import Simulation
from mailsim.dns import Faults, Resolver, ZoneSet
from mailsim.policy.auth.dkim import DkimResult
from mailsim.policy.auth.dmarc import (
    aligned,
    arc_override,
    check_dmarc,
    from_domain,
    organizational_domain,
    parse_record,
)
from mailsim.policy.auth.spf import check_spf
from tests.policy.auth.seedworld import MAIL_SCHWEIKERT, RELAY_ATRUST, World

DKIM_PASS = DkimResult("schweikert.ch", "mail", "pass", "")
DKIM_FAIL = DkimResult("schweikert.ch", "mail", "fail", "body hash did not verify")


def _zones(record: str, where: str = "_dmarc.example.org") -> ZoneSet:
    zones = ZoneSet()
    zones.add_record(where, "TXT", record)
    return zones


def test_organizational_domains_use_the_last_two_labels_or_a_known_suffix() -> None:
    assert organizational_domain("mail.schweikert.ch") == "schweikert.ch"
    assert organizational_domain("a.b.example.co.uk") == "example.co.uk"
    assert organizational_domain("example.com") == "example.com"
    assert organizational_domain("x.y.example.test", suffixes={"example.test"}) == "y.example.test"


def test_relaxed_and_strict_alignment() -> None:
    assert aligned("bounce.schweikert.ch", "schweikert.ch", "r")
    assert not aligned("bounce.schweikert.ch", "schweikert.ch", "s")
    assert not aligned("atrust.com", "schweikert.ch", "r")


def test_record_parsing() -> None:
    record = parse_record("v=DMARC1; p=quarantine; sp=reject; pct=25; adkim=s; rua=mailto:r@example.org")
    assert record is not None
    assert (record.p, record.sp, record.pct, record.adkim, record.aspf) == ("quarantine", "reject", 25, "s", "r")
    assert parse_record("v=DMARC1; p=none").sp == "none"
    assert parse_record("v=DMARC1; rua=mailto:r@example.org").p == "none"  # §6.6.3
    for bad in ("v=DMARC1; p=maybe", "v=DMARC2; p=reject", "p=reject; v=DMARC1", "v=DMARC1; p=reject; pct=101"):
        assert parse_record(bad) is None, bad


def test_aligned_spf_or_dkim_passes(world: World) -> None:
    spf = check_spf(MAIL_SCHWEIKERT, "david@schweikert.ch", "mail.schweikert.ch", world.dns)
    verdict = check_dmarc("schweikert.ch", spf, [DKIM_FAIL], world.dns)
    assert (verdict.result, verdict.spf_aligned, verdict.dkim_aligned) == ("pass", True, False)
    assert check_dmarc("schweikert.ch", None, [DKIM_PASS], world.dns).dkim_aligned


def test_p_reject_rejects_when_spf_fails_and_dkim_is_broken(world: World) -> None:
    spf = check_spf(RELAY_ATRUST, "david@schweikert.ch", "mail-relay.atrust.com", world.dns)
    verdict = check_dmarc("schweikert.ch", spf, [DKIM_FAIL], world.dns)
    assert (verdict.result, verdict.disposition, verdict.policy) == ("fail", "reject", "reject")
    assert "spf=fail" in verdict.reason and "dkim=fail" in verdict.reason


def test_a_pass_for_another_domain_is_not_aligned(world: World) -> None:
    """SRS makes SPF pass for the forwarder's domain: good for SPF, useless for DMARC."""
    srs = check_spf(RELAY_ATRUST, "SRS0=x=TT=schweikert.ch=david@atrust.com", "mail-relay.atrust.com", world.dns)
    assert srs.result == "pass"
    assert check_dmarc("schweikert.ch", srs, [], world.dns).disposition == "reject"


def test_subdomains_fall_back_to_the_organizational_record_and_its_sp() -> None:
    zones = _zones("v=DMARC1; p=reject; sp=quarantine")
    sub = check_dmarc("news.example.org", None, [], zones.answer)
    assert (sub.record_domain, sub.policy, sub.disposition) == ("example.org", "quarantine", "quarantine")
    assert check_dmarc("example.org", None, [], zones.answer).disposition == "reject"


def test_no_record_or_two_records_is_none() -> None:
    assert check_dmarc("example.net", None, [], ZoneSet().answer).result == "none"
    zones = _zones("v=DMARC1; p=reject")
    zones.add_record("_dmarc.example.org", "TXT", "v=DMARC1; p=none")
    assert check_dmarc("example.org", None, [], zones.answer).result == "none"


def test_pct_samples_with_the_runs_random_stream() -> None:
    zones = _zones("v=DMARC1; p=reject; pct=30")
    rng = np.random.default_rng(7)
    outcomes = [check_dmarc("example.org", None, [], zones.answer, rng=rng).disposition for _ in range(400)]
    assert set(outcomes) == {"reject", "quarantine"}  # not sampled: the next milder policy (§6.6.4)
    assert 0.2 < outcomes.count("reject") / 400 < 0.4
    again = np.random.default_rng(7)
    assert outcomes == [check_dmarc("example.org", None, [], zones.answer, rng=again).disposition for _ in range(400)]


def test_a_dns_failure_is_a_temperror() -> None:
    faults = Faults()
    faults.add("SERVFAIL", "_dmarc.example.org")
    resolver = Resolver(Simulation(seed=0, keep_trace=False), _zones("v=DMARC1; p=reject"), host="rx", faults=faults)
    verdict = check_dmarc("example.org", None, [], resolver.lookup_now)
    assert (verdict.result, verdict.disposition) == ("temperror", "none")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"From: David <david@schweikert.ch>\r\n", "schweikert.ch"),
        (b"From: a@one.example, b@two.example\r\n", None),
        (b"From: a@one.example\r\nFrom: b@one.example\r\n", None),
        (b"To: nobody@example.org\r\n", None),
    ],
)
def test_exactly_one_from_domain(header: bytes, expected: str | None) -> None:
    assert from_domain(header + b"\r\nbody\r\n") == expected
    if expected is None:
        assert check_dmarc(from_domain(header + b"\r\n"), None, [], ZoneSet().answer).result == "permerror"


def test_a_trusted_arc_sealer_can_override_a_failure(world: World) -> None:
    failed = check_dmarc("schweikert.ch", None, [DKIM_FAIL], world.dns)
    assert arc_override(failed, "pass", "atrust.com", {"atrust.com"}).disposition == "none"
    assert arc_override(failed, "pass", "atrust.com", set()).disposition == "reject"
    assert arc_override(failed, "fail", "atrust.com", {"atrust.com"}).disposition == "reject"
