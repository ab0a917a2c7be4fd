"""DKIM over the simulated DNS: what survives a relay, and every failure as a result, never a crash."""

from __future__ import annotations

import pytest

from mailsim.core import Simulation
from mailsim.dns import Faults, Resolver
from mailsim.policy.auth.dkim import SigningError, sign, sign_message, verify
from mailsim.policy.auth.keys import KeyRing
from tests.policy.auth.seedworld import MESSAGE, NOW, World

FOOTER = b"-- \r\nThis message was forwarded by atrust.com\r\n"


def _results(message: bytes, world: World) -> list[tuple[str, str]]:
    return [(r.result, r.reason) for r in verify(message, world.dns)]


@pytest.mark.parametrize("which", ["schweikert", "schweikert_ed"])
def test_a_signature_verifies_unchanged(world: World, which: str) -> None:
    key = getattr(world, which)
    [result] = verify(sign_message(MESSAGE, key, now=NOW), world.dns)
    assert (result.result, result.domain, result.selector, result.algorithm) == (
        "pass",
        "schweikert.ch",
        key.selector,
        key.signature_algorithm,
    )


@pytest.mark.parametrize("canon", ["simple/simple", "relaxed/relaxed"])
def test_a_footer_breaks_the_body_hash(world: World, canon: str) -> None:
    signed = sign_message(MESSAGE, world.schweikert, canonicalization=canon, now=NOW)
    assert _results(signed + FOOTER, world) == [("fail", "body hash did not verify")]


def test_a_length_tag_lets_a_footer_through(world: World) -> None:
    signed = sign_message(MESSAGE, world.schweikert, length=True, now=NOW)
    assert b" l=" in signed.split(b"\r\n\r\n")[0]
    assert _results(signed + FOOTER, world) == [("pass", "")]


def test_rewriting_a_signed_header_breaks_the_signature(world: World) -> None:
    signed = sign_message(MESSAGE, world.schweikert, now=NOW)
    tagged = signed.replace(b"Subject: SPF", b"Subject: [EXTERNAL] SPF")
    assert _results(tagged, world) == [("fail", "signature did not verify")]


def test_adding_an_unsigned_header_does_not(world: World) -> None:
    signed = sign_message(MESSAGE, world.schweikert, now=NOW)
    assert _results(b"Received: from relay\r\nX-Spam-Score: 0.1\r\n" + signed, world) == [("pass", "")]


def test_whitespace_changes_survive_relaxed_only(world: World) -> None:
    def respace(message: bytes) -> bytes:
        return message.replace(b"Subject: SPF and", b"Subject:  SPF   and").replace(b"Hello Evi,", b"Hello   Evi,  ")

    relaxed = sign_message(MESSAGE, world.schweikert, canonicalization="relaxed/relaxed", now=NOW)
    simple = sign_message(MESSAGE, world.schweikert, canonicalization="simple/simple", now=NOW)
    assert _results(respace(relaxed), world) == [("pass", "")]
    assert _results(respace(simple), world)[0][0] == "fail"


def test_signing_is_deterministic_and_uses_the_simulated_clock(world: World) -> None:
    field = sign(MESSAGE, "mail", "schweikert.ch", world.schweikert, now=NOW)
    assert field == sign(MESSAGE, "mail", "schweikert.ch", world.schweikert, now=NOW)
    assert b"t=1704067200;" in field
    assert b" t=" not in sign(MESSAGE, "mail", "schweikert.ch", world.schweikert)


def test_an_unsigned_message_is_none(world: World) -> None:
    assert _results(MESSAGE, world) == [("none", "no signature")]


