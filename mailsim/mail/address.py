"""Envelope addresses: splitting, case rules, the null sender, syntax, and RFC 3461 xtext.

Rules (RFC 5321 §2.4, §4.1.2): the domain is case-insensitive and is lowercased for comparison
and routing; the local part is case-sensitive in principle and is preserved exactly (Postfix
preserves it too; whether ``Bob`` and ``bob`` share a mailbox is the delivery agent's decision).
The null reverse-path ``<>`` is the empty string ``""`` everywhere in mailsim (RFC 5321 §4.5.5).
"""

from __future__ import annotations

import re

NULL_SENDER = ""

# RFC 5321 §4.1.2 (Mailbox, Dot-string, Quoted-string, address-literal), ASCII only unless SMTPUTF8.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_STRING = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"'
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_LITERAL = r"\[(?:[0-9.]+|IPv6:[0-9A-Fa-f:.]+)\]"
_DOT_STRING_RE = re.compile(_DOT_STRING)
_MAILBOX = re.compile(rf"^(?:{_DOT_STRING}|{_QUOTED})@(?:{_DOMAIN}|{_LITERAL})$")
_UTF8_MAILBOX = re.compile(r"^[^\s@<>()\[\],;:\\\"]+(?:\.[^\s@<>()\[\],;:\\\".]+)*@[^\s@<>]+$")
_XTEXT_SAFE = frozenset(chr(c) for c in range(33, 127)) - {"+", "="}
_XTEXT_HEX = re.compile(r"\+([0-9A-F]{2})")


def split_address(address: str) -> tuple[str, str]:
    """``(local, domain)`` split at the last ``@`` outside a quoted local part; no ``@`` -> domain ``""``."""
    in_quotes = False
    escaped = False
    split_at = -1
    for index, char in enumerate(address):
        if escaped:
            escaped = False
        elif char == "\\" and in_quotes:
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == "@" and not in_quotes:
            split_at = index
    if split_at < 0:
        return address, ""
    return address[:split_at], address[split_at + 1 :]


def local_part(address: str) -> str:
    return split_address(address)[0]


def domain_of(address: str) -> str:
    """The domain, lowercased, without a trailing dot; ``""`` for a bare local part or ``<>``."""
    return split_address(address)[1].lower().rstrip(".")


def normalize_address(address: str) -> str:
    """The comparison form: domain lowercased, local part kept as written."""
    local, domain = split_address(address)
    return f"{local}@{domain.lower()}" if domain or "@" in address else local


def same_address(first: str, second: str) -> bool:
    """RFC 5321 §2.4: equal when local parts are identical and domains equal ignoring case."""
    return normalize_address(first) == normalize_address(second)


def is_null_sender(address: str) -> bool:
    return address in ("", "<>")


def strip_angles(path: str) -> str:
    """``<a@b>`` -> ``a@b``, ``<>`` -> ``""``; surrounding blanks ignored; bare addresses pass through."""
    text = path.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return text


def with_angles(address: str) -> str:
    """``a@b`` -> ``<a@b>``; ``""`` -> ``<>``: the form used in MAIL/RCPT and in logs."""
    return f"<{address}>"


def needs_smtputf8(address: str) -> bool:
    """True when the address has non-ASCII characters and so needs SMTPUTF8 (RFC 6531 §3.2)."""
    return not address.isascii()


def is_valid_mailbox(address: str, *, smtputf8: bool = False) -> bool:
    """RFC 5321 §4.1.2 Mailbox syntax (RFC 6531 when ``smtputf8``); ``""`` (the null path) is not a mailbox."""
    if _MAILBOX.match(address):
        return len(local_part(address)) <= 64 and len(address) <= 254  # RFC 5321 §4.5.3.1
    return smtputf8 and needs_smtputf8(address) and _UTF8_MAILBOX.match(address) is not None


def is_fqdn(domain: str) -> bool:
    """A domain with at least two labels (what reject_non_fqdn_* asks for) or an address literal."""
    name = domain.rstrip(".")
    return name.startswith("[") or ("." in name and all(name.split(".")))


def quote_local(local: str) -> str:
    """Quote a local part that is not a dot-string, as Postfix's quote_822_local does."""
    if _DOT_STRING_RE.fullmatch(local) or (local.startswith('"') and local.endswith('"')):
        return local
    escaped = local.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def quote_address(address: str) -> str:
    """The address with its local part quoted when needed (Received ``for <...>``)."""
    local, domain = split_address(address)
    if "@" not in address:
        return quote_local(local)
    return f"{quote_local(local)}@{domain}"


def xtext_decode(text: str) -> str:
    """RFC 3461 §4: ``+XX`` (two upper-case hex digits) is one byte; anything else invalid raises ValueError."""
    out = bytearray()
    index = 0
    while index < len(text):
        char = text[index]
        if char == "+":
            match = _XTEXT_HEX.match(text, index)
            if match is None:
                raise ValueError(f"bad xtext escape at offset {index} in {text!r}")
            out.append(int(match.group(1), 16))
            index += 3
            continue
        if char not in _XTEXT_SAFE:
            raise ValueError(f"character {char!r} not allowed in xtext {text!r}")
        out.append(ord(char))
        index += 1
    return out.decode("utf-8", errors="surrogateescape")


def xtext_encode(text: str) -> str:
    """RFC 3461 §4: every byte outside ``!``..``~`` and ``+``/``=`` becomes ``+XX``."""
    parts = []
    for byte in text.encode("utf-8", errors="surrogateescape"):
        char = chr(byte)
        parts.append(char if char in _XTEXT_SAFE else f"+{byte:02X}")
    return "".join(parts)
