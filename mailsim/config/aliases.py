"""aliases(5) files, read as ``postalias``/``newaliases`` read them.

Syntax: ``name: value, value, ...`` logical lines (comments and continuation lines as in main.cf, so
a long list continues on lines starting with whitespace). The line is scanned into RFC 822 tokens
(:mod:`mailsim.config.tok822`) and split at the first ``:`` token; the name is stored unquoted and
lower-cased (``"Quoted Name": x`` is found as ``quoted name``), the value re-printed in quoted form
(``"|/usr/bin/prog arg"``, ``/file``, ``:include:/path`` stay as postalias keeps them). A line
without ``name: value`` or with a non-local name (``@`` or ``%``) is skipped with postalias's
warning; of duplicate names the first wins, with a warning.

What this module does not do is expansion (recursion, loops, owner- aliases, :include: reading):
that is policy (``mailsim.policy.aliases``); :class:`AliasEntry` keeps each entry's file and line
and its destinations split (``targets``) to make that easy.

Reads no main.cf parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from mailsim.config import tok822
from mailsim.config.syntax import ConfigWarning, logical_lines


@dataclass(frozen=True, slots=True)
class AliasEntry:
    """One alias: its folded name, its right-hand side as postalias stores it, and where it was written."""

    name: str
    value: str
    file: str
    line: int
    targets: tuple[str, ...] = ()  # the comma-separated destinations, unquoted ("|cmd", "/file", ":include:/x", "user")


@dataclass(frozen=True, slots=True)
class AliasTable:
    """A parsed aliases file, usable as a lookup table (``postalias -q`` semantics)."""

    spec: str
    entries: Mapping[str, AliasEntry]
    warnings: tuple[ConfigWarning, ...] = ()
    pattern: bool = False

    def lookup(self, key: str) -> str | None:
        """The stored right-hand side for the local name ``key`` (case-insensitive), or None."""
        entry = self.entries.get(key.lower())
        return entry.value if entry else None

    def entry(self, key: str) -> AliasEntry | None:
        """The whole entry for ``key``, with its file, line and split targets."""
        return self.entries.get(key.lower())


def parse_aliases(text: str, *, file: str = "aliases", spec: str = "") -> AliasTable:
    """Parse an aliases file into a table; malformed lines become postalias's warnings."""
    entries: dict[str, AliasEntry] = {}
    warnings: list[ConfigWarning] = []
    for logical in logical_lines(text):
        entry, problem = _parse_entry(logical.text, file, logical.line)
        if entry is None:
            if problem:
                warnings.append(ConfigWarning(file, logical.line, problem))
            continue
        if entry.name in entries:
            warnings.append(ConfigWarning(file, logical.line, f'duplicate entry: "{entry.name}"'))
            continue
        entries[entry.name] = entry
    return AliasTable(spec or f"hash:{file}", MappingProxyType(entries), tuple(warnings))


def _parse_entry(text: str, file: str, line: int) -> tuple[AliasEntry | None, str]:
    """One logical line → (entry, "") or (None, warning text)."""
    tokens = tok822.scan(text)
    colon = next((i for i, token in enumerate(tokens) if token.type == ":"), None)
    if colon is None or colon == 0 or colon == len(tokens) - 1 or any(t.type == "," for t in tokens[:colon]):
        return None, "need name:value pair"
    name_tokens, value_tokens = tokens[:colon], tokens[colon + 1 :]
    if any(t.type == "@" or (t.type == "atom" and "%" in t.text) for t in name_tokens):
        return None, "name must be local"
    name = tok822.internalize(name_tokens).lower()
    targets = tuple(tok822.internalize(group) for group in tok822.split_commas(value_tokens))
    return AliasEntry(name, tok822.externalize(value_tokens), file, line, targets), ""