@pytest.mark.parametrize(
    "field",
    [
        b"DKIM-Signature: \r\n",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=schweikert.ch; s=mail; garbage\r\n",
        b"DKIM-Signature: v=1; a=rsa-md5; d=schweikert.ch; s=mail; h=from; bh=AAAA; b=AAAA\r\n",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=schweikert.ch; s=mail; h=from; bh=AAAA; b=!!!\r\n",
        b"DKIM-Signature: v=2; a=rsa-sha256; d=schweikert.ch; s=mail; h=from; bh=AAAA; b=AAAA\r\n",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=schweikert.ch; s=mail; h=from; bh=AAAA; b=AAAA; i=x@other.example\r\n",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=schweikert.ch; s=mail; h=from; bh=AAAA; b=AAAA; t=99999999999\r\n",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=schweikert.ch; s=mail; h=from; bh=AAAA; b=AAAA; l=ten\r\n",
        b"DKIM-Signature: \xff\xfe; d=\x00\r\n",
    ],
)
def test_malformed_signatures_are_neutral(world: World, field: bytes) -> None:
    [result] = verify(field + MESSAGE, world.dns)
    assert result.result == "neutral"
    assert result.reason.startswith("signature syntax error")


def test_key_problems_are_permerrors(world: World) -> None:
    signed = sign_message(MESSAGE, world.schweikert, now=NOW)
    world.zones.add_record("gone._domainkey.schweikert.ch", "TXT", "v=DKIM1; k=rsa; p=")
    world.zones.add_record("junk._domainkey.schweikert.ch", "TXT", "v=DKIM1; k=rsa; p=bm90IGEga2V5")
    assert _results(signed.replace(b"s=mail;", b"s=none;"), world)[0] == (
        "permerror",
        "no key for signature (NXDOMAIN)",
    )
    assert _results(signed.replace(b"s=mail;", b"s=gone;"), world)[0] == ("permerror", "key revoked (empty p=)")
    assert _results(signed.replace(b"s=mail;", b"s=junk;"), world)[0][0] == "permerror"
    assert _results(signed.replace(b"s=mail;", b"s=ed;"), world)[0][0] == "permerror"  # an Ed25519 key for rsa-sha256
    unsigned_from = sign(MESSAGE, "mail", "schweikert.ch", world.schweikert, headers=["from", "to"]).replace(
        b"h=from : to", b"h=to"
    )
    assert _results(unsigned_from + MESSAGE, world)[0][0] == "permerror"


def test_a_small_key_is_a_permerror(world: World, ring: KeyRing) -> None:
    small = ring.get("schweikert.ch", "small", "rsa", 1024)
    world.zones.add_record(small.record_name, "TXT", small.txt_record)
    assert _results(sign_message(MESSAGE, small, now=NOW), world) == [("pass", "")]
    [result] = verify(sign_message(MESSAGE, small, now=NOW), world.dns, minkey=2048)
    assert result.result == "permerror" and "too small" in result.reason


def test_a_key_lookup_timeout_is_a_temperror(world: World) -> None:
    faults = Faults()
    faults.add("TIMEOUT", "mail._domainkey.schweikert.ch")
    resolver = Resolver(Simulation(seed=0, keep_trace=False), world.zones, host="rx", faults=faults)
    [result] = verify(sign_message(MESSAGE, world.schweikert, now=NOW), resolver.lookup_now)
    assert (result.result, result.reason, result.dns_time) == ("temperror", "key unavailable (DNS TIMEOUT)", 10.0)


def test_every_signature_gets_its_own_result(world: World) -> None:
    twice = sign_message(sign_message(MESSAGE, world.schweikert_ed, now=NOW), world.schweikert, now=NOW)
    assert [(r.selector, r.result) for r in verify(twice, world.dns)] == [("mail", "pass"), ("ed", "pass")]


def test_signing_needs_a_from_header(world: World) -> None:
    with pytest.raises(SigningError, match="From"):
        sign(b"To: a@b.example\r\n\r\nbody\r\n", "mail", "schweikert.ch", world.schweikert)
    with pytest.raises(SigningError, match="RFC 6376"):
        sign(MESSAGE, "mail", "schweikert.ch", world.schweikert, identity="david@atrust.com")
    with pytest.raises(SigningError, match="canonicalization"):
        sign(MESSAGE, "mail", "schweikert.ch", world.schweikert, canonicalization="loose/loose")
