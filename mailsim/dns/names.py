"""Domain names and record types as the DNS model keys them: plain lower-case absolute text.

Every lookup in a large run goes through a dict, so names are keyed by a ``str`` (``"mx1.example.org."``,
lower case, absolute, the root is ``"."``) rather than ``dns.name.Name``: building a ``Name`` from text
costs microseconds, lower-casing a string does not. Text that needs real parsing (escapes, non-ASCII
names that IDNA turns into ``xn--`` labels) goes through dnspython once.

Postfix parameters read: none.
"""

from __future__ import annotations

import dns.exception
import dns.name
import dns.rdatatype
import dns.reversename

from mailsim.core.errors import ScenarioError

NameLike = str | dns.name.Name
TypeLike = str | int
# Constant tables (never mutated): mnemonic <-> number without dnspython's enum machinery per query.
_TYPE_NUMBERS = {kind.name: int(kind) for kind in dns.rdatatype.RdataType}
_TYPE_NAMES = {number: name for name, number in _TYPE_NUMBERS.items()}


def canonical(name: NameLike) -> str:
    """The lookup key of ``name``: absolute, lower case, escapes and IDNA resolved."""
    if isinstance(name, dns.name.Name):
        if not name.is_absolute():
            name = name.derelativize(dns.name.root)
        return name.to_text().lower()
    if name.isascii() and "\\" not in name and ".." not in name:
        key = name.lower()
        return key if key.endswith(".") else key + "."
    return dns.name.from_text(name).to_text().lower()


def checked(name: NameLike, *, key: str = "name") -> str:
    """Like :func:`canonical`, but for user input: a malformed name is a :class:`ScenarioError`."""
    text = name.to_text() if isinstance(name, dns.name.Name) else str(name)
    if not text or any(c.isspace() for c in text):
        raise ScenarioError("not a domain name", key=key, expected="a domain name", found=text)
    try:
        parsed = name if isinstance(name, dns.name.Name) else dns.name.from_text(text)
    except (dns.exception.DNSException, ValueError, UnicodeError) as error:
        raise ScenarioError(str(error), key=key, expected="a domain name", found=str(name)) from None
    return canonical(parsed)


def display(key: str) -> str:
    """A key as people and Postfix logs write it: without the trailing dot (the root stays ``.``)."""
    return key[:-1] if len(key) > 1 else key


def parent(key: str) -> str | None:
    """The key one label up (``None`` above the root)."""
    if key == ".":
        return None
    rest = key[key.index(".") + 1 :]
    return rest or "."


def ancestors(key: str) -> list[str]:
    """``key`` and every name above it, nearest first, ending with the root."""
    found = [key]
    up = parent(key)
    while up is not None:
        found.append(up)
        up = parent(up)
    return found


def is_below(key: str, origin: str) -> bool:
    """True when ``key`` is ``origin`` or inside it."""
    return origin == "." or key == origin or key.endswith("." + origin)


def rdtype_of(rdtype: TypeLike) -> int:
    """A record type as its number (``"MX"``, ``"mx"``, 15 and ``RdataType.MX`` all give 15)."""
    if isinstance(rdtype, int):
        return int(rdtype)
    number = _TYPE_NUMBERS.get(rdtype) or _TYPE_NUMBERS.get(rdtype.upper())
    if number is not None:
        return number
    try:
        return int(dns.rdatatype.from_text(rdtype))
    except dns.rdatatype.UnknownRdatatype:
        raise ScenarioError(
            "unknown record type", key="type", expected="a record type such as A, AAAA, MX, TXT", found=rdtype
        ) from None


def type_text(rdtype: int) -> str:
    """A record type's mnemonic for traces (``15`` -> ``"MX"``)."""
    name = _TYPE_NAMES.get(rdtype)
    return name if name is not None else dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))


def reverse_name(address: str) -> str:
    """The PTR owner of an IPv4 or IPv6 address (``in-addr.arpa.``/``ip6.arpa.``), as a key."""
    try:
        return dns.reversename.from_address(address).to_text().lower()
    except (dns.exception.SyntaxError, ValueError):
        raise ScenarioError(
            "not an IP address", key="addresses", expected="an IPv4 or IPv6 address", found=address
        ) from None
