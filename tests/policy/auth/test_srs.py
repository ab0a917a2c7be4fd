"""SRS: the forwarder's rewritten envelope sender, and the way a bounce finds its way back."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from mailsim.core.errors import ConfigError
from mailsim.policy.auth.srs import SrsError, SrsSettings, forward, is_srs, reverse, stamp_age, timestamp

NOW = 1_704_067_200.0  # 2024-01-01, day 19723
DAY = 86400
ATRUST = SrsSettings("atrust.com", ("atrust-secret",))
LISTS = SrsSettings("lists.example", ("lists-secret",))


def test_srs0_has_the_libsrs2_shape_and_hash() -> None:
    address = forward("david@schweikert.ch", ATRUST, now=NOW)
    local, _, domain = address.partition("@")
    tag, digest, stamp, host, user = local.split("=")
    assert (tag, stamp, host, user, domain) == ("SRS0", timestamp(NOW), "schweikert.ch", "david", "atrust.com")
    data = (stamp + "schweikert.ch" + "david").lower().encode()  # libsrs2 hashes the lower-cased parts
    expected = hmac.new(b"atrust-secret", data, hashlib.sha1).digest()
    assert digest == base64.b64encode(expected).decode()[:4]


def test_the_day_stamp_is_two_base32_characters() -> None:
    day = int(NOW) // DAY % 1024  # 19723 % 1024 = 267 = 8 * 32 + 11
    assert day == 267 and timestamp(NOW) == "IL"
    assert stamp_age("IL", NOW + 3 * DAY) == 3
    assert stamp_age("I1", NOW) is None


def test_a_bounce_reverses_to_the_original_sender() -> None:
    address = forward("david@schweikert.ch", ATRUST, now=NOW)
    assert reverse(address, ATRUST, now=NOW + 5 * DAY) == "david@schweikert.ch"
    assert reverse(address.upper().replace("ATRUST.COM", "atrust.com"), ATRUST, now=NOW) == "DAVID@SCHWEIKERT.CH"


def test_reverse_checks_hash_and_age() -> None:
    address = forward("david@schweikert.ch", ATRUST, now=NOW)
    with pytest.raises(SrsError, match="too old"):
        reverse(address, ATRUST, now=NOW + 22 * DAY)
    forged = address.replace("=david@", "=mallory@")
    with pytest.raises(SrsError, match="hash invalid"):
        reverse(forged, ATRUST, now=NOW)
    with pytest.raises(SrsError, match="hash invalid"):
        reverse(address, SrsSettings("atrust.com", ("another-secret",)), now=NOW)
    for junk in ("david@schweikert.ch", "SRS0=ab@atrust.com", "SRS1=@atrust.com"):
        with pytest.raises(SrsError):
            reverse(junk, ATRUST, now=NOW)


def test_rotated_secrets_still_reverse_old_addresses() -> None:
    old = forward("david@schweikert.ch", ATRUST, now=NOW)
    rotated = SrsSettings("atrust.com", ("new-secret", "atrust-secret"))
    assert reverse(old, rotated, now=NOW) == "david@schweikert.ch"


def test_a_second_forwarder_writes_srs1_and_bounces_go_back_hop_by_hop() -> None:
    first = forward("david@schweikert.ch", ATRUST, now=NOW)  # SRS0=HHHH=TT=schweikert.ch=david@atrust.com
    second = forward(first, LISTS, now=NOW)
    kept = first.partition("@")[0][4:]  # "=HHHH=TT=schweikert.ch=david", separator included
    tag, digest, rest = second.split("=", 2)
    assert (tag, len(digest), rest) == ("SRS1", 4, f"atrust.com={kept}@lists.example")
    third = forward(second, SrsSettings("third.example", ("t",)), now=NOW)
    assert third.startswith("SRS1=") and "=atrust.com==" in third and third.endswith("@third.example")
    assert reverse(second, LISTS, now=NOW) == first
    assert reverse(first, ATRUST, now=NOW) == "david@schweikert.ch"


def test_null_senders_and_own_domain_senders_are_left_alone() -> None:
    assert forward("", ATRUST, now=NOW) == ""
    assert forward("evi@atrust.com", ATRUST, now=NOW) == "evi@atrust.com"
    always = SrsSettings("atrust.com", ("s",), always_rewrite=True)
    assert is_srs(forward("evi@atrust.com", always, now=NOW))
    with pytest.raises(SrsError):
        forward("no-domain", ATRUST, now=NOW)


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError):
        SrsSettings("atrust.com", ())
    with pytest.raises(ConfigError):
        SrsSettings("atrust.com", ("s",), separator="#")


def test_addresses_match_perl_mail_srs() -> None:
    """Vectors made by Mail::SRS 0.31 (Debian's libmail-srs-perl), the scheme's reference implementation."""
    now = 1_795_568_846.0
    first = forward("david@schweikert.ch", ATRUST, now=now)
    assert first == "SRS0=WU0D=JO=schweikert.ch=david@atrust.com"
    assert forward(first, LISTS, now=now) == "SRS1=Z2tL=atrust.com==WU0D=JO=schweikert.ch=david@lists.example"
