"""master.cf: the services of a host, parsed as master(5) describes them.

Each logical line (same comment and continuation rules as main.cf) has eight fields: service, type
(inet, unix, unix-dgram, fifo, pass), private, unpriv, chroot (y/n/-), wakeup (seconds, ``?`` for
"only when used", ``-`` or 0 for never), maxproc (``-`` = ``$default_process_limit``, 0 = no limit),
and the command with its arguments. ``-o name=value`` and the 3.0 form ``-o { name = value }``
override main.cf for that service. Defaults for ``-``: private y, unpriv y, chroot n (Postfix
>= 3.0; this does not depend on compatibility_level), wakeup 0. An inet service cannot be private
(master(5)); ``-`` there means n and an explicit y is kept as written but ignored by ``is_private``.

An inet service name is ``port``, ``host:port`` or ``[v6addr]:port`` with a number or a name from
``known_tcp_ports`` (``smtp``, ``submission``, ...). :data:`DEFAULT_MASTER_CF` is Debian 12's stock
Postfix 3.7 master.cf, verbatim.

Parameters read: default_process_limit, known_tcp_ports (through the caller).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailsim.config.mastercf_default import DEFAULT_MASTER_CF
from mailsim.config.syntax import ConfigWarning, logical_lines, split_list, split_nameval, strip_braces
from mailsim.core.errors import ConfigError

if TYPE_CHECKING:  # maincf imports this module; a Service only calls a MainCf's methods
    from mailsim.config.maincf import MainCf

__all__ = ["DEFAULT_MASTER_CF", "MasterCf", "Service", "parse_master_cf"]

SERVICE_TYPES = ("inet", "unix", "unix-dgram", "fifo", "pass")
FIELDS = ("service", "type", "private", "unpriv", "chroot", "wakeup", "process_limit")
COLUMNS = (0, 11, 17, 25, 33, 41, 49, 57)  # where postconf -M starts each field
_COMMON_PORTS = {"smtp": 25, "submission": 587, "submissions": 465, "smtps": 465, "lmtp": 24, "pop3": 110, "imap": 143}


@dataclass(frozen=True, slots=True)
class Service:
    """One master.cf entry, with the fields as written (for printing) and as meant (for building)."""

    name: str
    type: str
    private: bool
    unpriv: bool
    chroot: bool
    wakeup: int  # seconds, 0 = never
    wakeup_if_used: bool  # the "?" suffix: wake only a service that has been used
    maxproc: int | None  # None = $default_process_limit, 0 = no limit
    command: str
    args: tuple[str, ...]
    overrides: tuple[tuple[str, str], ...]
    fields: tuple[str, ...]  # the seven fields before the command, verbatim
    argv: tuple[str, ...] = ()  # everything after the command, -o pairs normalised as postconf prints them
    file: str = "master.cf"
    line: int = 0

    @property
    def is_private(self) -> bool:
        """Reachable only by Postfix itself; never true for an Internet service."""
        return self.private and self.type != "inet"

    def process_limit(self, main: MainCf) -> int:
        """maxproc with ``-`` resolved through main.cf (0 = no limit)."""
        return self.maxproc if self.maxproc is not None else main.int("default_process_limit")

    def listen(self, known_tcp_ports: str = "") -> tuple[str | None, int]:
        """(host or None for all interfaces, port) of an inet service; ConfigError for other types."""
        if self.type != "inet":
            raise ConfigError(
                "", file=self.file, line=self.line, key=self.name, expected="an inet service", found=self.type
            )
        host, _, port = self.name.rpartition(":")
        port_number = resolve_port(port, known_tcp_ports)
        if port_number is None:
            raise ConfigError(
                "", file=self.file, line=self.line, key=self.name, expected="a port number or name", found=port
            )
        return (host.strip("[]") or None), port_number

    def main_cf(self, main: MainCf) -> MainCf:
        """The main.cf this service runs with: ``main`` plus its ``-o`` overrides."""
        if not self.overrides:
            return main
        return main.with_overrides(dict(self.overrides), file=self.file, line=self.line)

    def format(self) -> str:
        """The entry as ``postconf -M`` prints it (aligned columns, one line)."""
        text = ""
        for column, value in zip(COLUMNS, (*self.fields, " ".join((self.command, *self.argv)))):
            text += " " * max(column - len(text), 1 if text else 0) + value
        return text


def resolve_port(port: str, known_tcp_ports: str = "") -> int | None:
    """A port number from a number or a name in ``known_tcp_ports`` (``smtp=25, smtps=submissions=465``)."""
    if port.isdigit():
        return int(port)
    for token in split_list(known_tcp_ports, ","):
        *names, number = [part.strip() for part in token.split("=")]
        if port in names and number.isdigit():
            return int(number)
    return _COMMON_PORTS.get(port)


@dataclass(frozen=True, slots=True)
class MasterCf:
    """A parsed master.cf: its services in file order and Postfix's warnings."""

    entries: tuple[Service, ...]
    file: str = "master.cf"
    warnings: tuple[ConfigWarning, ...] = ()

    def services(self) -> tuple[Service, ...]:
        """Every service, in file order."""
        return self.entries

    def service(self, name: str, type: str | None = None) -> Service | None:
        """The service called ``name`` (of ``type`` when given); None when master.cf has none."""
        for entry in self.entries:
            if entry.name == name and (type is None or entry.type == type):
                return entry
        return None

    def programs(self) -> list[tuple[str, str]]:
        """(service, command) pairs, for service-defined main.cf parameters."""
        return [(entry.name, entry.command) for entry in self.entries]


