"""The admin commands behind ``mailsim postconf``, ``mailsim postmap -q`` and ``mailsim postalias -q``.

Each ``run_*`` takes Postfix's own argv and returns ``(exit_code, stdout, stderr)`` with the text
Postfix prints, so scripts written for Postfix keep working: ``postconf [-c DIR] [-n|-d] [-h] [-x]
[NAME...]``, ``postmap [-c DIR] -q KEY TYPE:NAME``, ``postalias [-c DIR] -q KEY TYPE:NAME``.
postconf prints ``name = value`` (whitespace collapsed, ``name =`` when empty), values only with
``-h``, expanded with ``-x``, built-in defaults with ``-d``, explicit settings (minus unused
user-defined ones) with ``-n``; ``-c DIR`` counts as setting ``config_directory = DIR``. An unknown
name is a warning, not an error. postmap/postalias exit 0 with the value when the key is found and
1 when it is not; a fatal error prints ``postmap: fatal: ...`` and exits 1. A relative table file
name that exists from the current folder is read from there, as Postfix would; any other name
follows the host rule of :func:`mailsim.config.tables.resolve_path` relative to ``-c DIR``, so
``hash:/etc/aliases`` means the folder's ``aliases``, never the real machine's.

Parameters read: all (postconf), default_database_type.
"""

from __future__ import annotations

import getopt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailsim.config.hostfacts import HostFacts
from mailsim.config.loader import HostConfig, load_config
from mailsim.config.maincf import MainCf
from mailsim.config.mastercf import DEFAULT_MASTER_CF, parse_master_cf
from mailsim.config.syntax import collapse_whitespace
from mailsim.config.tables import TableContext, TableFailure, open_with
from mailsim.config.usage import known_names
from mailsim.core.errors import ConfigError, MailsimError


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a Postfix command would have done: its exit code and its two output streams."""

    exit_code: int
    stdout: str
    stderr: str

    def as_tuple(self) -> tuple[int, str, str]:
        """(exit_code, stdout, stderr)."""
        return self.exit_code, self.stdout, self.stderr


def _line(name: str, value: str, hide_name: bool) -> str:
    """One postconf output line."""
    value = collapse_whitespace(value)
    if hide_name:
        return value + "\n"
    return f"{name} = {value}\n" if value else f"{name} =\n"


def postconf(
    config: HostConfig | MainCf | str | Path,
    names: Sequence[str] = (),
    *,
    nondefault: bool = False,
    defaults: bool = False,
    hide_name: bool = False,
    expand: bool = False,
) -> ToolResult:
    """postconf over a host folder, a loaded configuration or a bare MainCf: flags n, d, h, x as in postconf(1)."""
    if isinstance(config, MainCf):
        config = HostConfig(config, parse_master_cf(DEFAULT_MASTER_CF))
    elif not isinstance(config, HostConfig):
        config = load_config(config)
    stderr = [warning.render("postconf") + "\n" for warning in config.warnings]
    main = MainCf(host=config.main.host) if defaults else config.main
    available = _available(config, defaults)
    if nondefault and not names:
        names = [name for name in config.main.explicit() if name in available]
    elif not names:
        names = sorted(available)
    out: list[str] = []
    for name in names:
        if name not in available:
            stderr.append(f"postconf: warning: {name}: unknown parameter\n")
            continue
        try:
            value = main.get(name) if expand else main.raw(name)
        except (ValueError, KeyError) as error:
            return ToolResult(1, "".join(out), "".join(stderr) + f"postconf: fatal: {error}\n")
        out.append(_line(name, value, hide_name))
    return ToolResult(0, "".join(out), "".join(stderr))


def _available(config: HostConfig, defaults: bool) -> set[str]:
    """The names postconf can print: built-in, service-defined, and (not with -d) used user-defined ones."""
    return known_names(config.master.services()) if defaults else config.parameter_names()


def run_postconf(argv: Sequence[str], *, host: HostFacts | None = None) -> tuple[int, str, str]:
    """``postconf`` with Postfix's options; ``-c DIR`` names the config folder (default: current folder)."""
    try:
        options, names = getopt.getopt(list(argv), "c:dhnx")
    except getopt.GetoptError as error:
        return 1, "", f"postconf: fatal: {error}\nusage: postconf [-c config_dir] [-dhnx] [parameter ...]\n"
    flags = {flag for flag, _ in options}
    folder = next((value for flag, value in options if flag == "-c"), None)
    try:
        config = load_config(folder or ".", host, config_directory=folder)
    except MailsimError as error:
        return 1, "", f"postconf: fatal: {error}\n"
    result = postconf(
        config, names, nondefault="-n" in flags, defaults="-d" in flags, hide_name="-h" in flags, expand="-x" in flags
    )
    return result.as_tuple()


def table_query(
    key: str,
    spec: str,
    base_dir: str | Path,
    *,
    program: str = "postmap",
    syntax: str = "postmap",
    literal_paths: bool = False,
) -> ToolResult:
    """``postmap -q``/``postalias -q``: value and exit 0 when found, exit 1 when not or on a fatal error."""
    context = TableContext(Path(base_dir), syntax, {}, "hash", literal_paths)
    try:
        table = open_with(spec.strip(), context)
    except ConfigError as error:
        return ToolResult(1, "", f"{program}: fatal: {error}\n")
    warnings = "".join(warning.render(program) + "\n" for warning in getattr(table, "warnings", ()))
    try:
        value = table.lookup(key)
    except TableFailure as error:
        return ToolResult(1, "", warnings + f"{program}: fatal: {error}\n")
    if value is None:
        return ToolResult(1, "", warnings)
    return ToolResult(0, value + "\n", warnings)


def postmap_query(key: str, spec: str, base_dir: str | Path) -> ToolResult:
    """``postmap -q KEY TYPE:NAME`` over a host folder."""
    return table_query(key, spec, base_dir)


def postalias_query(key: str, spec: str, base_dir: str | Path) -> ToolResult:
    """``postalias -q KEY TYPE:NAME`` over a host folder (indexed types read as aliases files)."""
    return table_query(key, spec, base_dir, program="postalias", syntax="aliases")


def _run_query(argv: Sequence[str], program: str, syntax: str) -> tuple[int, str, str]:
    """Shared option handling of postmap and postalias (only the query mode is modelled)."""
    usage = f"usage: {program} [-c config_dir] -q key [type:]file\n"
    try:
        options, operands = getopt.getopt(list(argv), "c:q:")
    except getopt.GetoptError as error:
        return 1, "", f"{program}: fatal: {error}\n{usage}"
    values = dict(options)
    if "-q" not in values or len(operands) != 1:
        return 1, "", f"{program}: fatal: only the query mode (-q key type:file) is modelled\n{usage}"
    folder = values.get("-c", ".")
    result = table_query(values["-q"], operands[0], folder, program=program, syntax=syntax, literal_paths=True)
    return result.as_tuple()


def run_postmap(argv: Sequence[str]) -> tuple[int, str, str]:
    """``postmap -q`` with Postfix's options."""
    return _run_query(argv, "postmap", "postmap")


def run_postalias(argv: Sequence[str]) -> tuple[int, str, str]:
    """``postalias -q`` with Postfix's options."""
    return _run_query(argv, "postalias", "aliases")
