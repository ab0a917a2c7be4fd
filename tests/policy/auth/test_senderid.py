"""Sender ID: the Purported Responsible Address from the headers, judged by spf2.0/pra (or v=spf1) records."""

from __future__ import annotations

import pytest

from mailsim.dns import ZoneSet
from mailsim.policy.auth.senderid import check_senderid, headers_of, pra
from mailsim.policy.auth.spf import check_spf
from tests.policy.auth.seedworld import MAIL_SCHWEIKERT, MESSAGE, RELAY_ATRUST, World


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("From", "a@from.example")], ("From", "a@from.example")),
        ([("Sender", "s@sender.example"), ("From", "a@from.example")], ("Sender", "s@sender.example")),
        ([("Resent-From", "r@resent.example"), ("From", "a@from.example")], ("Resent-From", "r@resent.example")),
        ([("Resent-Sender", "rs@x.example"), ("Resent-From", "rf@x.example")], ("Resent-Sender", "rs@x.example")),
        # a newer resent block (Resent-From, then Received) hides an older Resent-Sender
        (
            [("Resent-From", "new@x.example"), ("Received", "from a by b"), ("Resent-Sender", "old@y.example")],
            ("Resent-From", "new@x.example"),
        ),
        ([("Sender", ""), ("From", "a@from.example")], ("From", "a@from.example")),  # empty fields do not count
        ([("From", "a@one.example"), ("From", "b@two.example")], None),
        ([("Sender", "a@one.example"), ("Sender", "b@two.example"), ("From", "c@x.example")], None),
        ([("From", "a@one.example, b@two.example")], None),
        ([("From", "undisclosed-recipients:;")], None),
        ([("To", "x@y.example")], None),
    ],
)
def test_the_purported_responsible_address(headers: list[tuple[str, str]], expected: tuple[str, str] | None) -> None:
    assert pra(headers) == expected


def test_spf2_pra_records_win_over_v_spf1() -> None:
    zones = ZoneSet()
    zones.add_record("example.org", "TXT", "v=spf1 -all")
    zones.add_record("example.org", "TXT", "spf2.0/mfrom,pra ip4:192.0.2.0/24 -all")
    verdict = check_senderid("192.0.2.9", [("From", "a@example.org")], "h", zones.answer)
    assert (verdict.result, verdict.pra, verdict.pra_header) == ("pass", "a@example.org", "From")
    assert verdict.spf is not None and verdict.spf.identity == "pra"
    assert check_spf("192.0.2.9", "a@example.org", "h", zones.answer).result == "fail"  # SPF reads v=spf1


def test_v_spf1_is_used_without_a_pra_record_and_mfrom_only_records_are_ignored() -> None:
    zones = ZoneSet()
    zones.add_record("example.org", "TXT", "v=spf1 ip4:192.0.2.9 -all")
    zones.add_record("example.org", "TXT", "spf2.0/mfrom -all")
    assert check_senderid("192.0.2.9", [("From", "a@example.org")], "h", zones.answer).result == "pass"


def test_two_pra_records_and_a_missing_pra_are_permerrors() -> None:
    zones = ZoneSet()
    zones.add_record("example.org", "TXT", "spf2.0/pra +all")
    zones.add_record("example.org", "TXT", "spf2.0/mfrom,pra -all")
    assert check_senderid("192.0.2.9", [("From", "a@example.org")], "h", zones.answer).result == "permerror"
    verdict = check_senderid("192.0.2.9", [("To", "a@example.org")], "h", zones.answer)
    assert (verdict.result, verdict.pra) == ("permerror", None)


def test_includes_follow_the_pra_scope_too() -> None:
    zones = ZoneSet()
    zones.add_record("example.org", "TXT", "spf2.0/pra include:partner.example -all")
    zones.add_record("partner.example", "TXT", "spf2.0/pra ip4:198.51.100.0/24 -all")
    zones.add_record("partner.example", "TXT", "v=spf1 -all")
    assert check_senderid("198.51.100.3", [("From", "a@example.org")], "h", zones.answer).result == "pass"


def test_sender_id_and_spf_disagree_on_a_forwarder_that_resends(world: World) -> None:
    """The relay adds Resent-From: its own domain becomes the PRA, so Sender ID passes where SPF fails."""
    resent = b"Resent-From: evi@atrust.com\r\n" + MESSAGE
    spf = check_spf(RELAY_ATRUST, "david@schweikert.ch", "mail-relay.atrust.com", world.dns)
    senderid = check_senderid(RELAY_ATRUST, headers_of(resent), "mail-relay.atrust.com", world.dns)
    assert (spf.result, senderid.result, senderid.pra) == ("fail", "pass", "evi@atrust.com")
    plain = check_senderid(RELAY_ATRUST, headers_of(MESSAGE), "mail-relay.atrust.com", world.dns)
    assert (plain.result, plain.pra_header) == ("fail", "From")  # a plain forward fails both
    home = check_senderid(MAIL_SCHWEIKERT, headers_of(MESSAGE), "mail.schweikert.ch", world.dns)
    assert home.result == "pass"
