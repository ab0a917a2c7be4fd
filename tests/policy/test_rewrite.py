"""trivial-rewrite and cleanup address rewriting (ADDRESS_REWRITING_README, ADDRESS_CLASS_README)."""

from __future__ import annotations

import pytest

from mailsim.policy.rewrite import (
    AddressClass,
    canonical_map,
    expand_virtual,
    masquerade,
    parse_nexthop,
    resolve,
    rewrite_address,
    smtp_path_to_internal,
)
from tests.policy.policy_helpers import Table, rewrite_settings


@pytest.mark.parametrize(
    ("address", "params", "expected"),
    [
        ("alice", {}, "alice@mx.example.com"),
        ("alice", {"myorigin": "$mydomain"}, "alice@example.com"),
        ("alice@mail", {}, "alice@mail"),
        ("alice@mail", {"compatibility_level": "0"}, "alice@mail.example.com"),
        ("alice@mail", {"append_dot_mydomain": "yes"}, "alice@mail.example.com"),
        ("host!alice", {}, "alice@host"),
        ("a!b!alice", {}, "b!alice@a"),
        ("alice%host", {}, "alice@host"),
        ("alice%host", {"allow_percent_hack": "no"}, "alice%host@mx.example.com"),
        ("host!alice", {"swap_bangpath": "no"}, "host!alice@mx.example.com"),
        ("alice@example.org.", {}, "alice@example.org"),
        ("alice", {"append_at_myorigin": "no"}, "alice"),
        ("", {}, ""),
    ],
)
def test_canonicalisation(address: str, params: dict[str, str], expected: str) -> None:
    assert rewrite_address(address, rewrite_settings(**params)) == expected


def test_smtp_path_source_route_and_quotes_are_removed() -> None:
    assert smtp_path_to_internal("<@relay.example:user@remote.org>") == "user@remote.org"
    assert smtp_path_to_internal('<"user@remote"@local.example>') == "user@remote@local.example"


@pytest.mark.parametrize(
    ("params", "klass", "transport", "nexthop"),
    [
        ({"mydestination": "$myhostname, example.org"}, AddressClass.LOCAL, "local", "mx.example.com"),
        (
            {"virtual_alias_domains": "example.org"},
            AddressClass.VIRTUAL_ALIAS,
            "error",
            "5.1.1 User unknown in virtual alias table",
        ),
        ({"virtual_mailbox_domains": "example.org"}, AddressClass.VIRTUAL_MAILBOX, "virtual", "example.org"),
        ({"relay_domains": "example.org"}, AddressClass.RELAY, "relay", "example.org"),
        ({}, AddressClass.DEFAULT, "smtp", "example.org"),
    ],
)
def test_hosting_a_domain_three_ways_and_the_other_classes(params, klass, transport, nexthop) -> None:  # type: ignore[no-untyped-def]
    result = resolve("alice@example.org", rewrite_settings(**params))
    assert (result.address_class, result.transport, result.nexthop) == (klass, transport, nexthop)


def test_relay_domains_match_subdomains_but_virtual_domains_do_not() -> None:
    settings = rewrite_settings(relay_domains="example.org", virtual_mailbox_domains="example.net")
    assert resolve("a@sub.example.org", settings).address_class is AddressClass.RELAY
    assert resolve("a@sub.example.net", settings).address_class is AddressClass.DEFAULT


def test_own_address_literal_is_local_others_are_not() -> None:
    settings = rewrite_settings()
    assert resolve("root@[192.0.2.10]", settings).address_class is AddressClass.LOCAL
    assert resolve("root@[192.0.2.99]", settings).address_class is AddressClass.DEFAULT


def test_domain_listed_in_two_classes_draws_postfix_warning() -> None:
    settings = rewrite_settings(mydestination="$myhostname, example.org", virtual_alias_domains="example.org")
    result = resolve("a@example.org", settings)
    assert result.address_class is AddressClass.LOCAL
    assert result.warnings == ("do not list domain example.org in BOTH mydestination and virtual_alias_domains",)


