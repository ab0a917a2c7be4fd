"""Lookup tables named ``type:name``, opened from a host's configuration folder.

Indexed types (``hash``, ``btree``, ``lmdb``, ``dbm``, ``sdbm``, ``cdb``) are read from the text
source ``name`` exactly as ``postmap`` would compile it — so a scenario ships the text, never a
.db file — and ``texthash`` is the same read at open time. Source syntax (postmap(1)): ``key
whitespace value`` logical lines; comments and continuation lines as in main.cf; the key ends at
the first whitespace (a colon is part of it, with postmap's "is this an alias file?" warning);
the value is trimmed; a line without a value is skipped with a warning; the first of duplicate
keys wins, with a warning; keys and queries are case-folded (postmap's default, no ``-f``).
With ``syntax="aliases"`` the same types read an aliases(5) file (:mod:`mailsim.config.aliases`).

In-line types: ``inline:{ key=value, { key = text with spaces } }`` (later keys replace earlier,
keys folded), ``static:value`` / ``static:{ text }``, ``fail:name`` (every lookup fails
temporarily: :class:`TableFailure`), ``unionmap:{t1, t2}`` (all results joined with commas),
``pipemap:{t1, t2}`` (each result is the next table's key). Pattern types ``regexp``, ``pcre``,
``cidr`` live in :mod:`mailsim.config.patterns`. ``proxy:`` is transparent; ``nis:`` is a table that
finds nothing (a host without NIS, as Debian's default ``alias_maps = hash:/etc/aliases,
nis:mail.aliases`` meets it); ``unix:passwd.byname`` answers from the ``passwd`` mapping given.
Any other type is a ConfigError ``unsupported dictionary type: TYPE`` (Postfix's words); ``dbm``,
``sdbm`` and ``cdb`` are accepted although Debian's Postfix lacks them. A name without a type uses
``default_database_type`` (hash).

File names (the rule for simulated hosts): a relative name is relative to the host's config folder;
``/etc/postfix/X`` is ``<config>/X``; any other absolute ``/A/B/X`` is ``<config>/A/B/X`` when that
exists, else ``<config>/X`` (so ``hash:/etc/aliases`` finds the folder's ``aliases``). A missing
file is a ConfigError naming the file.

Parameters read: default_database_type (through the caller).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from mailsim.config.aliases import parse_aliases
from mailsim.config.patterns import parse_pattern_table
from mailsim.config.syntax import ConfigWarning, logical_lines, split_list, split_nameval, strip_braces
from mailsim.core.errors import ConfigError, MailsimError

INDEXED_TYPES = frozenset({"hash", "btree", "lmdb", "dbm", "sdbm", "cdb", "texthash"})


class Table(Protocol):
    """What every table offers: its spec, whether it matches whole strings only, and lookup."""

    @property
    def spec(self) -> str: ...

    @property
    def pattern(self) -> bool: ...

    def lookup(self, key: str) -> str | None: ...


class TableFailure(MailsimError):
    """A lookup failed temporarily (``fail:``); Postfix then defers instead of deciding."""


@dataclass(frozen=True, slots=True)
class TableEntry:
    """One key and value of a table source, and where it was written."""

    key: str
    value: str
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class IndexedTable:
    """A key → value table (hash, texthash, inline, ...): exact, case-folded lookups."""

    spec: str
    entries: Mapping[str, TableEntry]
    warnings: tuple[ConfigWarning, ...] = ()
    pattern: bool = False

    def lookup(self, key: str) -> str | None:
        """The value stored under ``key`` (folded), or None."""
        entry = self.entries.get(key.lower())
        return entry.value if entry else None


@dataclass(frozen=True, slots=True)
class StaticTable:
    """``static:`` — the same answer for every key."""

    spec: str
    value: str
    pattern: bool = True

    def lookup(self, key: str) -> str | None:
        """Always the value."""
        return self.value


@dataclass(frozen=True, slots=True)
class FailTable:
    """``fail:`` — every lookup fails, for testing what a broken table does to the mail."""

    spec: str
    pattern: bool = True

    def lookup(self, key: str) -> str | None:
        """Raise TableFailure, with Postfix's wording."""
        raise TableFailure(f"table {self.spec}: query error")


@dataclass(frozen=True, slots=True)
class EmptyTable:
    """A table that finds nothing (``nis:`` on a host without NIS)."""

    spec: str
    pattern: bool = False

    def lookup(self, key: str) -> str | None:
        """Never found."""
        return None


@dataclass(frozen=True, slots=True)
class UnionTable:
    """``unionmap:{...}`` — every table's answer, joined with commas."""

    spec: str
    tables: tuple[Table, ...]
    pattern: bool = True

    def lookup(self, key: str) -> str | None:
        """All found values joined by "," (None when none is found)."""
        found = [value for value in (table.lookup(key) for table in self.tables) if value is not None]
        return ",".join(found) if found else None


@dataclass(frozen=True, slots=True)
class PipeTable:
    """``pipemap:{...}`` — each table's answer is the next one's key."""

    spec: str
    tables: tuple[Table, ...]
    pattern: bool = True

    def lookup(self, key: str) -> str | None:
        """The last table's answer, or None as soon as one table finds nothing."""
        value = key
        for table in self.tables:
            found = table.lookup(value)
            if found is None:
                return None
            value = found
        return value


