"""Envelope addresses: splitting, case rules, the null sender, syntax and xtext (RFC 3461 §4)."""

from __future__ import annotations

import pytest

from mailsim.mail.address import (
    domain_of,
    is_fqdn,
    is_null_sender,
    is_valid_mailbox,
    normalize_address,
    quote_address,
    same_address,
    split_address,
    strip_angles,
    with_angles,
    xtext_decode,
    xtext_encode,
)


def test_split_at_the_last_at_outside_quotes():
    assert split_address("alice@example.org") == ("alice", "example.org")
    assert split_address('"a@b"@example.org') == ('"a@b"', "example.org")
    assert split_address("postmaster") == ("postmaster", "")


def test_domain_is_case_insensitive_but_local_part_is_kept():
    assert normalize_address("Alice.Smith@Example.ORG") == "Alice.Smith@example.org"
    assert same_address("bob@EXAMPLE.net", "bob@example.net")
    assert not same_address("Bob@example.net", "bob@example.net")
    assert domain_of("x@Mail.Example.ORG.") == "mail.example.org"


def test_null_sender_is_the_empty_string():
    assert strip_angles("<>") == "" and is_null_sender("")
    assert with_angles("") == "<>"
    assert strip_angles(" <a@b.example> ") == "a@b.example"


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("alice@example.org", True),
        ('"john doe"@example.org', True),
        ("root@[192.0.2.1]", True),
        ("user@[IPv6:2001:db8::1]", True),
        ("joe", False),
        ("bad@@x", False),
        ("a..b@example.org", False),
        ("a@-bad-.example", False),
        ("x" * 65 + "@example.org", False),
    ],
)
def test_rfc5321_mailbox_syntax(address, valid):
    assert is_valid_mailbox(address) is valid


def test_non_ascii_mailbox_needs_smtputf8():
    assert not is_valid_mailbox("jöran@example.org")
    assert is_valid_mailbox("jöran@example.org", smtputf8=True)


def test_fqdn_check_used_by_reject_non_fqdn():
    assert is_fqdn("mail.example.org") and is_fqdn("[192.0.2.1]")
    assert not is_fqdn("localhost") and not is_fqdn("example.")


def test_local_part_is_quoted_when_not_a_dot_string():
    assert quote_address("john doe@example.org") == '"john doe"@example.org'
    assert quote_address("alice@example.org") == "alice@example.org"


def test_xtext_decodes_hex_escapes():
    assert xtext_decode("QQ+2B314159") == "QQ+314159"
    assert xtext_decode("Bob+2BX@example.net") == "Bob+X@example.net"
    assert xtext_decode("a+3Db") == "a=b"


@pytest.mark.parametrize("bad", ["a+ZZb", "a+2", "a+2b", "a=b", "a b", "trailing+"])
def test_xtext_rejects_bad_escapes_and_characters(bad):
    with pytest.raises(ValueError):
        xtext_decode(bad)


def test_xtext_round_trip():
    for text in ["plain", "a+b=c d", "üñí", "<id@host>"]:
        assert xtext_decode(xtext_encode(text)) == text
    assert xtext_encode("a+b=c") == "a+2Bb+3Dc"
