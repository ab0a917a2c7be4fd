"""The vocabulary of simulated programs: what a program gets (message, argv, environment, a context) and returns.

Parameters read: none.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

EX_TEMPFAIL = 75
SEARCH_PATH = ("/usr/local/bin", "/usr/bin", "/bin")  # what execvp() searches for a bare name
SHELLS = frozenset({"/bin/sh", "sh", "/bin/bash", "/usr/bin/sh", "/bin/dash"})  # what "sh -c" runs as
SHELL_META = frozenset("~'`\"\\*?[]{}|&;<>()$\n\r")  # local(8) runs /bin/sh when a command holds any of these


@dataclass(frozen=True, slots=True)
class Resubmission:
    """A message a program posts with sendmail(1): it enters the queue again through pickup and cleanup."""

    sender: str
    recipients: tuple[str, ...]
    content: bytes  # CRLF wire bytes
    service: str = "pickup"


@dataclass(frozen=True, slots=True)
class ProgramResult:
    """What a program did: exit status, captured stdout+stderr, mail it posted, virtual time it took."""

    exit_code: int = 0
    output: str = ""
    resubmit: tuple[Resubmission, ...] = ()
    duration: float = 0.0
    timed_out: bool = False  # killed at command_time_limit
    signal: int | None = None  # killed by this signal

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.signal is None


@dataclass(frozen=True, slots=True)
class ProgramContext:
    """The simulated machine a program runs on: its file tree (the host's folder), name and clock."""

    files: Path
    hostname: str
    now: datetime

    def path(self, simulated: str) -> Path:
        """Where the simulated absolute path lives in the host's folder; ``..`` is refused."""
        parts = [part for part in PurePosixPath(simulated).parts if part not in ("/", "", ".")]
        if ".." in parts:
            raise ValueError(f"{simulated}: path may not contain '..'")
        return self.files.joinpath(*parts)


class Program(Protocol):
    """A simulated program: the message on standard input, its argv and environment; no real side effects
    except files under ``context.files``."""

    def run(
        self, message: bytes, argv: Sequence[str], env: Mapping[str, str], context: ProgramContext
    ) -> ProgramResult: ...


def has_shell_meta(command: str) -> bool:
    """Whether local(8) would hand the command to /bin/sh instead of executing it directly."""
    return any(char in SHELL_META for char in command)


def run_real(
    argv: list[str], message: bytes, env: Mapping[str, str], context: ProgramContext, time_limit: float
) -> ProgramResult:
    """Run a real program on this machine (only with allow_real_commands): stdin, stdout+stderr, exit code."""
    environment = {"PATH": ":".join(SEARCH_PATH), **env}
    context.files.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            argv, input=message, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment,
            cwd=context.files, timeout=time_limit, check=False,
        )  # fmt: skip
    except FileNotFoundError:
        return ProgramResult(EX_TEMPFAIL, f"execvp {argv[0]}: No such file or directory\n")
    except subprocess.TimeoutExpired as expired:
        return ProgramResult(1, (expired.output or b"").decode("utf-8", "replace"), timed_out=True)
    output = done.stdout.decode("utf-8", "replace")
    if done.returncode < 0:
        return ProgramResult(1, output, signal=-done.returncode)
    return ProgramResult(done.returncode, output)
