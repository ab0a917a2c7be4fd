"""cleanup's address maps: canonical(5), virtual(5) alias expansion and masquerade_domains.

Lookup order (mail_addr_find(3), canonical(5), virtual(5)) for ``user+ext@domain``, table list by table
list for each key: ``user+ext@domain``; ``user@domain``; when the domain is $myorigin, in $mydestination
or one of our ``[address]`` literals: ``user+ext`` then ``user``; finally ``@domain``. Pattern tables only
see the first, complete key. A result ``@otherdomain`` means the same user in otherdomain. When a key
without the extension matched and propagate_unmatched_extensions names the map class, ``+ext`` is put back
into each result address.

canonical_maps are applied one-to-one and repeatedly (at most 10 times, a result equal to its input ends
the chain): sender_canonical_maps (recipient_canonical_maps) first, then canonical_maps. virtual alias
expansion is one-to-many and recursive (cleanup_map1n.c): every result address is looked up again, an
address may expand to itself once (it is then kept), and nesting beyond virtual_alias_recursion_limit or a
list longer than virtual_alias_expansion_limit makes cleanup refuse the message for now. Masquerading
replaces a subdomain by the first listed parent domain, except for ``!domain`` entries and the user names
in masquerade_exceptions.

Parameters read: see :mod:`mailsim.policy.rewrite.settings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailsim.config.syntax import split_list
from mailsim.policy.lookup import Lookup, maps_find, split_delim
from mailsim.policy.rewrite.address import split_address
from mailsim.policy.rewrite.resolve import resolve_local
from mailsim.policy.rewrite.settings import RewriteSettings

CANONICAL_NESTING_LIMIT = 10  # cleanup_map11.c MAX_RECURSION


def mail_addr_find(
    tables: Sequence[Lookup], address: str, settings: RewriteSettings, propagate: bool = True
) -> tuple[str, ...] | None:
    """The result addresses for ``address`` in Postfix's lookup order, or None when nothing matched."""
    local, domain = split_address(address)
    user, ext, delim = split_delim(local, settings.recipient_delimiter)
    keys: list[tuple[str, bool, bool]] = [(address, False, False)]
    if ext is not None:
        keys.append((f"{user}@{domain}" if domain is not None else user, True, True))
    if domain is None or _is_own(domain, settings):
        if ext is not None:
            keys.append((local, True, False))
        keys.append((user, True, ext is not None))
    if domain is not None:
        keys.append((f"@{domain}", True, False))
    for key, partial, unmatched in keys:
        value = maps_find(tables, key, partial)
        if value is not None:
            extension = f"{delim}{ext}" if unmatched and propagate and ext is not None else ""
            return _result_addresses(value, local, extension)
    return None


def _is_own(domain: str, settings: RewriteSettings) -> bool:
    return domain.lower() == settings.myorigin or resolve_local(domain, settings)


def _result_addresses(value: str, local: str, extension: str) -> tuple[str, ...]:
    """Split a lookup result; ``@domain`` keeps the user, the unmatched extension goes back in."""
    found: list[str] = []
    for index, item in enumerate(split_list(value)):
        address = f"{local}{item}" if index == 0 and item.startswith("@") else item
        if extension:
            user, at, dom = address.rpartition("@")
            address = f"{user}{extension}@{dom}" if at else f"{address}{extension}"
        found.append(address)
    return tuple(found)


def canonical_map(address: str, role: str, settings: RewriteSettings, header: bool = False) -> str:
    """canonical(5) for an envelope (or header) ``sender``/``recipient``: role map first, then canonical_maps."""
    cls = f"{'header' if header else 'envelope'}_{role}"
    role_maps, role_classes = (
        (settings.sender_canonical_maps, settings.sender_canonical_classes)
        if role == "sender"
        else (settings.recipient_canonical_maps, settings.recipient_canonical_classes)
    )
    propagate = "canonical" in settings.propagate_unmatched_extensions
    if role_maps and cls in role_classes:
        address = _map11(role_maps, address, settings, propagate)
    if settings.canonical_maps and cls in settings.canonical_classes:
        address = _map11(settings.canonical_maps, address, settings, propagate)
    return address


def _map11(tables: Sequence[Lookup], address: str, settings: RewriteSettings, propagate: bool) -> str:
    """cleanup_map11: follow one-to-one mappings until a fixed point (or the nesting limit)."""
    for _ in range(CANONICAL_NESTING_LIMIT):
        found = mail_addr_find(tables, address, settings, propagate)
        if found is None:
            return address
        previous, address = address, found[0]
        if previous.lower() == address.lower():
            return address
    return address


@dataclass(frozen=True, slots=True)
class VirtualExpansion:
    """The final recipients of a virtual alias expansion; ``error`` when cleanup must defer the message."""

    addresses: tuple[str, ...]
    error: str | None = None
    rewritten: bool = False


def expand_virtual(address: str, settings: RewriteSettings) -> VirtualExpansion:
    """virtual(5): recursive one-to-many expansion with Postfix's self-reference and limit rules."""
    tables = settings.virtual_alias_maps
    if not tables:
        return VirtualExpansion((address,))
    propagate = "virtual" in settings.propagate_unmatched_extensions
    work = [address]
    kept: set[str] = set()
    index = 0
    while index < len(work):
        if len(work) > settings.virtual_alias_expansion_limit:
            return VirtualExpansion(tuple(work), f"unreasonable virtual_alias_maps map expansion size for {address}")
        error = _expand_slot(work, index, kept, tables, settings, propagate)
        if error:
            return VirtualExpansion(tuple(work), error)
        index += 1
    return VirtualExpansion(_unique(work), rewritten=_unique(work) != (address,))


def _expand_slot(
    work: list[str], index: int, kept: set[str], tables: Sequence[Lookup], settings: RewriteSettings, propagate: bool
) -> str | None:
    """Expand ``work[index]`` in place until it no longer changes; new addresses go to the end."""
    for count in range(settings.virtual_alias_recursion_limit + 1):
        current = work[index]
        if current.lower() in kept:
            return None
        if count >= settings.virtual_alias_recursion_limit:
            return f"unreasonable virtual_alias_maps map nesting for {work[index]}"
        found = mail_addr_find(tables, current, settings, propagate)
        if found is None:
            return None
        work[index] = found[0]
        work.extend(found[1:])
        if any(item.lower() == current.lower() for item in found):
            kept.add(current.lower())
    return None


def _unique(addresses: Sequence[str]) -> tuple[str, ...]:
    """cleanup's duplicate filter: each recipient once, first occurrence kept."""
    seen: set[str] = set()
    out: list[str] = []
    for address in addresses:
        if address not in seen:
            seen.add(address)
            out.append(address)
    return tuple(out)


def masquerade(address: str, settings: RewriteSettings) -> str:
    """masquerade_domains: ``user@host.sub.example.com`` → ``user@example.com`` (first listed parent)."""
    local, domain = split_address(address)
    if domain is None or not settings.masquerade_domains:
        return address
    if local.lower() in settings.masquerade_exceptions:
        return address
    name = domain.lower()
    for entry in settings.masquerade_domains:
        truncate = entry.count("!", 0, len(entry) - len(entry.lstrip("!"))) % 2 == 0
        parent = entry.lstrip("!")
        if not parent:
            continue
        if name == parent:
            return address
        if name.endswith("." + parent):
            return f"{local}@{parent}" if truncate else address
    return address


def masquerade_applies(cls: str, settings: RewriteSettings) -> bool:
    """Whether masquerading is on for an address class (envelope_sender, header_recipient, ...)."""
    return cls in settings.masquerade_classes