def parse_master_cf(text: str, *, file: str = "master.cf") -> MasterCf:
    """Parse master.cf text into services; a malformed entry is a ConfigError naming file and line."""
    entries: list[Service] = []
    warnings: list[ConfigWarning] = []
    seen: set[tuple[str, str]] = set()
    for logical in logical_lines(text):
        if logical.continued:
            warnings.append(ConfigWarning(file, None, f'logical line must not start with whitespace: "{logical.text}"'))
            continue
        service = _parse_entry(logical.text, file, logical.line)
        if (service.name, service.type) in seen:
            warnings.append(ConfigWarning(file, logical.line, f"duplicate service: {service.name}/{service.type}"))
        seen.add((service.name, service.type))
        entries.append(service)
    return MasterCf(tuple(entries), file, tuple(warnings))


def _parse_entry(text: str, file: str, line: int) -> Service:
    """One logical line → Service."""
    words = split_list(text, " \t\r\n")
    if len(words) < 8:
        raise ConfigError(
            "bad field count", file=file, line=line, expected="8 fields: " + " ".join(FIELDS) + " command", found=text
        )
    name, kind, private, unpriv, chroot, wakeup, maxproc = words[:7]

    def bad(field: str, value: str) -> ConfigError:
        return ConfigError(f'invalid {field} field "{value}" in "{text}"', file=file, line=line)

    if kind not in SERVICE_TYPES:
        raise bad("type", kind)
    flags = [
        _flag(value, default, lambda v, f=field: bad(f, v))
        for field, value, default in (
            ("private", private, kind != "inet"),
            ("unpriv", unpriv, True),
            ("chroot", chroot, False),
        )
    ]
    match = re.fullmatch(r"([0-9]+)(\??)|-", wakeup)
    if not match:
        raise bad("wakeup", wakeup)
    if not re.fullmatch(r"[0-9]+|-", maxproc):
        raise bad("process_limit", maxproc)
    args, overrides, argv = _arguments(words[8:], file, line)
    return Service(
        name=name,
        type=kind,
        private=flags[0],
        unpriv=flags[1],
        chroot=flags[2],
        wakeup=int(match.group(1) or 0),
        wakeup_if_used=bool(match.group(2)),
        maxproc=None if maxproc == "-" else int(maxproc),
        command=words[7],
        args=tuple(args),
        overrides=tuple(overrides),
        fields=tuple(words[:7]),
        argv=tuple(argv),
        file=file,
        line=line,
    )


def _flag(value: str, default: bool, bad) -> bool:  # type: ignore[no-untyped-def]
    """y/n/- → bool."""
    if value == "-":
        return default
    if value not in ("y", "n"):
        raise bad(value)
    return value == "y"


def _arguments(words: list[str], file: str, line: int) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """Command arguments, with the leading ``-o name=value`` / ``-o { name = value }`` options pulled out."""
    args: list[str] = []
    overrides: list[tuple[str, str]] = []
    argv: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-") or word == "--":
            args.extend(words[index - 1 :])  # getopt stops at the first non-option: the rest is verbatim
            argv.extend(words[index - 1 :])
            break
        if word != "-o":
            args.append(word)
            argv.append(word)
            continue
        if index >= len(words):
            raise ConfigError("-o needs an argument", file=file, line=line, expected="-o name=value", found="-o")
        try:
            name, value = split_nameval(strip_braces(words[index]))
        except ValueError as error:
            raise ConfigError(str(error), file=file, line=line, key="-o") from None
        overrides.append((name, value))
        argv.extend(("-o", f"{{{name}={value}}}" if any(c.isspace() for c in value) else f"{name}={value}"))
        index += 1
    return args, overrides, argv
