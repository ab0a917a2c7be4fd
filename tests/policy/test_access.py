"""access(5): right-hand sides and Postfix's lookup orders."""

from __future__ import annotations

import pytest

from mailsim.policy.access import addr_keys, domain_keys, dsn_fix, dsn_split, find, mail_keys, parse_action
from tests.policy.policy_helpers import Table


@pytest.mark.parametrize(
    ("value", "verb", "code", "text"),
    [
        ("OK", "OK", None, ""),
        ("reject Go away", "REJECT", None, "Go away"),
        ("550 5.7.0 no", "NUMERIC", 550, "5.7.0 no"),
        ("550", "PERMIT", None, "550"),
        ("12345", "PERMIT", None, "12345"),
        ("HOLD", "HOLD", None, ""),
        ("PREPEND X-Tag: 1", "PREPEND", None, "X-Tag: 1"),
        ("permit_mynetworks, reject", "RESTRICTIONS", None, ""),
        ("check_client_access hash:/x", "TABLE_IN_RHS", None, "check_client_access hash:/x"),
    ],
)
def test_right_hand_sides(value: str, verb: str, code: int | None, text: str) -> None:
    action = parse_action(value)
    assert (action.verb, action.code, action.text) == (verb, code, text)


def test_dsn_split_and_fix() -> None:
    assert dsn_split("5.7.1", "4.1.1 gone") == ("4.1.1", "gone")
    assert dsn_split("5.7.1", "gone") == ("5.7.1", "gone")
    assert dsn_fix("5.1.1", "Sender address") == "4.1.7"
    assert dsn_fix("5.1.8", "Recipient address") == "4.1.2"
    assert dsn_fix("5.1.1", "Client host") == "4.0.0"
    assert dsn_fix("5.7.1", "Sender address") == "5.7.1"


def test_address_lookup_order() -> None:
    keys = [key for key, _ in mail_keys("user+tag@mail.example.com", "user+tag@mail.example.com", "+", True, True)]
    assert keys == [
        "user+tag@mail.example.com",
        "user@mail.example.com",
        "mail.example.com",
        "example.com",
        "com",
        "user+tag@",
        "user@",
    ]


def test_domain_parents_depend_on_parent_domain_matches_subdomains() -> None:
    assert [k for k, _ in domain_keys("a.example.com", False)] == ["a.example.com", ".example.com", ".com"]
    assert [k for k, _ in domain_keys("192.0.2.1", True)] == ["192.0.2.1"]


def test_address_prefixes_and_pattern_tables_see_only_full_keys() -> None:
    assert [k for k, _ in addr_keys("192.0.2.1")] == ["192.0.2.1", "192.0.2", "192.0", "192"]

    class Regexp(Table):
        pattern = True

    table = Regexp({"192.0.2": "REJECT"})
    assert find(table, addr_keys("192.0.2.1")) is None
    assert find(Table({"192.0.2": "REJECT"}), addr_keys("192.0.2.1")) == ("192.0.2", "REJECT")
