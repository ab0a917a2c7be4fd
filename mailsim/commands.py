"""Postfix's admin tools as ``mailsim`` subcommands: :data:`COMMANDS` maps each name to ``main(argv) -> int``.

Each command takes Postfix's own options and prints exactly what Postfix prints, so scripts and
habits written for Postfix work. The queue tools (``mailq``, ``postqueue``, ``postsuper``,
``postcat``, ``qshape``) look at one mail host of a scenario at one virtual time; three options
choose it, the same for every tool:

- ``-c DIR``: Postfix's config_directory option. DIR is a scenario folder (with scenario.toml) or
  a host's config folder inside one (``scenarios/x/hosts/mail``, which also names the host).
  Default: the built-in default scenario. ``mailq`` also takes the folder as its first argument.
- ``--host NAME``: the mail host (default: the host whose folder ``-c`` named, or the scenario's
  only mail host).
- ``--at TIME``: virtual time to run to before asking, e.g. ``90m`` or ``2h`` (default: the
  scenario's ``until``). The run is repeated each time (same seed, same result).

A command that changes the queue (``postsuper``, ``postqueue -f``) prints what Postfix prints and
ends there: the run is not continued (use the Python API, :mod:`mailsim.mta.admin`, to act in the
middle of a run and go on). ``postconf``, ``postmap`` and ``postalias`` work on a plain config
folder as Postfix's do; given a scenario folder (or ``--host``), ``-c`` is the host's folder and
``$myhostname`` is the host's name. A mistake of ours (no such scenario, host or time) is one
line on stderr and exit status 2; Postfix's own mistakes keep Postfix's messages and statuses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailsim.core.errors import MailsimError

EXIT_USAGE = 2
Result = tuple[int, str, str]


class CommandError(Exception):
    """A mistake in the mailsim-specific part of a command line (scenario, host, time)."""


@dataclass
class Target:
    """Which scenario, host and time a command looks at, and the tool's own arguments."""

    folder: Path | None = None
    host: str | None = None
    at: str | None = None
    rest: list[str] | None = None


def split_options(argv: Sequence[str], *, positional_folder: bool = False) -> Target:
    """Take ``-c DIR``, ``--host NAME`` and ``--at TIME`` out of ``argv``; the rest is the tool's."""
    target, rest = Target(), []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        for long in ("--host", "--at"):
            if arg == long or arg.startswith(long + "="):
                if arg == long and i + 1 >= len(args):
                    raise CommandError(f"{long} needs a value")
                value = arg.split("=", 1)[1] if "=" in arg else args[i + 1]
                setattr(target, long[2:], value)
                i += 1 if "=" in arg else 2
                break
        else:
            if arg in ("-c", "-C") and i + 1 < len(args):
                target.folder = Path(args[i + 1])
                i += 2
            elif arg.startswith(("-c", "-C")) and len(arg) > 2 and not arg.startswith("--"):
                target.folder = Path(arg[2:])
                i += 1
            elif positional_folder and target.folder is None and not arg.startswith("-"):
                target.folder = Path(arg)
                i += 1
            else:
                rest.append(arg)
                i += 1
    target.rest = rest
    return target


def _default_scenario() -> Path:
    from mailsim.cli import default_scenario

    return default_scenario()


def locate(folder: Path | None) -> tuple[Path, Path | None]:
    """(scenario folder, host config folder or None) for a ``-c`` argument."""
    folder = folder or _default_scenario()
    if (folder / "scenario.toml").is_file():
        return folder, None
    if not folder.is_dir():
        raise CommandError(f"{folder}: no such folder (expected a scenario folder or a host folder inside one)")
    for parent in folder.resolve().parents:
        if (parent / "scenario.toml").is_file():
            return parent, folder
    raise CommandError(f"{folder}: no scenario.toml here or above (expected a scenario folder or a host folder)")


def choose_host(spec: Any, host: str | None, host_folder: Path | None) -> str:
    """The mail host a command is about (see the module docstring)."""
    from mailsim.scenario.roles import MAIL_ROLES

    mail_hosts = [h for h in spec.hosts if MAIL_ROLES & set(h.roles)]
    names = ", ".join(h.name for h in mail_hosts) or "none"
    if host is not None:
        if host not in {h.name for h in mail_hosts}:
            raise CommandError(f"--host: no mail host {host!r} in scenario {spec.name} (mail hosts: {names})")
        return host
    if host_folder is not None:
        wanted = host_folder.resolve()
        for h in mail_hosts:
            if h.config is not None and Path(h.config).resolve() == wanted:
                return h.name
        raise CommandError(f"{host_folder}: not the config folder of a mail host of {spec.name} (mail hosts: {names})")
    if len(mail_hosts) != 1:
        raise CommandError(f"scenario {spec.name} has several mail hosts ({names}): choose one with --host")
    return mail_hosts[0].name


def _time(text: str | None, default: float) -> float:
    from mailsim.core.units import parse_duration

    if text is None:
        return default
    try:
        value = parse_duration(text)
    except ValueError:
        raise CommandError(f"--at: expected a duration like 300s, 90m or 2h, found {text!r}") from None
    if value < 0:
        raise CommandError(f"--at: expected a time not before 0, found {text!r}")
    return value


def simulated_host(target: Target) -> Any:
    """Run the scenario to ``--at`` and return the chosen :class:`~mailsim.mta.master.MailHost`."""
    from mailsim.scenario.loader import load
    from mailsim.scenario.runner import run_scenario

    scenario, host_folder = locate(target.folder)
    spec = load(scenario)
    name = choose_host(spec, target.host, host_folder)
    until = _time(target.at, spec.until)
    result = run_scenario(spec, until=until)
    return result.world.hosts[name]


