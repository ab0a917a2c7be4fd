"""Changing one scenario key or one Postfix parameter for a run: the spec transforms sweeps are made of.

Three kinds of key:

- a scenario key path, as errors print them: ``until``, ``workload[0].rate``, ``links[2].latency``,
  ``hosts[1].cpus``. It is set in the parsed TOML before validation, so the value is written
  exactly as in scenario.toml (``"20/s"``, ``"5ms"``) and checked by the same schema;
- ``hosts.HOST.main_cf.PARAMETER``: a main.cf parameter of the host named HOST (any Postfix
  parameter, ``default_process_limit`` or ``smtp_destination_concurrency_limit``);
- ``hosts.HOST.master_cf.SERVICE[/TYPE].maxproc``: the process limit column of a master.cf entry.

The number of MX hosts is a scenario key too: give ``dns.records`` whole (a list of inline tables) with
one, two or three MX records for the domain; hosts left out of the MX set simply receive no mail.

Host files are never touched: :func:`apply_overrides` copies the host's config folder into a work
folder, appends ``PARAMETER = VALUE`` to the copy's main.cf (Postfix's last setting wins, and the
original lines keep their numbers) or rewrites the master.cf column, and points the host at the copy.
A host without a folder gets one holding just the override (and Debian's master.cf).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mailsim.config.mastercf import DEFAULT_MASTER_CF
from mailsim.config.parameters import lookup_parameter
from mailsim.scenario.loader import load
from mailsim.scenario.schema import Field, ListOf, Table
from mailsim.scenario.spec import SCHEMA, ScenarioSpec

_INDEX = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_-]*)(?:\[(?P<index>\d+)\])?$")
_HOST_KEY = re.compile(r"^hosts\.(?P<host>.+?)\.(?P<file>main_cf|master_cf)\.(?P<rest>.+)$")
MASTER_FIELDS = ("maxproc",)
KEY_SYNTAX = (
    "a scenario key (until, workload[0].rate, links[1].latency), hosts.HOST.main_cf.PARAMETER "
    "or hosts.HOST.master_cf.SERVICE[/TYPE].maxproc"
)


class BadKey(ValueError):
    """A key that names nothing: carries what was expected (and the key, once known)."""

    def __init__(self, expected: str, key: str | None = None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.key = key


@dataclass(frozen=True, slots=True)
class ScenarioKey:
    """A key path into scenario.toml: ((name, index or None), ...)."""

    parts: tuple[tuple[str, int | None], ...]


@dataclass(frozen=True, slots=True)
class HostKey:
    """A main.cf parameter (``file == "main_cf"``) or a master.cf column of one host."""

    host: str
    file: str
    name: str
    service_type: str | None = None
    column: str | None = None


Key = ScenarioKey | HostKey


def parse_key(key: str) -> Key:
    """What a sweep key names; :class:`BadKey` when it names nothing the schema or Postfix knows."""
    match = _HOST_KEY.match(key)
    if match:
        return _host_key(match.group("host"), match.group("file"), match.group("rest"))
    parts: list[tuple[str, int | None]] = []
    table: Table | None = SCHEMA
    for token in key.split("."):
        found = _INDEX.match(token)
        if found is None or table is None or found.group("name") not in table.fields:
            raise BadKey(KEY_SYNTAX)
        field: Field = table.fields[found.group("name")]
        index = int(found.group("index")) if found.group("index") is not None else None
        if index is not None and not isinstance(field.convert, ListOf):
            raise BadKey(f"{found.group('name')} is not a list: {KEY_SYNTAX}")
        parts.append((found.group("name"), index))
        table = _inner(field, index)
    return ScenarioKey(tuple(parts))


def _inner(field: Field, index: int | None) -> Table | None:
    if isinstance(field.convert, Table):
        return field.convert
    if isinstance(field.convert, ListOf) and index is not None:
        return field.convert.item
    return None


def _host_key(host: str, file: str, rest: str) -> HostKey:
    if file == "main_cf":
        if lookup_parameter(rest) is None:
            raise BadKey("a Postfix main.cf parameter name (see `mailsim postconf -d`)")
        return HostKey(host, file, rest)
    service, _, column = rest.rpartition(".")
    if column not in MASTER_FIELDS or not service:
        raise BadKey("hosts.HOST.master_cf.SERVICE[/TYPE].maxproc")
    name, _, kind = service.partition("/")
    return HostKey(host, file, name, kind or None, column)


def set_scenario_key(data: dict[str, Any], key: ScenarioKey, value: Any) -> None:
    """Set ``value`` at ``key`` in parsed TOML; a list index past the end is a :class:`BadKey`."""
    node: Any = data
    for position, (name, index) in enumerate(key.parts):
        last = position == len(key.parts) - 1
        if index is None:
            if last:
                node[name] = value
                return
            node = node.setdefault(name, {})
            continue
        items = node.get(name)
        if not isinstance(items, list) or index >= len(items):
            have = len(items) if isinstance(items, list) else 0
            raise BadKey(f"an index below {have}: the scenario has {have} {name} entr{'y' if have == 1 else 'ies'}")
        if last:
            items[index] = value
            return
        node = items[index]


def load_with(scenario: str | Path, values: Mapping[str, Any], workdir: Path | None = None) -> ScenarioSpec:
    """The scenario with every key of ``values`` set (host files copied into ``workdir`` when needed)."""
    keys = {}
    for name in values:
        try:
            keys[name] = parse_key(name)
        except BadKey as exc:
            raise BadKey(exc.expected, name) from None

    def edit(data: dict[str, Any]) -> None:
        for name, key in keys.items():
            if isinstance(key, ScenarioKey):
                try:
                    set_scenario_key(data, key, values[name])
                except BadKey as exc:
                    raise BadKey(exc.expected, name) from None

    spec = load(scenario, edit=edit)
    host_keys = [(key, values[name]) for name, key in keys.items() if isinstance(key, HostKey)]
    if host_keys:
        if workdir is None:
            raise ValueError("host parameter overrides need a work folder")
        spec = apply_host_overrides(spec, host_keys, workdir)
    return spec


def apply_host_overrides(spec: ScenarioSpec, overrides: Sequence[tuple[HostKey, Any]], workdir: Path) -> ScenarioSpec:
    """Point each overridden host at a copy of its config folder with the changes made."""
    names = {h.name for h in spec.hosts}
    for key, _ in overrides:
        if key.host not in names:
            raise BadKey(f"a host of the scenario ({', '.join(sorted(names))})", f"hosts.{key.host}")
    hosts = []
    for host in spec.hosts:
        mine = [(k, v) for k, v in overrides if k.host == host.name]
        if not mine:
            hosts.append(host)
            continue
        folder = workdir / host.name
        if host.config is not None:
            shutil.copytree(host.config, folder)
        else:
            folder.mkdir(parents=True)
        for key, value in mine:
            (_set_main_cf if key.file == "main_cf" else _set_master_cf)(folder, key, value)
        hosts.append(replace(host, config=folder))
    return replace(spec, hosts=tuple(hosts))


def postfix_value(value: Any) -> str:
    """A TOML value written as main.cf writes it (yes/no, comma-separated lists)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(postfix_value(v) for v in value)
    return str(value)


