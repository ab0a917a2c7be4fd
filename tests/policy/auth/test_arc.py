"""ARC: the forwarder seals what it saw; the receiver validates the chain (none, pass, fail)."""

from __future__ import annotations

import pytest

from mailsim.policy.auth.arc import seal, validate
from mailsim.policy.auth.authres import authentication_results, parse
from mailsim.policy.auth.dkim import SigningError, sign_message, verify
from mailsim.policy.auth.keys import KeyRing
from mailsim.policy.auth.spf import check_spf
from tests.policy.auth.seedworld import MAIL_SCHWEIKERT, MESSAGE, NOW, World

FOOTER = b"-- \r\nforwarded by atrust.com\r\n"


def _forwarded(world: World, *, edit: bool = False) -> bytes:
    """What mail-relay.atrust.com sends on: its own results, sealed (after adding a footer, if ``edit``)."""
    signed = sign_message(MESSAGE, world.schweikert, now=NOW)
    spf = check_spf(MAIL_SCHWEIKERT, "david@schweikert.ch", "mail.schweikert.ch", world.dns)
    seen = authentication_results("mail-relay.atrust.com", spf=spf, dkim=verify(signed, world.dns))
    body = signed + FOOTER if edit else signed
    return seal(body, world.atrust, authserv_id="mail-relay.atrust.com", now=NOW + 60, auth_results=seen)


def test_a_message_without_a_chain_is_none(world: World) -> None:
    assert validate(MESSAGE, world.dns).result == "none"


def test_one_sealing_forwarder_validates(world: World) -> None:
    verdict = validate(_forwarded(world), world.dns)
    assert (verdict.result, verdict.instances, verdict.sealer) == ("pass", 1, "atrust.com")
    assert verdict.aar.startswith("i=1; mail-relay.atrust.com;")


def test_the_seal_vouches_for_what_the_forwarder_saw_before_its_footer(world: World) -> None:
    forwarded = _forwarded(world, edit=True)
    assert [r.result for r in verify(forwarded, world.dns)] == ["fail"]  # DKIM broke at the relay
    verdict = validate(forwarded, world.dns)
    assert verdict.result == "pass"  # the relay sealed after its edit
    seen = parse("Authentication-Results: " + verdict.aar.split(";", 1)[1])
    assert seen is not None and seen.first("dkim").result == "pass"


def test_an_edit_after_sealing_breaks_the_chain(world: World) -> None:
    verdict = validate(_forwarded(world) + b"tampered\r\n", world.dns)
    assert verdict.result == "fail"
    assert "did not validate" in verdict.reason


def test_a_second_hop_continues_the_chain_with_cv_pass(world: World, ring: KeyRing) -> None:
    first = _forwarded(world)
    list_key = ring.get("lists.example", "arc")
    world.zones.add_record(list_key.record_name, "TXT", list_key.txt_record)
    seen = authentication_results("lists.example", arc=validate(first, world.dns))
    second = seal(first, list_key, authserv_id="lists.example", now=NOW + 120, auth_results=seen)
    assert b"ARC-Seal: i=2; cv=pass;" in second.replace(b"\r\n ", b" ")
    verdict = validate(second, world.dns)
    assert (verdict.result, verdict.instances, verdict.sealer) == ("pass", 2, "lists.example")


def test_sealing_needs_the_forwarders_own_results(world: World) -> None:
    with pytest.raises(SigningError, match="Authentication-Results"):
        seal(MESSAGE, world.atrust, authserv_id="mail-relay.atrust.com", now=NOW)
    with pytest.raises(SigningError, match="rsa-sha256"):
        seal(MESSAGE, world.schweikert_ed, authserv_id="x", now=NOW, auth_results="x; none")


def test_malformed_arc_headers_fail_without_a_crash(world: World) -> None:
    for junk in (b"ARC-Seal: i=1; garbage\r\n", b"ARC-Seal: i=x; cv=none\r\nARC-Message-Signature: i=1\r\n"):
        assert validate(junk + MESSAGE, world.dns).result == "fail"
