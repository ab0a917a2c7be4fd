"""The configuration files of the programs that run beside Postfix, and the sockets that join them.

A host folder may hold, next to ``main.cf``, the configuration of milter daemons in the form their
Debian packages install: ``opendkim.conf``, ``openarc.conf``, ``opendmarc.conf``,
``clamav-milter.conf``, ... Each is a list of ``Name value`` lines (opendkim.conf(5)): names are
case-insensitive, ``#`` starts a comment at the start of a line or after white space, a name may
repeat (the last one wins for single values; :meth:`DaemonConf.all` returns every one).

A daemon is found by Postfix through its socket: ``smtpd_milters = inet:localhost:8891`` reaches
the daemon whose ``Socket`` is ``inet:8891@localhost`` (libmilter's form), and
``unix:opendkim/opendkim.sock`` (relative to the queue directory of a chrooted smtpd) reaches
``local:/var/spool/postfix/opendkim/opendkim.sock``. :func:`endpoint` reduces both notations to
one comparable value.

Postfix parameters read: none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mailsim.core.errors import ConfigError
from mailsim.core.units import parse_duration

TRUE = frozenset({"yes", "true", "1", "on"})
FALSE = frozenset({"no", "false", "0", "off"})
LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1", "[::1]", "[127.0.0.1]", "0.0.0.0", "*"})
_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass(frozen=True, slots=True)
class Setting:
    """One ``Name value`` line and where it was written."""

    name: str
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class DaemonConf:
    """A parsed daemon configuration file; lookups are case-insensitive."""

    file: str
    settings: tuple[Setting, ...]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The last value given for ``name``."""
        found = [s for s in self.settings if s.name.lower() == name.lower()]
        return found[-1].value if found else default

    def all(self, name: str) -> list[str]:
        """Every value given for ``name``, in file order."""
        return [s.value for s in self.settings if s.name.lower() == name.lower()]

    def list(self, name: str, default: str = "") -> list[str]:
        """A comma- or space-separated value as a list (opendkim's "data set" of strings)."""
        return [item for item in re.split(r"[,\s]+", self.get(name, default) or "") if item]

    def line(self, name: str) -> int | None:
        found = [s for s in self.settings if s.name.lower() == name.lower()]
        return found[-1].line if found else None

    def flag(self, name: str, default: bool) -> bool:
        """A boolean option (yes/no, true/false, 1/0, on/off)."""
        value = self.get(name)
        if value is None:
            return default
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
        raise self.error(name, "yes or no", value)

    def number(self, name: str, default: float) -> float:
        value = self.get(name)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise self.error(name, "a number", value) from None

    def duration(self, name: str, default: float) -> float:
        """A time such as ``50ms`` or ``0.2s`` (a bare number is seconds)."""
        value = self.get(name)
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError:
            raise self.error(name, "a duration like 50ms or 1s", value) from None

    def choice(self, name: str, default: str, allowed: Iterable[str]) -> str:
        """One of ``allowed`` (compared case-insensitively, returned as written in ``allowed``)."""
        options = list(allowed)
        value = self.get(name)
        if value is None:
            return default
        for option in options:
            if option.lower() == value.lower():
                return option
        raise self.error(name, " or ".join(options), value)

    def check(self, known: Iterable[str]) -> None:
        """Refuse unknown names, as the daemons refuse to start with them."""
        names = {n.lower() for n in known}
        for setting in self.settings:
            if setting.name.lower() not in names:
                raise ConfigError(
                    "unknown option", file=self.file, line=setting.line, key=setting.name,
                    expected="one of " + ", ".join(sorted(known)), found=setting.name,
                )  # fmt: skip

    def error(self, name: str, expected: str, found: object) -> ConfigError:
        return ConfigError(file=self.file, line=self.line(name), key=name, expected=expected, found=found)


def parse_daemon_conf(text: str, *, file: str) -> DaemonConf:
    """``Name value`` lines into a :class:`DaemonConf`; a line without a value is a ConfigError."""
    settings = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        name, _, value = line.partition(" ") if " " in line else line.partition("\t")
        value = value.strip()
        if not value:
            raise ConfigError(file=file, line=number, key=name, expected="a value after the name", found="nothing")
        settings.append(Setting(name, value, number))
    return DaemonConf(file, tuple(settings))


def read_daemon_conf(path: Path) -> DaemonConf:
    return parse_daemon_conf(path.read_text(encoding="utf-8"), file=str(path))


def endpoint(spec: str, own_names: Iterable[str] = ()) -> tuple[str, str] | None:
    """``("inet", port)`` or ``("unix", path)`` for a Postfix or libmilter socket; None for another host.

    Postfix writes ``inet:host:port`` and ``unix:path``; libmilter ``inet:port@host``, ``inet6:port@host``,
    ``local:path``, ``unix:path`` or a bare path. A host that is not this one is unreachable here.
    """
    kind, colon, rest = spec.strip().partition(":")
    if not colon:
        return ("unix", spec.strip()) if spec.strip().startswith("/") else None
    kind = kind.lower()
    if kind in ("unix", "local"):
        return ("unix", rest.strip())
    if kind not in ("inet", "inet6"):
        return None
    if "@" in rest:
        port, _, host = rest.partition("@")
    else:
        host, _, port = rest.rpartition(":")
    local = LOCAL_HOSTS | {n.lower() for n in own_names} | {f"[{n.lower()}]" for n in own_names}
    if host.strip().lower() not in local:
        return None
    return ("inet", port.strip())


def same_endpoint(a: tuple[str, str] | None, b: tuple[str, str] | None) -> bool:
    """Equal ports; or unix paths where one ends with the other (a chrooted smtpd's relative path)."""
    if a is None or b is None or a[0] != b[0]:
        return False
    if a[0] == "inet":
        return a[1] == b[1]
    left, right = Path(a[1].lstrip("/")).parts, Path(b[1].lstrip("/")).parts
    shorter, longer = sorted((left, right), key=len)
    return bool(shorter) and longer[-len(shorter) :] == shorter
