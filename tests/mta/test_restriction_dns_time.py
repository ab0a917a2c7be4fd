"""smtpd waits for its restrictions' DNS: reject_unknown_* and reject_rbl_client lookups cost their latency.

Postfix's smtpd asks its resolver during the check and answers the command when the answers are in; the
model adds up the simulated latency of the check's queries and waits that long before the reply (a cached
answer costs nothing). The world is tests/mta/test_permit_mx_backup.py's: DNS queries take 20 ms each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mailsim.api import run
from tests.mta.test_permit_mx_backup import world

RELAY = "relay_domains = example.net\n"


def _submitted(result) -> float:  # type: ignore[no-untyped-def]
    (record,) = result.trace.select("submit", host="mail.example.org")
    return float(record.time)


def _queries(result, name: str) -> list[tuple[str, str, bool]]:  # type: ignore[no-untyped-def]
    return [(r.get("qname"), r.get("qtype"), r.get("from_cache"))
            for r in result.trace.select("query", host="backup.example.com") if name in r.get("qname")]  # fmt: skip


@pytest.mark.parametrize("fidelity", ["wire", "fast"])
def test_reject_unknown_sender_domain_waits_for_the_mx_lookup(tmp_path: Path, fidelity: str) -> None:
    plain = run(world(tmp_path / "plain", RELAY), fidelity=fidelity)
    checked = run(world(tmp_path / "checked", RELAY + "smtpd_sender_restrictions = reject_unknown_sender_domain\n"),
                  fidelity=fidelity)  # fmt: skip
    assert _queries(checked, "example.org")[-1:] == [("example.org", "MX", False)]  # one 20 ms query at MAIL
    assert _submitted(checked) - _submitted(plain) == pytest.approx(0.020)


@pytest.mark.parametrize("fidelity", ["wire", "fast"])
def test_a_dnsbl_miss_costs_one_query_and_a_listed_client_two(tmp_path: Path, fidelity: str) -> None:
    listed = '\n[[dns.records]]\nname = "10.2.0.192.bl.example.com"\ntype = "A"\nvalue = "127.0.0.2"\n'
    restriction = RELAY + "smtpd_client_restrictions = reject_rbl_client bl.example.com\n"
    plain = run(world(tmp_path / "plain", RELAY), fidelity=fidelity)
    missed = run(world(tmp_path / "missed", restriction), fidelity=fidelity)
    hit = run(world(tmp_path / "hit", restriction, extra=listed), fidelity=fidelity)
    assert [q[:2] for q in _queries(missed, "bl.example.com")] == [("10.2.0.192.bl.example.com", "A")]
    assert [q[:2] for q in _queries(hit, "bl.example.com")] == [("10.2.0.192.bl.example.com", "A"),
                                                                 ("10.2.0.192.bl.example.com", "TXT")]  # fmt: skip
    assert _submitted(missed) - _submitted(plain) == pytest.approx(0.020)
    (reject,) = hit.trace.select("reject", host="backup.example.com")
    assert reject.get("reply").startswith("554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked")
