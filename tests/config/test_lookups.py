"""Postfix's lookup orders for access, canonical, virtual, aliases and clients."""

from __future__ import annotations

import pytest

from mailsim.config import address_keys, lookup_address, lookup_client, lookup_domain, open_table, split_address
from mailsim.config.lookups import address_prefixes

VIRTUAL = open_table(
    "inline:{user@example.com=u1, user=u2, @example.com=catch, {user+foo@example.com=ext}, @old.org=@new.org, "
    "{list@example.com=a@x, b@y}}",
    ".",
)


def keys(address: str, **options: object) -> list[str]:
    return [key for key, _ in address_keys(address, **options)]  # type: ignore[arg-type]


def test_access_order_with_extension() -> None:
    assert keys("joe+x@mail.example.com", kind="access", delimiter="+") == [
        "joe+x@mail.example.com",
        "joe@mail.example.com",
        "mail.example.com",
        "example.com",
        "com",
        "joe+x@",
        "joe@",
    ]


def test_access_subdomains_use_leading_dots_without_parent_matching() -> None:
    assert keys("joe@mail.example.com", kind="access", parent_matches=False) == [
        "joe@mail.example.com",
        "mail.example.com",
        ".example.com",
        ".com",
        "joe@",
    ]


def test_the_null_sender_has_its_own_key() -> None:
    assert keys("", kind="access") == ["<>"]


def test_virtual_order_tries_the_bare_user_only_for_local_domains() -> None:
    assert keys("user+foo@example.com", kind="virtual", delimiter="+") == [
        "user+foo@example.com",
        "user@example.com",
        "@example.com",
    ]
    assert keys("user+foo@example.com", kind="virtual", delimiter="+", is_local=lambda d: True) == [
        "user+foo@example.com",
        "user@example.com",
        "user+foo",
        "user",
        "@example.com",
    ]


def test_an_exact_extension_match_wins() -> None:
    assert lookup_address([VIRTUAL], "user+foo@example.com", kind="virtual", delimiter="+").result == ("ext",)  # type: ignore[union-attr]


def test_unmatched_extensions_propagate_when_asked() -> None:
    match = lookup_address([VIRTUAL], "user+bar@example.com", kind="virtual", delimiter="+", propagate=True)
    assert match is not None and (match.key, match.result) == ("user@example.com", ("u1+bar",))
    plain = lookup_address([VIRTUAL], "user+bar@example.com", kind="virtual", delimiter="+")
    assert plain is not None and plain.result == ("u1",)


def test_at_domain_results_keep_the_localpart() -> None:
    match = lookup_address([VIRTUAL], "joe+x@old.org", kind="virtual", delimiter="+")
    assert match is not None and match.result == ("joe+x@new.org",)


def test_catch_all_is_last_and_lists_split() -> None:
    assert lookup_address([VIRTUAL], "other@example.com", kind="virtual").result == ("catch",)  # type: ignore[union-attr]
    assert lookup_address([VIRTUAL], "list@example.com", kind="virtual").result == ("a@x", "b@y")  # type: ignore[union-attr]


def test_local_domains_enable_the_user_key() -> None:
    match = lookup_address([VIRTUAL], "user@here.org", kind="canonical", local_domains=["HERE.org"])
    assert match is not None and match.key == "user"


def test_pattern_tables_see_only_the_whole_address() -> None:
    regexp = open_table("static:hit", ".")
    match = lookup_address([VIRTUAL, regexp], "nobody@nowhere.org", kind="virtual")
    assert match is not None and match.key == "nobody@nowhere.org"


def test_key_order_is_the_outer_loop_across_tables() -> None:
    first, second = open_table("inline:{@example.com=domain}", "."), open_table("inline:{user@example.com=exact}", ".")
    assert lookup_address([first, second], "user@example.com", kind="virtual").value == "exact"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("address", "delimiter", "pieces"),
    [
        ("user+ext@d", "+", ("user", "+ext", "d")),
        ("owner-list@d", "-", ("owner-list", "", "d")),
        ("list-request", "-", ("list-request", "", "")),
        ("+x@d", "+", ("+x", "", "d")),
        ("a-b+c@d", "+-", ("a", "-b+c", "d")),
    ],
)
def test_split_address(address: str, delimiter: str, pieces: tuple[str, str, str]) -> None:
    parts = split_address(address, delimiter)
    assert (parts.user, parts.extension, parts.domain) == pieces


def test_aliases_look_up_the_local_part() -> None:
    assert keys("Postmaster+x@example.com", kind="aliases", delimiter="+") == ["Postmaster+x", "Postmaster"]


def test_domains_and_clients() -> None:
    table = open_table("inline:{example.com=OK, 192.0.2=REJECT}", ".")
    assert lookup_domain([table], "mail.example.com.").key == "example.com"  # type: ignore[union-attr]
    assert lookup_domain([table], "mail.example.com", parent_matches=False) is None
    assert lookup_client([table], "unknown", "192.0.2.7").key == "192.0.2"  # type: ignore[union-attr]
    assert lookup_client([table], "mx.example.com", "192.0.2.7").value == "OK"  # type: ignore[union-attr]
    assert address_prefixes("192.0.2.7") == ["192.0.2.7", "192.0.2", "192.0", "192"]