def test_relayhost_in_brackets_suppresses_mx_lookup() -> None:
    settings = rewrite_settings(relayhost="[mail.example.org]")
    result = resolve("bob@remote.net", settings)
    assert (result.transport, result.nexthop) == ("smtp", "[mail.example.org]")
    assert parse_nexthop(result.nexthop) == parse_nexthop("[mail.example.org]")
    assert not parse_nexthop(result.nexthop).mx_lookup


def test_relayhost_without_brackets_uses_mx_and_port() -> None:
    hop = parse_nexthop(resolve("bob@remote.net", rewrite_settings(relayhost="mail.example.org:2525")).nexthop)
    assert (hop.host, hop.port, hop.mx_lookup) == ("mail.example.org", 2525, True)


def test_relayhost_leaves_local_mail_alone() -> None:
    result = resolve("root@mx.example.com", rewrite_settings(relayhost="[mail.example.org]"))
    assert (result.transport, result.nexthop) == ("local", "mx.example.com")


def test_explicit_transport_nexthop_beats_relayhost() -> None:
    settings = rewrite_settings(
        relayhost="[mail.example.org]", relay_domains="example.org", relay_transport="relay:[gw.example]"
    )
    assert resolve("a@example.org", settings).nexthop == "[gw.example]"
    assert resolve("a@other.org", settings).nexthop == "[mail.example.org]"


TRANSPORT = Table(
    {
        "alice@example.org": "smtp:[user.example]",
        "example.org": "smtp:[domain.example]",
        ".example.org": "smtp:[subdomain.example]",
        "keep.example": ":",
        "hop.example": ":[only-hop.example]",
        "uucp.example": "uucp:",
        "gone.example": "error:",
        "*": "smtp:[wildcard.example]",
    }
)


@pytest.mark.parametrize(
    ("recipient", "transport", "nexthop"),
    [
        ("alice@example.org", "smtp", "[user.example]"),
        ("alice+news@example.org", "smtp", "[user.example]"),
        ("bob@example.org", "smtp", "[domain.example]"),
        ("bob@deep.sub.example.org", "smtp", "[subdomain.example]"),
        ("bob@keep.example", "smtp", "keep.example"),
        ("bob@hop.example", "smtp", "[only-hop.example]"),
        ("bob@uucp.example", "uucp", "uucp.example"),
        ("bob@gone.example", "error", "Address is undeliverable"),
        ("bob@elsewhere.net", "smtp", "[wildcard.example]"),
    ],
)
def test_transport_maps_precedence(recipient: str, transport: str, nexthop: str) -> None:
    settings = rewrite_settings(
        {"hash:/etc/postfix/transport": TRANSPORT},
        transport_maps="hash:/etc/postfix/transport",
        recipient_delimiter="+",
    )
    result = resolve(recipient, settings)
    assert (result.transport, result.nexthop) == (transport, nexthop)


def test_transport_parent_matching_when_listed_in_parent_domain_matches_subdomains() -> None:
    table = Table({"example.org": "smtp:[domain.example]"})
    settings = rewrite_settings(
        {"hash:t": table}, transport_maps="hash:t", parent_domain_matches_subdomains="transport_maps"
    )
    assert resolve("a@sub.example.org", settings).nexthop == "[domain.example]"
    assert (
        resolve("a@sub.example.org", rewrite_settings({"hash:t": table}, transport_maps="hash:t")).nexthop
        == "sub.example.org"
    )


def test_transport_maps_do_not_rescue_virtual_alias_domain() -> None:
    settings = rewrite_settings(
        {"hash:t": Table({"*": "smtp:[x]"})}, transport_maps="hash:t", virtual_alias_domains="v.example"
    )
    assert resolve("a@v.example", settings).transport == "error"


