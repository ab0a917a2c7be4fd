"""What policy needs from lookup tables and domain lists, and Postfix's lookup orders over them.

policy/ never opens a table itself: the caller passes objects with ``lookup(key) -> str | None`` (the
config package's tables) or a callable that opens a ``type:name`` spec. A table that matches patterns
(regexp, pcre, cidr) says so with a true ``pattern`` attribute: Postfix queries such tables only with
the complete key, never with the partial keys (``user@``, parent domains, address extensions) it tries
on fixed-string tables (DICT_FLAG_FIXED vs DICT_FLAG_PATTERN). Fixed-string keys are lowercased before
the query, as postmap lowercases them when it builds the table (DICT_FLAG_FOLD_FIX).

Domain lists (mydestination, relay_domains, virtual_*_domains, masquerade_domains, mynetworks names)
follow match_list(3): names, ``!`` exclusions, ``type:table`` entries and ``/file`` entries (read through
a callable); ``.example.com`` matches subdomains, and a plain name also matches subdomains when the
list's parameter is in parent_domain_matches_subdomains.

Parameters read: parent_domain_matches_subdomains (through the callers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mailsim.core.errors import ConfigError


@runtime_checkable
class Lookup(Protocol):
    """A lookup table: the value for a key, or None (config's tables satisfy this)."""

    def lookup(self, key: str) -> str | None: ...


TableOpener = Callable[[str], Lookup]
FileReader = Callable[[str], str]


def is_pattern(table: Lookup) -> bool:
    """Whether a table matches patterns (regexp/pcre/cidr) and so only sees complete keys."""
    return bool(getattr(table, "pattern", False))


def table_get(table: Lookup, key: str, partial: bool = False) -> str | None:
    """One query the way Postfix's dict layer makes it: folded for fixed tables, skipped when partial."""
    if is_pattern(table):
        return None if partial else table.lookup(key)
    return table.lookup(key.lower())


def maps_find(tables: Sequence[Lookup], key: str, partial: bool = False) -> str | None:
    """maps_find(3): the first table (in list order) that has the key wins."""
    for table in tables:
        value = table_get(table, key, partial)
        if value is not None:
            return value
    return None


def opener_from(tables: Mapping[str, Lookup] | TableOpener | None) -> TableOpener:
    """A uniform ``type:name -> Lookup`` opener: from a mapping (a missing spec is a ConfigError), a
    callable, or nothing (every table empty: handy for notebooks, tables being config's business)."""
    if tables is None:
        return _no_tables
    if callable(tables) and not isinstance(tables, Mapping):
        return tables

    def open_from_mapping(spec: str) -> Lookup:
        try:
            return tables[spec]  # type: ignore[index]
        except KeyError:
            raise ConfigError("lookup table not provided", key=spec) from None

    return open_from_mapping


class EmptyTable:
    """What a ``type:name`` is when the caller gave policy no tables at all: nothing matches."""

    pattern = False

    def lookup(self, key: str) -> str | None:
        return None


def _no_tables(spec: str) -> Lookup:
    return EmptyTable()


def open_all(specs: Iterable[str], opener: TableOpener) -> tuple[Lookup, ...]:
    """Open every ``type:name`` of a parameter value (alias_maps, transport_maps, ...)."""
    return tuple(opener(spec) for spec in specs if spec)


def split_delim(local: str, delimiters: str) -> tuple[str, str | None, str]:
    """Split ``user+ext`` at the first delimiter character: (user, ext or None, the delimiter used)."""
    if not delimiters:
        return local, None, ""
    for index, char in enumerate(local):
        if char in delimiters and index > 0:
            return local[:index], local[index + 1 :], char
    return local, None, ""


def strip_extension(address: str, delimiters: str) -> str | None:
    """strip_addr(3): ``user+ext@domain`` → ``user@domain``; None when there is no extension."""
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    user, ext, _ = split_delim(local, delimiters)
    if ext is None:
        return None
    return f"{user}@{domain}" if at else user


@dataclass(frozen=True, slots=True)
class DomainList:
    """A match_list(3) of domain patterns: names, ``.subdomain`` forms, ``!`` exclusions, tables."""

    patterns: tuple[str, ...] = ()
    tables: Mapping[str, Lookup] | None = None
    parent_matches: bool = False

    @classmethod
    def parse(
        cls,
        items: Iterable[str],
        opener: TableOpener,
        parent_matches: bool,
        read_file: FileReader | None = None,
        key: str = "",
    ) -> DomainList:
        """Expand ``/file`` entries and open ``type:table`` entries of a parameter's value."""
        patterns: list[str] = []
        tables: dict[str, Lookup] = {}
        for item in items:
            bare = item.lstrip("!")
            if bare.startswith("/"):
                if read_file is None:
                    raise ConfigError("a /file entry needs file contents", key=key, found=item)
                patterns.extend(read_file(bare).split())
            elif ":" in bare and not bare.startswith("["):
                tables[bare] = opener(bare)
                patterns.append(item)
            else:
                patterns.append(item.lower())
        return cls(tuple(patterns), tables, parent_matches)

    def match(self, domain: str) -> bool:
        """First matching pattern decides; a ``!pattern`` match means no."""
        name = domain.lower().rstrip(".") if domain != "." else domain
        for pattern in self.patterns:
            negate = pattern.startswith("!")
            bare = pattern.lstrip("!")
            if self._matches(bare, name):
                return not negate
        return False

    def _matches(self, pattern: str, name: str) -> bool:
        if self.tables and pattern in self.tables:
            return self._table_match(self.tables[pattern], name)
        if pattern.startswith("."):
            return name.endswith(pattern)
        if name == pattern:
            return True
        return self.parent_matches and name.endswith("." + pattern)

    def _table_match(self, table: Lookup, name: str) -> bool:
        if table_get(table, name) is not None:
            return True
        if is_pattern(table):
            return False
        for parent in parent_domains(name, self.parent_matches):
            if table_get(table, parent, partial=True) is not None:
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self.patterns)


def parent_domains(domain: str, parent_style: bool) -> list[str]:
    """The partial keys after the full name: ``example.com``, ``com`` or ``.example.com``, ``.com``."""
    found: list[str] = []
    rest = domain
    while True:
        dot = rest.find(".", 1)
        if dot < 0:
            return found
        rest = rest[dot:]
        found.append(rest[1:] if parent_style else rest)
        rest = rest[1:] if parent_style else rest
