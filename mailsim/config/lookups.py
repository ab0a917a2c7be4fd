"""Postfix's lookup orders: which keys an address, domain or client is looked up under, and in what order.

- ``access`` (access(5), smtpd check_*_access): ``user+ext@domain``, ``user@domain``, ``domain``
  then its parents (``example.com`` with parent-style matching, i.e. when ``smtpd_access_maps`` is in
  ``parent_domain_matches_subdomains`` — the default — else ``.example.com``), then ``user+ext@``,
  ``user@``. The null sender is looked up as ``smtpd_null_access_lookup_key`` (``<>``).
- ``canonical``, ``virtual``, ``generic``, ``relocated`` (canonical(5), virtual(5)):
  ``user+ext@domain``, ``user@domain``, then ``user+ext``, ``user`` only when the domain is local
  ($myorigin, $mydestination, $inet_interfaces, $proxy_interfaces — the caller says which), then
  ``@domain``. A result ``@otherdomain`` becomes the original localpart at otherdomain (first
  address only); when the key matched without the extension and ``propagate`` is on (the kind is in
  ``propagate_unmatched_extensions``), the extension is added to every result address.
- ``aliases`` (local(8)): ``user+ext`` then ``user``.
- ``transport`` (transport(5)): ``user+ext@domain``, ``user@domain``, domain hierarchy, ``*``.

With several tables the key order is the outer loop and the tables the inner one, as in Postfix's
``maps_find``. Pattern tables (regexp, pcre, cidr, static, ...) only see the whole string.
A table may raise :class:`~mailsim.config.tables.TableFailure`; callers turn that into a deferral.

Parameters read (passed in by the caller): recipient_delimiter, parent_domain_matches_subdomains,
smtpd_null_access_lookup_key, propagate_unmatched_extensions, owner_request_special.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from mailsim.config.tables import Table

ADDRESS_KINDS = ("access", "canonical", "virtual", "generic", "relocated", "aliases", "transport")


@dataclass(frozen=True, slots=True)
class Match:
    """A successful lookup: which key of which table matched, its value, and the rewritten result."""

    key: str
    value: str
    table: str
    result: tuple[str, ...]  # the value split into addresses, with @domain and extension rules applied


@dataclass(frozen=True, slots=True)
class _Address:
    """An address cut into the pieces the lookup orders need."""

    user: str  # localpart without extension
    extension: str  # with its delimiter character, e.g. "+foo"; "" when none
    domain: str  # "" when the address has none

    @property
    def localpart(self) -> str:
        return self.user + self.extension


def split_address(address: str, delimiter: str = "", owner_request_special: bool = True) -> _Address:
    """``user+ext@domain`` → pieces; any character of ``delimiter`` separates an extension."""
    localpart, at, domain = address.rpartition("@") if "@" in address else (address, "", "")
    del at
    position = next((i for i, char in enumerate(localpart) if char in delimiter), -1) if delimiter else -1
    special = (
        owner_request_special
        and localpart[position : position + 1] == "-"
        and (localpart.lower().startswith("owner-") or localpart.lower().endswith("-request"))
    )
    if position <= 0 or special:
        return _Address(localpart, "", domain)
    return _Address(localpart[:position], localpart[position:], domain)


def domain_keys(domain: str, parent_matches: bool) -> list[str]:
    """``a.example.com`` → [a.example.com, example.com, com] (parent style) or [..., .example.com, .com]."""
    keys = [domain]
    rest = domain
    while "." in rest:
        rest = rest.split(".", 1)[1]
        if rest:
            keys.append(rest if parent_matches else "." + rest)
    return keys


def address_keys(
    address: str,
    *,
    kind: str = "access",
    delimiter: str = "",
    is_local: Callable[[str], bool] | None = None,
    parent_matches: bool = True,
    null_key: str = "<>",
) -> list[tuple[str, bool]]:
    """(key, with_extension) pairs in Postfix's order for ``kind``; the first key is the whole address."""
    if kind not in ADDRESS_KINDS:
        raise ValueError(f"unknown lookup kind {kind!r}; use one of {', '.join(ADDRESS_KINDS)}")
    if address == "" and kind == "access":
        return [(null_key, True)]
    parts = split_address(address, delimiter)
    suffix = f"@{parts.domain}" if parts.domain else ""
    full = [(parts.localpart + suffix, True)] + ([(parts.user + suffix, False)] if parts.extension else [])
    locals_ = [(parts.localpart, True)] + ([(parts.user, False)] if parts.extension else [])
    if kind == "aliases":
        return locals_
    if kind == "access":
        domains = [(key, True) for key in domain_keys(parts.domain, parent_matches)] if parts.domain else []
        users = [(parts.localpart + "@", True)] + ([(parts.user + "@", False)] if parts.extension else [])
        return full + domains + (users if parts.domain else [])
    if kind == "transport":
        domains = [(key, True) for key in domain_keys(parts.domain, parent_matches)] if parts.domain else []
        return full + domains + [("*", True)]
    local = not parts.domain or (is_local is not None and is_local(parts.domain))
    return full + (locals_ if local and parts.domain else []) + ([(f"@{parts.domain}", True)] if parts.domain else [])


