"""The seed's failure, as pure functions: "SPF does not work for relayed mail", and what fixes it.

David's message leaves mail.schweikert.ch, reaches evi@atrust.com, and mail-relay.atrust.com forwards
it to Gmail, which checks SPF against the relay's address, DKIM, DMARC (p=reject) and ARC.
"""

from __future__ import annotations

from mailsim.policy.auth.arc import seal, validate
from mailsim.policy.auth.authres import authentication_results
from mailsim.policy.auth.dkim import sign_message, verify
from mailsim.policy.auth.dmarc import arc_override, check_dmarc, from_domain
from mailsim.policy.auth.spf import check_spf
from mailsim.policy.auth.spfpolicy import spf_policy
from mailsim.policy.auth.srs import SrsSettings, forward, reverse
from tests.policy.auth.seedworld import MAIL_SCHWEIKERT, MESSAGE, NOW, RELAY_ATRUST, World

SRS = SrsSettings("atrust.com", ("atrust-srs-secret",))
FOOTER = b"-- \r\natrust.com: this message was forwarded\r\n"
TRUSTED_SEALERS = {"atrust.com"}


def _relay(world: World, message: bytes, *, srs: bool, footer: bool, arc: bool) -> tuple[str, bytes]:
    """mail-relay.atrust.com: checks what arrives, maybe edits and seals, maybe rewrites MAIL FROM."""
    mail_from = "david@schweikert.ch"
    if arc:
        spf = check_spf(MAIL_SCHWEIKERT, mail_from, "mail.schweikert.ch", world.dns)
        seen = authentication_results("mail-relay.atrust.com", spf=spf, dkim=verify(message, world.dns))
    if footer:
        message += FOOTER
    if arc:
        message = seal(message, world.atrust, authserv_id="mail-relay.atrust.com", now=NOW + 5, auth_results=seen)
    return (forward(mail_from, SRS, now=NOW) if srs else mail_from), message


def _gmail(world: World, mail_from: str, message: bytes) -> tuple[str, str, str, str, str]:
    """What the final receiver finds: (spf, dkim, dmarc, arc, delivered|rejected)."""
    spf = check_spf(RELAY_ATRUST, mail_from, "mail-relay.atrust.com", world.dns, receiver="mx.gmail.example")
    dkim = verify(message, world.dns)
    dmarc = check_dmarc(from_domain(message), spf, dkim, world.dns)
    chain = validate(message, world.dns)
    dmarc = arc_override(dmarc, chain.result, chain.sealer, TRUSTED_SEALERS)
    fate = "rejected" if dmarc.disposition == "reject" else "delivered"
    return spf.result, dkim[0].result, dmarc.result, chain.result, fate


def _variant(world: World, *, dkim: bool = False, srs: bool = False, footer: bool = False, arc: bool = False) -> tuple:
    sent = sign_message(MESSAGE, world.schweikert, now=NOW) if dkim else MESSAGE
    assert check_spf(MAIL_SCHWEIKERT, "david@schweikert.ch", "mail.schweikert.ch", world.dns).result == "pass"
    return _gmail(world, *_relay(world, sent, srs=srs, footer=footer, arc=arc))


def test_as_in_the_book_spf_fails_at_the_final_receiver(world: World) -> None:
    assert _variant(world) == ("fail", "none", "fail", "none", "rejected")


def test_srs_makes_spf_pass_for_the_forwarders_domain(world: World) -> None:
    assert _variant(world, srs=True) == ("pass", "none", "fail", "none", "rejected")  # not aligned with From


def test_dkim_survives_forwarding_when_the_body_is_left_alone(world: World) -> None:
    assert _variant(world, dkim=True) == ("fail", "pass", "pass", "none", "delivered")
    assert _variant(world, dkim=True, srs=True) == ("pass", "pass", "pass", "none", "delivered")


def test_a_footer_breaks_dkim_and_dmarc_p_reject_rejects(world: World) -> None:
    assert _variant(world, dkim=True, footer=True) == ("fail", "fail", "fail", "none", "rejected")


def test_arc_from_a_trusted_forwarder_saves_the_edited_message(world: World) -> None:
    assert _variant(world, dkim=True, footer=True, arc=True) == ("fail", "fail", "fail", "pass", "delivered")


def test_the_policy_service_rejects_the_plain_forward_and_accepts_the_srs_one(world: World) -> None:
    request = {"client_address": RELAY_ATRUST, "helo_name": "mail-relay.atrust.com", "recipient": "evi@gmail.example"}
    assert spf_policy(dict(request, sender="david@schweikert.ch"), world.dns).startswith("550 5.7.23")
    srs_sender = forward("david@schweikert.ch", SRS, now=NOW)
    assert spf_policy(dict(request, sender=srs_sender), world.dns).startswith("prepend Received-SPF: Pass")


def test_a_bounce_to_the_srs_address_goes_back_to_david(world: World) -> None:
    """Gmail's bounce goes to the SRS address at atrust.com, which reverses it to the author."""
    assert reverse(forward("david@schweikert.ch", SRS, now=NOW), SRS, now=NOW + 3600) == "david@schweikert.ch"