def _emit(result: Result) -> int:
    code, stdout, stderr = result
    if stdout:
        sys.stdout.write(stdout)
        sys.stdout.flush()
    if stderr:
        sys.stderr.write(stderr)
    return code


def _guarded(prog: str, body: Callable[[], Result]) -> int:
    """Run one command; our own mistakes become one line and exit 2, never a traceback."""
    try:
        return _emit(body())
    except CommandError as error:
        sys.stderr.write(f"mailsim {prog}: {error}\n")
    except MailsimError as error:
        sys.stderr.write(f"{error}\n")
    return EXIT_USAGE


# -- the commands -----------------------------------------------------------------------------------------


def mailq_main(argv: list[str]) -> int:
    """``mailsim mailq [SCENARIO] [-C|-c DIR] [--at TIME] [--host HOST]``: sendmail's ``mailq``, i.e. ``postqueue -p``."""

    def body() -> Result:
        from mailsim.mta.admin.postqueue import run_postqueue

        target = split_options(argv, positional_folder=True)
        extra = [a for a in target.rest or [] if a != "-v"]
        if extra:
            raise CommandError(f"unexpected argument {extra[0]!r} (mailq [SCENARIO] [-c DIR] [--at T] [--host H])")
        return run_postqueue(simulated_host(target), ["-p"]).as_tuple()

    return _guarded("mailq", body)


def postqueue_main(argv: list[str]) -> int:
    """``mailsim postqueue -p|-j|-f|-i ID [-c DIR] [--at TIME] [--host HOST]``: postqueue(1)'s listing and JSON."""

    def body() -> Result:
        from mailsim.mta.admin.postqueue import run_postqueue

        target = split_options(argv)
        return run_postqueue(simulated_host(target), target.rest or []).as_tuple()

    return _guarded("postqueue", body)


def postsuper_main(argv: list[str]) -> int:
    """``mailsim postsuper -d|-h|-H|-r ID|ALL [queue...] [-c DIR] [--at TIME] [--host HOST]``: postsuper(1).

    A queue id ``-`` reads ids from standard input, as Postfix's does.
    """

    def body() -> Result:
        from mailsim.mta.admin.postsuper import run_postsuper

        target = split_options(argv)
        rest = target.rest or []
        stdin = sys.stdin.read() if "-" in rest else ""
        return run_postsuper(simulated_host(target), rest, stdin).as_tuple()

    return _guarded("postsuper", body)


def postcat_main(argv: list[str]) -> int:
    """``mailsim postcat [-ehb] -q ID... [-c DIR] [--at TIME] [--host HOST]``: postcat(1) of queue files."""

    def body() -> Result:
        from mailsim.mta.admin.postcat import run_postcat

        target = split_options(argv)
        return run_postcat(simulated_host(target), target.rest or []).as_tuple()

    return _guarded("postcat", body)


def qshape_main(argv: list[str]) -> int:
    """``mailsim qshape [-s] [-p] [-l] [-b N] [-t MIN] [-w W] [queue...] [-c DIR] [--at TIME] [--host HOST]``."""

    def body() -> Result:
        from mailsim.analysis.qshape import run_qshape

        target = split_options(argv)
        return run_qshape(simulated_host(target), target.rest or []).as_tuple()

    return _guarded("qshape", body)


def _config_argv(argv: list[str]) -> tuple[list[str], Any]:
    """Postfix's argv for postconf/postmap/postalias, with ``-c SCENARIO`` (or ``--host``) made the host's folder."""
    from mailsim.config.hostfacts import HostFacts

    target = split_options(argv)
    rest = list(target.rest or [])
    folder = target.folder
    is_scenario = folder is not None and (folder / "scenario.toml").is_file()
    if target.at is not None:
        raise CommandError("--at: configuration tools do not run the scenario")
    if not is_scenario and target.host is None:
        return (["-c", str(folder)] if folder is not None else []) + rest, None
    from mailsim.scenario.loader import load

    scenario, host_folder = locate(folder)
    spec = load(scenario)
    name = choose_host(spec, target.host, host_folder)
    host = spec.host(name)
    if host.config is None:
        raise CommandError(f"host {name} has no config folder: it runs Postfix's defaults (an empty main.cf)")
    return ["-c", str(host.config), *rest], HostFacts(host.name, tuple(host.addresses))


def postconf_main(argv: list[str]) -> int:
    """``mailsim postconf [-c DIR] [-n|-d] [-h] [-x] [NAME...] [--host HOST]``: postconf(1)."""

    def body() -> Result:
        from mailsim.config.tools import run_postconf

        args, facts = _config_argv(argv)
        return run_postconf(args, host=facts)

    return _guarded("postconf", body)


def postmap_main(argv: list[str]) -> int:
    """``mailsim postmap [-c DIR] -q KEY TYPE:FILE [--host HOST]``: postmap(1)'s query mode."""

    def body() -> Result:
        from mailsim.config.tools import run_postmap

        return run_postmap(_config_argv(argv)[0])

    return _guarded("postmap", body)


def postalias_main(argv: list[str]) -> int:
    """``mailsim postalias [-c DIR] -q KEY TYPE:FILE [--host HOST]``: postalias(1)'s query mode."""

    def body() -> Result:
        from mailsim.config.tools import run_postalias

        return run_postalias(_config_argv(argv)[0])

    return _guarded("postalias", body)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "mailq": mailq_main,
    "postqueue": postqueue_main,
    "postsuper": postsuper_main,
    "postcat": postcat_main,
    "qshape": qshape_main,
    "postconf": postconf_main,
    "postmap": postmap_main,
    "postalias": postalias_main,
}