def parse_postmap_source(text: str, *, file: str, spec: str) -> IndexedTable:
    """A postmap(1) source as the table ``postmap`` would build from it."""
    entries: dict[str, TableEntry] = {}
    warnings: list[ConfigWarning] = []
    for logical in logical_lines(text):
        parts = logical.text.strip().split(None, 1)
        if len(parts) < 2:
            warnings.append(
                ConfigWarning(file, logical.line, "expected format: key whitespace value -- ignoring this line")
            )
            continue
        key, value = parts[0].lower(), parts[1].strip()
        if key.endswith(":"):
            warnings.append(
                ConfigWarning(file, logical.line, 'record is in "key: value" format; is this an alias file?')
            )
        if key in entries:
            warnings.append(ConfigWarning(file, logical.line, f'duplicate entry: "{key}"'))
            continue
        entries[key] = TableEntry(key, value, file, logical.line)
    return IndexedTable(spec, MappingProxyType(entries), tuple(warnings))


def resolve_path(name: str, base_dir: str | Path) -> Path:
    """Where a table file named in main.cf lives in the host's config folder (see module doc)."""
    base = Path(base_dir)
    if not name.startswith("/"):
        return base / name
    if name.startswith("/etc/postfix/"):
        return base / name[len("/etc/postfix/") :]
    mirrored = base / name.lstrip("/")
    return mirrored if mirrored.exists() else base / Path(name).name


def _read(name: str, context: TableContext, spec: str) -> tuple[str, str]:
    """(text, path) of a table source; ConfigError naming the file when it is missing."""
    literal = Path(name)
    use_literal = context.literal_paths and not literal.is_absolute() and literal.is_file()
    path = literal if use_literal else resolve_path(name, context.base_dir)
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape"), str(path)
    except OSError as error:
        raise ConfigError(f"{spec}: cannot open table source: {error.strerror}", file=str(path)) from None


@dataclass(frozen=True, slots=True)
class TableContext:
    """What opening a table needs besides its spec."""

    base_dir: Path
    syntax: str = "postmap"  # or "aliases"
    passwd: Mapping[str, str] = field(default_factory=dict)
    default_type: str = "hash"
    literal_paths: bool = False  # admin tools: a relative path that exists from the current folder is read there


def open_table(
    spec: str,
    base_dir: str | Path,
    *,
    syntax: str = "postmap",
    passwd: Mapping[str, str] | None = None,
    default_type: str = "hash",
) -> Table:
    """Open ``type:name`` from the host folder ``base_dir``; ConfigError for bad specs or files."""
    return open_with(spec.strip(), TableContext(Path(base_dir), syntax, passwd or {}, default_type))


def open_with(spec: str, context: TableContext) -> Table:
    """Open ``spec`` with everything a table may need in ``context``; dispatches on the type."""
    kind, colon, name = spec.partition(":")
    if not colon:
        kind, name, spec = context.default_type, spec, f"{context.default_type}:{spec}"
    if kind == "proxy":
        return open_with(name, context)
    if not name:
        raise ConfigError(f'open dictionary: expecting "type:name" form instead of "{spec}"')
    if kind in INDEXED_TYPES:
        text, path = _read(name, context, spec)
        if context.syntax == "aliases":
            return parse_aliases(text, file=path, spec=spec)
        return parse_postmap_source(text, file=path, spec=spec)
    if kind in ("regexp", "pcre", "cidr"):
        if kind != "cidr" and name.startswith("{") and name.endswith("}"):  # Postfix 3.7's inline form
            rules = [strip_braces(token) for token in split_list(name[1:-1])]
            return parse_pattern_table(kind, "".join(rule + "\n" for rule in rules), file=spec, spec=spec)
        text, path = _read(name, context, spec)
        return parse_pattern_table(kind, text, file=path, spec=spec)
    return _open_special(kind, name, spec, context)


def _open_special(kind: str, name: str, spec: str, context: TableContext) -> Table:
    """The table types that have no file."""
    if kind == "inline":
        return _inline(name, spec)
    if kind == "static":
        try:
            return StaticTable(spec, strip_braces(name))
        except ValueError as error:
            raise ConfigError(f"bad static:name syntax: {error}") from None
    if kind == "fail":
        return FailTable(spec)
    if kind in ("unionmap", "pipemap"):
        inner = name[1:-1] if name.startswith("{") and name.endswith("}") else ""
        members = split_list(inner)
        if not members:
            raise ConfigError(f'bad syntax: "{spec}"; need "{kind}:{{type:name...}}"')
        tables = tuple(open_with(strip_braces(member), context) for member in members)
        return UnionTable(spec, tables) if kind == "unionmap" else PipeTable(spec, tables)
    if kind == "nis":
        return EmptyTable(spec)
    if kind == "unix" and name == "passwd.byname":
        entries = {user.lower(): TableEntry(user.lower(), line, "passwd", 0) for user, line in context.passwd.items()}
        return IndexedTable(spec, MappingProxyType(entries))
    raise ConfigError(f"unsupported dictionary type: {kind}")


def _inline(name: str, spec: str) -> IndexedTable:
    """``inline:{ key=value, { key = value with spaces } }``."""
    need = '; need "inline:{name=value...}"'
    if not (name.startswith("{") and name.endswith("}")) or not split_list(name[1:-1]):
        raise ConfigError(f'bad syntax: "{spec}"{need}')
    entries: dict[str, TableEntry] = {}
    for token in split_list(name[1:-1]):
        try:
            key, value = split_nameval(strip_braces(token))
        except ValueError as error:
            raise ConfigError(f'{str(error).split(":")[0]}: "{spec}"{need}') from None
        entries[key.lower()] = TableEntry(key.lower(), value, spec, 0)
    return IndexedTable(spec, MappingProxyType(entries))


def open_tables(value: str, base_dir: str | Path, **options: object) -> list[Table]:
    """Every table of a maps parameter's value (``hash:a, regexp:b``), in order."""
    return [open_table(spec, base_dir, **options) for spec in split_list(value)]  # type: ignore[arg-type]