def lookup_keys(tables: Sequence[Table], keys: list[tuple[str, bool]]) -> tuple[str, bool, str, str] | None:
    """(key, with_extension, value, table spec) of the first hit; pattern tables see only the first key."""
    for index, (key, with_extension) in enumerate(keys):
        for table in tables:
            if table.pattern and index > 0:
                continue
            value = table.lookup(key)
            if value is not None:
                return key, with_extension, value, table.spec
    return None


def lookup_address(
    tables: Sequence[Table],
    address: str,
    *,
    kind: str = "access",
    delimiter: str = "",
    local_domains: Collection[str] | Callable[[str], bool] | None = None,
    parent_matches: bool = True,
    null_key: str = "<>",
    propagate: bool = False,
) -> Match | None:
    """Look ``address`` up in ``tables`` in the order Postfix uses for ``kind``; None when nothing matches."""
    is_local = _local_test(local_domains)
    keys = address_keys(
        address, kind=kind, delimiter=delimiter, is_local=is_local, parent_matches=parent_matches, null_key=null_key
    )
    hit = lookup_keys(tables, keys)
    if hit is None:
        return None
    key, with_extension, value, spec = hit
    if kind not in ("canonical", "virtual", "generic"):
        return Match(key, value, spec, (value,))
    parts = split_address(address, delimiter)
    return Match(key, value, spec, _rewrite(value, parts, propagate and not with_extension))


def _local_test(local_domains: Collection[str] | Callable[[str], bool] | None) -> Callable[[str], bool]:
    """A predicate for "this domain is local" from a collection, a callable, or nothing."""
    if local_domains is None:
        return lambda domain: False
    if callable(local_domains):
        return local_domains
    folded = {domain.lower() for domain in local_domains}
    return lambda domain: domain.lower() in folded


def _rewrite(value: str, parts: _Address, add_extension: bool) -> tuple[str, ...]:
    """Apply the @otherdomain rule and, when asked, carry the unmatched extension into the results."""
    results = [item.strip() for item in value.split(",") if item.strip()]
    if results and results[0].startswith("@"):
        results[0] = parts.localpart + results[0]
        return tuple(results)
    if add_extension and parts.extension:
        results = [_with_extension(item, parts.extension) for item in results]
    return tuple(results)


def _with_extension(address: str, extension: str) -> str:
    """``user@domain`` + ``+ext`` → ``user+ext@domain``."""
    user, at, domain = address.rpartition("@")
    return f"{user}{extension}@{domain}" if at else address + extension


def lookup_domain(tables: Sequence[Table], domain: str, *, parent_matches: bool = True) -> Match | None:
    """A domain and its parents (``example.com`` or ``.example.com`` style), first hit wins."""
    keys = [(key, True) for key in domain_keys(domain.lower().rstrip("."), parent_matches)]
    hit = lookup_keys(tables, keys)
    return Match(hit[0], hit[2], hit[3], (hit[2],)) if hit else None


def client_keys(hostname: str, ip: str, *, parent_matches: bool = True) -> list[tuple[str, bool]]:
    """check_client_access order: hostname and its parents, then the address and its shorter prefixes."""
    keys: list[tuple[str, bool]] = []
    if hostname and hostname != "unknown":
        keys += [(key, True) for key in domain_keys(hostname.lower().rstrip("."), parent_matches)]
    keys += [(key, True) for key in address_prefixes(ip)]
    return keys


def address_prefixes(ip: str) -> list[str]:
    """``1.2.3.4`` → [1.2.3.4, 1.2.3, 1.2, 1]; IPv6 likewise by ``:`` groups of the compressed form."""
    try:
        address = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return [ip] if ip else []
    text = str(address)
    separator = "." if address.version == 4 else ":"
    parts = text.split(separator)
    prefixes = [separator.join(parts[:size]) for size in range(len(parts), 0, -1)]
    return [prefix for prefix in prefixes if prefix and not prefix.endswith(separator)]


def lookup_client(tables: Sequence[Table], hostname: str, ip: str, *, parent_matches: bool = True) -> Match | None:
    """Look a client up by name (with parents) and then by address (with prefixes); pattern tables
    see the hostname and the address, each whole."""
    names = client_keys(hostname, "", parent_matches=parent_matches)
    hit = lookup_keys(tables, names) if names else None
    if hit is None:
        hit = lookup_keys(tables, [(key, True) for key in address_prefixes(ip)])
    return Match(hit[0], hit[2], hit[3], (hit[2],)) if hit else None