VIRTUAL = Table(
    {
        "info@example.org": "sales@example.org",
        "sales@example.org": "alice@mx.example.com, bob@remote.net",
        "@example.org": "catchall@mx.example.com",
        "loop1@example.org": "loop2@example.org",
        "loop2@example.org": "loop1@example.org",
        "self@example.org": "self@example.org, alice@mx.example.com",
        "bob": "bob@elsewhere.org",
        "moved@example.org": "@example.net",
    }
)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("info@example.org", ("alice@mx.example.com", "bob@remote.net")),
        ("nobody@example.org", ("catchall@mx.example.com",)),
        ("self@example.org", ("self@example.org", "alice@mx.example.com")),
        ("bob@mx.example.com", ("bob@elsewhere.org",)),
        ("bob@remote.net", ("bob@remote.net",)),
        ("moved@example.org", ("moved@example.net",)),
        ("sales+q3@example.org", ("alice+q3@mx.example.com", "bob+q3@remote.net")),
    ],
)
def test_virtual_alias_expansion_is_recursive(address: str, expected: tuple[str, ...]) -> None:
    settings = rewrite_settings({"hash:v": VIRTUAL}, virtual_alias_maps="hash:v", recipient_delimiter="+")
    assert expand_virtual(address, settings).addresses == expected


def test_virtual_alias_loop_makes_cleanup_defer() -> None:
    settings = rewrite_settings({"hash:v": VIRTUAL}, virtual_alias_maps="hash:v", virtual_alias_recursion_limit="20")
    result = expand_virtual("loop1@example.org", settings)
    assert result.error is not None and "unreasonable virtual_alias_maps map nesting" in result.error


def test_virtual_alias_domain_defaults_to_the_table_keys() -> None:
    table = Table({"example.org": "anything", "a@example.org": "alice@mx.example.com"})
    settings = rewrite_settings({"hash:v": table}, virtual_alias_maps="hash:v")
    assert resolve("a@example.org", settings).address_class is AddressClass.VIRTUAL_ALIAS


def test_canonical_maps_order_sender_map_first_then_canonical() -> None:
    tables = {
        "hash:s": Table({"alice@mx.example.com": "a.smith@example.com"}),
        "hash:c": Table({"a.smith@example.com": "Alice.Smith@example.com", "@mx.example.com": "nobody@example.com"}),
    }
    settings = rewrite_settings(tables, sender_canonical_maps="hash:s", canonical_maps="hash:c")
    assert canonical_map("alice@mx.example.com", "sender", settings) == "Alice.Smith@example.com"
    assert canonical_map("alice@mx.example.com", "recipient", settings) == "nobody@example.com"


def test_canonical_lookup_order_address_then_user_then_domain() -> None:
    table = Table({"alice@mx.example.com": "full", "alice": "user", "@mx.example.com": "domain"})
    settings = rewrite_settings({"hash:c": table}, canonical_maps="hash:c")
    assert canonical_map("alice@mx.example.com", "recipient", settings) == "full"
    assert canonical_map("alice@localhost", "recipient", settings) == "user"
    assert canonical_map("bob@mx.example.com", "recipient", settings) == "domain"
    assert canonical_map("alice@remote.org", "recipient", settings) == "alice@remote.org"


def test_canonical_classes_limit_where_a_map_applies() -> None:
    settings = rewrite_settings(
        {"hash:s": Table({"a@mx.example.com": "b@example.com"})},
        sender_canonical_maps="hash:s",
        sender_canonical_classes="envelope_sender",
    )
    assert canonical_map("a@mx.example.com", "sender", settings) == "b@example.com"
    assert canonical_map("a@mx.example.com", "sender", settings, header=True) == "a@mx.example.com"


def test_masquerade_domains_with_exception_and_excepted_user() -> None:
    settings = rewrite_settings(masquerade_domains="!sub.example.com, example.com", masquerade_exceptions="root")
    assert masquerade("alice@host.example.com", settings) == "alice@example.com"
    assert masquerade("alice@host.sub.example.com", settings) == "alice@host.sub.example.com"
    assert masquerade("root@host.example.com", settings) == "root@host.example.com"
    assert masquerade("alice@example.com", settings) == "alice@example.com"


def test_relocated_user_bounces_with_new_address() -> None:
    settings = rewrite_settings({"hash:r": Table({"old@mx.example.com": "new@example.net"})}, relocated_maps="hash:r")
    result = resolve("old@mx.example.com", settings)
    assert (result.transport, result.nexthop) == ("error", "5.1.6 User has moved to new@example.net")
