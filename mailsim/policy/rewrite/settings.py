"""The main.cf parameters trivial-rewrite and cleanup's address rewriting read, parsed once.

Parameters read (Postfix 3.7 defaults): myhostname, mydomain, myorigin ($myhostname), mydestination
($myhostname, localhost.$mydomain, localhost), inet_interfaces (all), inet_protocols, proxy_interfaces (),
virtual_alias_domains ($virtual_alias_maps), virtual_mailbox_domains ($virtual_mailbox_maps),
relay_domains ($mydestination below compatibility level 2, else empty), local_transport
(local:$myhostname), virtual_transport (virtual), relay_transport (relay), default_transport (smtp),
relayhost (), transport_maps (), relocated_maps (), canonical_maps (), sender_canonical_maps (),
recipient_canonical_maps (), canonical_classes, sender_canonical_classes, recipient_canonical_classes,
virtual_alias_maps ($virtual_maps), virtual_alias_recursion_limit (1000), virtual_alias_expansion_limit
(1000), masquerade_domains (), masquerade_exceptions (), masquerade_classes (envelope_sender,
header_sender, header_recipient), recipient_delimiter (), propagate_unmatched_extensions (canonical,
virtual), swap_bangpath (yes), allow_percent_hack (yes), append_at_myorigin (yes), append_dot_mydomain
(yes below compatibility level 1, else no), resolve_dequoted_address (yes), resolve_null_domain (no),
resolve_numeric_domain (no), allow_min_user (no), empty_address_recipient (MAILER-DAEMON),
show_user_unknown_table_name (yes), parent_domain_matches_subdomains, helpful_warnings (yes).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailsim.config.hostfacts import listening_interfaces
from mailsim.config.maincf import MainCf
from mailsim.policy.lookup import DomainList, FileReader, Lookup, TableOpener, open_all, opener_from


@dataclass(frozen=True, slots=True)
class RewriteSettings:
    """Everything address rewriting and resolution needs, with the tables already opened."""

    myhostname: str = "localhost.localdomain"
    mydomain: str = "localdomain"
    myorigin: str = "localhost.localdomain"
    mydestination: DomainList = field(default_factory=DomainList)
    local_interfaces: frozenset[str] = frozenset({"127.0.0.1", "::1"})
    virtual_alias_domains: DomainList = field(default_factory=DomainList)
    virtual_mailbox_domains: DomainList = field(default_factory=DomainList)
    relay_domains: DomainList = field(default_factory=DomainList)
    local_transport: str = "local:localhost.localdomain"
    virtual_transport: str = "virtual"
    relay_transport: str = "relay"
    default_transport: str = "smtp"
    relayhost: str = ""
    transport_maps: tuple[Lookup, ...] = ()
    transport_parent_style: bool = False
    relocated_maps: tuple[Lookup, ...] = ()
    canonical_maps: tuple[Lookup, ...] = ()
    sender_canonical_maps: tuple[Lookup, ...] = ()
    recipient_canonical_maps: tuple[Lookup, ...] = ()
    virtual_alias_maps: tuple[Lookup, ...] = ()
    virtual_alias_recursion_limit: int = 1000
    virtual_alias_expansion_limit: int = 1000
    masquerade_domains: tuple[str, ...] = ()
    masquerade_exceptions: frozenset[str] = frozenset()
    masquerade_classes: frozenset[str] = frozenset({"envelope_sender", "header_sender", "header_recipient"})
    canonical_classes: frozenset[str] = frozenset(
        {"envelope_sender", "envelope_recipient", "header_sender", "header_recipient"}
    )
    sender_canonical_classes: frozenset[str] = frozenset({"envelope_sender", "header_sender"})
    recipient_canonical_classes: frozenset[str] = frozenset({"envelope_recipient", "header_recipient"})
    recipient_delimiter: str = ""
    propagate_unmatched_extensions: frozenset[str] = frozenset({"canonical", "virtual"})
    swap_bangpath: bool = True
    allow_percent_hack: bool = True
    append_at_myorigin: bool = True
    append_dot_mydomain: bool = False
    resolve_dequoted_address: bool = True
    resolve_null_domain: bool = False
    resolve_numeric_domain: bool = False
    allow_min_user: bool = False
    empty_address_recipient: str = "MAILER-DAEMON"
    show_user_unknown_table_name: bool = True
    helpful_warnings: bool = True

    @classmethod
    def from_main(
        cls,
        main: MainCf,
        tables: Mapping[str, Lookup] | TableOpener | None = None,
        read_file: FileReader | None = None,
    ) -> RewriteSettings:
        """Read every rewriting parameter from a parsed main.cf; ``tables`` opens ``type:name`` specs."""
        opener = opener_from(tables)
        parents = set(main.list("parent_domain_matches_subdomains"))

        def domains(name: str) -> DomainList:
            return DomainList.parse(main.list(name), opener, name in parents, read_file, key=name)

        def maps(name: str) -> tuple[Lookup, ...]:
            return open_all(main.list(name), opener)

        return cls(
            **_names(main),
            mydestination=domains("mydestination"),
            local_interfaces=_local_interfaces(main),
            virtual_alias_domains=domains("virtual_alias_domains"),
            virtual_mailbox_domains=domains("virtual_mailbox_domains"),
            relay_domains=domains("relay_domains"),
            transport_maps=maps("transport_maps"),
            transport_parent_style="transport_maps" in parents,
            relocated_maps=maps("relocated_maps"),
            canonical_maps=maps("canonical_maps"),
            sender_canonical_maps=maps("sender_canonical_maps"),
            recipient_canonical_maps=maps("recipient_canonical_maps"),
            virtual_alias_maps=maps("virtual_alias_maps"),
            **_switches(main),
        )


def _names(main: MainCf) -> dict[str, Any]:
    """The plain string and number parameters."""
    return {
        "myhostname": main.get("myhostname").lower(),
        "mydomain": main.get("mydomain").lower(),
        "myorigin": main.get("myorigin").lower(),
        "local_transport": main.get("local_transport"),
        "virtual_transport": main.get("virtual_transport"),
        "relay_transport": main.get("relay_transport"),
        "default_transport": main.get("default_transport"),
        "relayhost": main.get("relayhost"),
        "virtual_alias_recursion_limit": main.int("virtual_alias_recursion_limit"),
        "virtual_alias_expansion_limit": main.int("virtual_alias_expansion_limit"),
        "masquerade_domains": tuple(d.lower() for d in main.list("masquerade_domains")),
        "masquerade_exceptions": frozenset(u.lower() for u in main.list("masquerade_exceptions")),
        "masquerade_classes": frozenset(main.list("masquerade_classes")),
        "canonical_classes": frozenset(main.list("canonical_classes")),
        "sender_canonical_classes": frozenset(main.list("sender_canonical_classes")),
        "recipient_canonical_classes": frozenset(main.list("recipient_canonical_classes")),
        "recipient_delimiter": main.get("recipient_delimiter"),
        "propagate_unmatched_extensions": frozenset(main.list("propagate_unmatched_extensions")),
        "empty_address_recipient": main.get("empty_address_recipient"),
    }


def _switches(main: MainCf) -> dict[str, Any]:
    """The yes/no parameters."""
    names = {
        "swap_bangpath": "swap_bangpath",
        "allow_percent_hack": "allow_percent_hack",
        "append_at_myorigin": "append_at_myorigin",
        "append_dot_mydomain": "append_dot_mydomain",
        "resolve_dequoted_address": "resolve_dequoted_address",
        "resolve_null_domain": "resolve_null_domain",
        "resolve_numeric_domain": "resolve_numeric_domain",
        "allow_min_user": "allow_min_user",
        "show_user_unknown_table_name": "show_user_unknown_table_name",
        "helpful_warnings": "helpful_warnings",
    }
    return {field_name: main.bool(parameter) for field_name, parameter in names.items()}


def _local_interfaces(main: MainCf) -> frozenset[str]:
    """The addresses of inet_interfaces and proxy_interfaces: ``user@[addr]`` is local for these."""
    found = {
        str(interface.ip)
        for interface in listening_interfaces(main.host, main.list("inet_interfaces"), main.list("inet_protocols"))
    }
    for item in main.list("proxy_interfaces"):
        try:
            found.add(str(ipaddress.ip_address(item.strip("[]"))))
        except ValueError:
            continue  # proxy_interfaces may name hosts; mailsim does not resolve them here
    return frozenset(found)
