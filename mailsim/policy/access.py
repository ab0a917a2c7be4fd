"""access(5): what a table's right-hand side means, and the keys smtpd looks up, in Postfix's order.

Actions (check_table_result in smtpd_check.c): ``OK``/``RELAY`` and an all-numeric value permit;
``DUNNO`` skips; ``REJECT [text]``, ``DEFER [text]`` and ``4NN text``/``5NN text`` refuse (an optional
RFC 3463 code at the start of the text is used, its class digit forced to agree with the reply code);
``DEFER_IF_REJECT``/``DEFER_IF_PERMIT [text]``; ``WARN``/``INFO text`` only log; ``HOLD``, ``DISCARD``
(which also permits), ``REDIRECT user@domain``, ``FILTER transport:destination``, ``BCC user@domain``
and ``PREPEND header: text`` are side effects. Anything else is a list of restrictions (or restriction
class names) evaluated in place; a ``type:table`` inside it is a configuration error, as in Postfix.

Lookup orders: an address (check_sender_access, check_recipient_access) tries ``user+ext@domain``,
``user@domain``, the domain and its parents, ``user+ext@``, ``user@``; the null sender is looked up as
$smtpd_null_access_lookup_key (``<>``). A host name tries the name then its parents (``example.com`` style
when smtpd_access_maps is in parent_domain_matches_subdomains, else ``.example.com``); an address tries
``1.2.3.4``, ``1.2.3``, ``1.2``, ``1``. Only the first key of each kind goes to pattern tables.

Parameters read (through the restriction settings): parent_domain_matches_subdomains,
smtpd_null_access_lookup_key, recipient_delimiter, access_map_reject_code (554), access_map_defer_code (450).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailsim.policy.lookup import Lookup, parent_domains, split_delim, table_get
from mailsim.policy.rewrite.address import valid_hostaddr

_DSN = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)")
_SIDE_EFFECTS = frozenset({"HOLD", "DISCARD", "REDIRECT", "FILTER", "BCC", "PREPEND", "WARN", "INFO"})
_SIMPLE = frozenset({"OK", "RELAY", "DUNNO", "REJECT", "DEFER", "DEFER_IF_REJECT", "DEFER_IF_PERMIT"})


@dataclass(frozen=True, slots=True)
class AccessAction:
    """A parsed right-hand side: ``verb`` is an access(5) keyword, ``NUMERIC``, ``PERMIT`` or ``RESTRICTIONS``."""

    verb: str
    text: str = ""
    code: int | None = None
    restrictions: tuple[str, ...] = ()


def parse_action(value: str) -> AccessAction:
    """Classify a table result or a policy server's ``action=`` the way check_table_result does."""
    stripped = value.strip()
    command, _, text = stripped.partition(" ")
    text = text.strip()
    verb = command.upper()
    if verb in _SIMPLE or verb in _SIDE_EFFECTS:
        return AccessAction(verb, text)
    if stripped.isdigit():
        return AccessAction("PERMIT", stripped)
    if len(command) == 3 and command[0] in "45" and command[1:].isdigit() and text:
        return AccessAction("NUMERIC", text, int(command))
    if ":" in stripped:
        return AccessAction("TABLE_IN_RHS", stripped)
    return AccessAction("RESTRICTIONS", "", None, tuple(re.split(r"[,\s]+", stripped)) if stripped else ())


def dsn_split(default: str, text: str) -> tuple[str, str]:
    """An optional leading RFC 3463 status in ``text``: (status, rest); else (default, text)."""
    match = _DSN.match(text)
    if match is None:
        return default, text
    return text[: match.end()].strip(), text[match.end() :]


# smtpd_dsn_fix.c: micro code → (sender status, recipient status); SND_DSN is 4.1.7 (observed on Postfix 3.7).
_DSN_MAP = {
    "1": ("4.1.7", "4.1.1"),
    "2": ("4.1.8", "4.1.2"),
    "3": ("4.1.7", "4.1.3"),
    "4": ("4.1.7", "4.1.4"),
    "5": ("4.1.0", "4.1.5"),
    "6": ("4.1.7", "4.1.6"),
    "7": ("4.1.7", "4.1.3"),
    "8": ("4.1.8", "4.1.2"),
}


def dsn_fix(status: str, reply_class: str) -> str:
    """smtpd_dsn_fix(): an address status (X.1.Y) made to fit what is being rejected."""
    if len(status) < 4 or not status[0].isdigit() or status[1:4] != ".1.":
        return status
    sender, recipient = _DSN_MAP.get(status[4:], ("4.1.0", "4.1.0"))
    if reply_class == "Sender address":
        return sender
    if reply_class == "Recipient address":
        return recipient
    return "4.0.0"


def mail_keys(
    resolved: str, original: str, delimiters: str, partial_domains: bool, parent_style: bool
) -> list[tuple[str, bool]]:
    """check_mail_access(): (key, partial) in order for an address (resolved form and as given)."""
    local, _, domain = resolved.rpartition("@")
    keys: list[tuple[str, bool]] = [(resolved, False)]
    bare = _strip(original, delimiters)
    if bare is not None:
        keys.append((bare, True))
    keys.extend(domain_keys(domain, parent_style, first_partial=partial_domains))
    keys.append((f"{local}@", True))
    if bare is not None:
        keys.append((bare.rpartition("@")[0] + "@" if "@" in bare else bare, True))
    return keys


def _strip(address: str, delimiters: str) -> str | None:
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    user, ext, _ = split_delim(local, delimiters)
    if ext is None:
        return None
    return f"{user}@{domain}" if at else user


def domain_keys(domain: str, parent_style: bool, first_partial: bool = False) -> list[tuple[str, bool]]:
    """check_domain_access(): the name, then (unless it is an IP address) its parent domains."""
    keys = [(domain, first_partial)]
    if domain and not valid_hostaddr(domain):
        keys.extend((parent, True) for parent in parent_domains(domain, parent_style))
    return keys


def addr_keys(address: str) -> list[tuple[str, bool]]:
    """check_addr_access(): ``1.2.3.4``, ``1.2.3``, ``1.2``, ``1`` (``:`` for IPv6)."""
    delimiter = ":" if ":" in address else "."
    keys = [(address, False)]
    rest = address
    while delimiter in rest:
        rest = rest.rpartition(delimiter)[0]
        keys.append((rest, True))
    return keys


def find(table: Lookup, keys: list[tuple[str, bool]]) -> tuple[str, str] | None:
    """The first (key, value) the table has, honouring partial keys for pattern tables."""
    for key, partial in keys:
        if not key:
            continue
        value = table_get(table, key, partial)
        if value is not None:
            return key, value
    return None
