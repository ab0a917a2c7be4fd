"""The smtpd parameters the restriction checks read, parsed once from main.cf.

Parameters read (Postfix 3.7 defaults): smtpd_client_restrictions, smtpd_helo_restrictions,
smtpd_sender_restrictions, smtpd_relay_restrictions (permit_mynetworks, permit_sasl_authenticated,
defer_unauth_destination from compatibility level 1; empty below), smtpd_recipient_restrictions,
smtpd_data_restrictions, smtpd_end_of_data_restrictions, smtpd_etrn_restrictions,
smtpd_restriction_classes, smtpd_delay_reject (yes), mynetworks (from mynetworks_style and the host's
interfaces), permit_mx_backup_networks (empty), allow_untrusted_routing (no), soft_bounce (no),
smtpd_reject_unlisted_recipient (yes), smtpd_reject_unlisted_sender (no), local_recipient_maps (proxy:unix:passwd.byname $alias_maps),
relay_recipient_maps, virtual_mailbox_maps, smtpd_sender_login_maps, rbl_reply_maps, default_rbl_reply,
smtpd_null_access_lookup_key (<>), double_bounce_sender, unknown_address_tempfail_action,
unknown_helo_hostname_tempfail_action (defer_if_permit), parent_domain_matches_subdomains, and the reply
codes reject_code (554), defer_code (450), relay_domains_reject_code (554), access_map_reject_code (554),
access_map_defer_code (450), non_fqdn_reject_code (504), invalid_hostname_reject_code (501),
unknown_hostname_reject_code (450), unknown_address_reject_code (450), unknown_client_reject_code (450),
maps_rbl_reject_code (554), unknown_local_recipient_reject_code (550), unknown_virtual_alias_reject_code
(550), unknown_virtual_mailbox_reject_code (550), unknown_relay_recipient_reject_code (550),
multi_recipient_bounce_reject_code (550), plaintext_reject_code (450), show_user_unknown_table_name (yes).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from mailsim.config.maincf import MainCf
from mailsim.core.errors import ConfigError
from mailsim.core.memo import remember
from mailsim.policy.lookup import FileReader, Lookup, TableOpener, open_all, opener_from, parent_domains, table_get
from mailsim.policy.rewrite.address import valid_hostaddr

STAGE_LISTS = (
    "smtpd_client_restrictions",
    "smtpd_helo_restrictions",
    "smtpd_sender_restrictions",
    "smtpd_relay_restrictions",
    "smtpd_recipient_restrictions",
    "smtpd_data_restrictions",
    "smtpd_end_of_data_restrictions",
    "smtpd_etrn_restrictions",
)
CODES = (
    "reject_code",
    "defer_code",
    "relay_domains_reject_code",
    "access_map_reject_code",
    "access_map_defer_code",
    "non_fqdn_reject_code",
    "invalid_hostname_reject_code",
    "unknown_hostname_reject_code",
    "unknown_address_reject_code",
    "unknown_client_reject_code",
    "maps_rbl_reject_code",
    "unknown_local_recipient_reject_code",
    "unknown_virtual_alias_reject_code",
    "unknown_virtual_mailbox_reject_code",
    "unknown_relay_recipient_reject_code",
    "multi_recipient_bounce_reject_code",
    "plaintext_reject_code",
)
RELAY_REQUIRED = (
    "reject_unauth_destination",
    "defer_unauth_destination",
    "reject",
    "defer",
    "defer_if_permit",
    "check_relay_domains",
)
PASSWD_TABLES = frozenset({"proxy:unix:passwd.byname", "unix:passwd.byname"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_MEMO_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class NetworkList:
    """A namadr_list(3) such as mynetworks: networks, host/domain names, tables, ``!`` exclusions."""

    entries: tuple[tuple[bool, str, object], ...] = ()
    parent_style: bool = True
    # (name, address) -> answer, for lists without tables (pure then; clients come back and ip_address() is slow)
    _memo: dict[tuple[str, str], bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def parse(
        cls, items: list[str], opener: TableOpener, parent_style: bool, read_file: FileReader | None = None
    ) -> NetworkList:
        entries: list[tuple[bool, str, object]] = []
        for item in items:
            negate, bare = item.startswith("!"), item.lstrip("!")
            if bare.startswith("/") and read_file is not None:
                entries.extend((negate, *_entry(part, opener)) for part in read_file(bare).split())
            else:
                entries.append((negate, *_entry(bare, opener)))
        return cls(tuple(entries), parent_style)

    def match(self, name: str, address: str) -> bool:
        """First matching entry decides; ``!entry`` means no."""
        known = self._memo.get((name, address))
        if known is not None:
            return known
        found = self._match(name, address)
        if not any(kind == "table" for _, kind, _ in self.entries):
            remember(self._memo, (name, address), found, _MEMO_LIMIT)
        return found

    def _match(self, name: str, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            ip = None
        for negate, kind, value in self.entries:
            if self._matches(kind, value, name.lower(), address, ip):
                return not negate
        return False

    def _matches(self, kind: str, value: object, name: str, address: str, ip: object) -> bool:
        if kind == "net":
            return ip is not None and ip in value  # type: ignore[operator]
        if kind == "table":
            table = cast(Lookup, value)
            keys = [name, *parent_domains(name, self.parent_style)] if name != "unknown" else []
            by_name = any(table_get(table, key, index > 0) is not None for index, key in enumerate(keys))
            return by_name or table_get(table, address) is not None
        pattern = str(value)
        if pattern.startswith("."):
            return name.endswith(pattern)
        return name == pattern or (self.parent_style and name.endswith("." + pattern))


def _entry(text: str, opener: TableOpener) -> tuple[str, object]:
    bare = text.replace("[", "").replace("]", "")
    if "/" in bare or valid_hostaddr(bare):
        try:
            return "net", ipaddress.ip_network(bare, strict=False)
        except ValueError:
            pass
    if ":" in text and not text.startswith("["):
        return "table", opener(text)
    return "name", text.lower()


@dataclass(frozen=True, slots=True)
class RestrictionSettings:
    """Everything generic_checks() reads, with restriction lists pre-parsed and tables pre-opened."""

    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    classes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tables: Mapping[str, Lookup] = field(default_factory=dict)
    codes: Mapping[str, int] = field(default_factory=dict)
    mynetworks: NetworkList = field(default_factory=NetworkList)
    mx_backup_networks: NetworkList | None = None  # None: permit_mx_backup_networks is empty (no restriction)
    delay_reject: bool = True
    allow_untrusted_routing: bool = False
    soft_bounce: bool = False
    reject_unlisted_recipient: bool = True
    reject_unlisted_sender: bool = False
    show_unknown_table: bool = True
    local_recipient_maps: tuple[Lookup, ...] = ()
    local_recipient_passwd: bool = False
    local_recipient_check: bool = True
    relay_recipient_maps: tuple[Lookup, ...] = ()
    virtual_mailbox_maps: tuple[Lookup, ...] = ()
    sender_login_maps: tuple[Lookup, ...] = ()
    rbl_reply_maps: tuple[Lookup, ...] = ()
    default_rbl_reply: str = (
        "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}"
    )
    null_access_key: str = "<>"
    double_bounce_sender: str = "double-bounce"
    recipient_delimiter: str = ""
    access_parent_style: bool = True
    address_tempfail_defer_if_permit: bool = True
    helo_tempfail_defer_if_permit: bool = True

    def code(self, name: str) -> int:
        return self.codes[name]

    def stage_list(self, name: str) -> tuple[str, ...]:
        return self.lists.get(name, ())

    @classmethod
    def from_main(
        cls,
        main: MainCf,
        tables: Mapping[str, Lookup] | TableOpener | None = None,
        read_file: FileReader | None = None,
    ) -> RestrictionSettings:
        """Parse every restriction list and class, open every table they name, read the codes."""
        opener = opener_from(tables)
        parents = set(main.list("parent_domain_matches_subdomains"))
        lists = {name: tuple(main.list(name)) for name in STAGE_LISTS}
        classes = {name: tuple(main.list(name)) for name in main.list("smtpd_restriction_classes")}
        specs = {spec for items in (*lists.values(), *classes.values()) for spec in _table_specs(items)}
        local_specs = main.list("local_recipient_maps")
        require_relay_control(lists, classes)
        return cls(
            lists=lists,
            classes=classes,
            tables={spec: opener(spec) for spec in sorted(specs)},
            codes={name: main.int(name) for name in CODES},
            mynetworks=NetworkList.parse(main.list("mynetworks"), opener, "mynetworks" in parents, read_file),
            mx_backup_networks=_mx_backup_networks(main, opener, parents, read_file),
            local_recipient_maps=open_all((s for s in local_specs if s not in PASSWD_TABLES), opener),
            local_recipient_passwd=any(spec in PASSWD_TABLES for spec in local_specs),
            local_recipient_check=bool(local_specs),
            relay_recipient_maps=open_all(main.list("relay_recipient_maps"), opener),
            virtual_mailbox_maps=open_all(main.list("virtual_mailbox_maps"), opener),
            sender_login_maps=open_all(main.list("smtpd_sender_login_maps"), opener),
            rbl_reply_maps=open_all(main.list("rbl_reply_maps"), opener),
            access_parent_style="smtpd_access_maps" in parents,
            **_scalars(main),
        )


def has_required(items: tuple[str, ...], classes: Mapping[str, tuple[str, ...]], depth: int = 0) -> bool:
    """has_required(): does the list (or a class it names) hold a restriction that refuses by default?"""
    index = 0
    while index < len(items) and depth < 100:
        item = items[index].lower()
        if item == "warn_if_reject":
            index += 2
            continue
        if item == "permit":
            return False
        if item in RELAY_REQUIRED:
            return True
        if items[index] in classes and has_required(classes[items[index]], classes, depth + 1):
            return True
        index += 1
    return False


def require_relay_control(lists: Mapping[str, tuple[str, ...]], classes: Mapping[str, tuple[str, ...]]) -> None:
    """smtpd refuses to run as an open relay by construction (smtpd_check_init's fail_required)."""
    if has_required(lists["smtpd_recipient_restrictions"], classes):
        return
    if has_required(lists["smtpd_relay_restrictions"], classes):
        return
    wanted = ", ".join(RELAY_REQUIRED[:-1]) + " or " + RELAY_REQUIRED[-1]
    raise ConfigError(
        f"specify at least one working instance of: {wanted}",
        key="smtpd_relay_restrictions or smtpd_recipient_restrictions",
    )


def _mx_backup_networks(
    main: MainCf, opener: TableOpener, parents: set[str], read_file: FileReader | None
) -> NetworkList | None:
    """permit_mx_backup_networks (mynetworks syntax); empty means the primary MX hosts are not checked."""
    items = main.list("permit_mx_backup_networks")
    if not items:
        return None
    return NetworkList.parse(items, opener, "permit_mx_backup_networks" in parents, read_file)


def _table_specs(items: tuple[str, ...]) -> list[str]:
    """The ``type:name`` tables a restriction list names (not a policy server's endpoint)."""
    found = []
    for index, item in enumerate(items):
        after_policy = index > 0 and items[index - 1].lower() == "check_policy_service"
        if ":" in item and not after_policy and not item.startswith("[") and not valid_hostaddr(item):
            found.append(item)
    return found


def _scalars(main: MainCf) -> dict[str, Any]:
    return {
        "delay_reject": main.bool("smtpd_delay_reject"),
        "allow_untrusted_routing": main.bool("allow_untrusted_routing"),
        "soft_bounce": main.bool("soft_bounce"),
        "reject_unlisted_recipient": main.bool("smtpd_reject_unlisted_recipient"),
        "reject_unlisted_sender": main.bool("smtpd_reject_unlisted_sender"),
        "show_unknown_table": main.bool("show_user_unknown_table_name"),
        "default_rbl_reply": main.raw("default_rbl_reply"),
        "null_access_key": main.get("smtpd_null_access_lookup_key"),
        "double_bounce_sender": main.get("double_bounce_sender"),
        "recipient_delimiter": main.get("recipient_delimiter"),
        "address_tempfail_defer_if_permit": main.get("unknown_address_tempfail_action") == "defer_if_permit",
        "helo_tempfail_defer_if_permit": main.get("unknown_helo_hostname_tempfail_action") == "defer_if_permit",
    }