def _set_main_cf(folder: Path, key: HostKey, value: Any) -> None:
    path = folder / "main.cf"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    path.write_text(f"{text}# mailsim sweep override\n{key.name} = {postfix_value(value)}\n", encoding="utf-8")


def _set_master_cf(folder: Path, key: HostKey, value: Any) -> None:
    path = folder / "master.cf"
    lines = (path.read_text(encoding="utf-8") if path.exists() else DEFAULT_MASTER_CF).split("\n")
    matches = [
        i for i, line in enumerate(lines)
        if line[:1] not in ("", "#", " ", "\t") and _entry(line, key.name, key.service_type)
    ]  # fmt: skip
    if len(matches) != 1:
        what = "no" if not matches else "more than one (add /TYPE)"
        service = key.name + ("/" + key.service_type if key.service_type else "")
        raise BadKey(f"exactly one master.cf entry {service}, found {what}", f"hosts.{key.host}.master_cf.{service}")
    parts = lines[matches[0]].split(None, 7)
    parts[6] = postfix_value(value)
    lines[matches[0]] = " ".join(parts)
    path.write_text("\n".join(lines), encoding="utf-8")


def _entry(line: str, service: str, kind: str | None) -> bool:
    fields = line.split()
    return len(fields) >= 8 and fields[0] == service and (kind is None or fields[1] == kind)
