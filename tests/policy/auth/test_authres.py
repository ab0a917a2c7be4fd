"""Authentication-Results (RFC 8601): written from verdicts, read back with every method."""

from __future__ import annotations

from mailsim.policy.auth.arc import ArcVerdict
from mailsim.policy.auth.authres import authentication_results, parse
from mailsim.policy.auth.dkim import DkimResult, sign_message, verify
from mailsim.policy.auth.dmarc import check_dmarc
from mailsim.policy.auth.spf import check_spf
from tests.policy.auth.seedworld import MESSAGE, NOW, RELAY_ATRUST, World


def test_the_gmail_view_of_the_seed_message(world: World) -> None:
    spf = check_spf(
        RELAY_ATRUST, "david@schweikert.ch", "mail-relay.atrust.com", world.dns, receiver="mx.gmail.example"
    )
    dkim = verify(sign_message(MESSAGE, world.schweikert, now=NOW) + b"footer\r\n", world.dns)
    dmarc = check_dmarc("schweikert.ch", spf, dkim, world.dns)
    value = authentication_results("mx.gmail.example", spf=spf, dkim=dkim, dmarc=dmarc)
    assert value.startswith(
        "mx.gmail.example; spf=fail (domain of schweikert.ch does not designate 198.51.100.7 as permitted sender) "
        'smtp.mailfrom=schweikert.ch; dkim=fail (2048-bit key) reason="body hash did not verify" '
        "header.d=schweikert.ch header.i=@schweikert.ch header.s=mail header.a=rsa-sha256 header.b="
    )
    assert value.endswith("; dmarc=fail (p=reject dis=reject) header.from=schweikert.ch")


def test_nothing_checked_is_none() -> None:
    assert authentication_results("mx.example") == "mx.example; none"


def test_a_header_reads_back(world: World) -> None:
    spf = check_spf(RELAY_ATRUST, "", "mail-relay.atrust.com", world.dns)
    value = authentication_results(
        "mx.example",
        helo=spf,
        dkim=[DkimResult("a.example", "s1", "pass", "", "ed25519-sha256", "@a.example", "abcdefgh", 256)],
        arc=ArcVerdict("pass", "success", 1, "atrust.com"),
        senderid=("fail", "Resent-From", "evi@atrust.com"),
    )
    parsed = parse("Authentication-Results: " + value.replace("; ", ";\r\n\t"))
    assert parsed is not None and parsed.authserv_id == "mx.example"
    assert [(r.method, r.result) for r in parsed.results] == [
        ("spf", "pass"),
        ("dkim", "pass"),
        ("sender-id", "fail"),
        ("arc", "pass"),
    ]
    assert parsed.first("spf").get("smtp.helo") == "mail-relay.atrust.com"
    assert parsed.first("dkim").get("header.b") == "abcdefgh"
    assert parsed.first("sender-id").get("header.resent-from") == "evi@atrust.com"
    assert parsed.first("arc").get("header.as-d") == "atrust.com"


def test_junk_is_not_a_header() -> None:
    assert parse("Authentication-Results: ;;;") is None
