"""The simulated programs of one host, looked up by path as execvp() would, and the switch for real ones.

A ``|command`` in an alias or .forward file, ``mailbox_command`` and a pipe(8) ``argv=`` all run a program
from the host's :class:`ProgramRegistry`. A command without shell metacharacters is split on blanks and
executed directly (local(8)'s exec_command()); one with metacharacters goes to the simulated ``/bin/sh``
(:mod:`mailsim.da.programs.shell`). A program that is not in the registry does not exist on the simulated
host, and fails exactly as a missing program fails under Postfix 3.7 (observed): executed directly, the child's
``execvp`` dies with EX_TEMPFAIL and the message is *deferred* ("temporary failure. Command output: local:
fatal: execvp /x: No such file or directory"); under the shell it exits 127 and the message is *bounced*.

Real programs run only when the scenario sets ``allow_real_commands`` (live runs): then a name the registry
does not know is run with :mod:`subprocess` on this machine, as the current user, in the host's output
folder, with the message on standard input and ``command_time_limit`` as its timeout.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from mailsim.da.programs.base import (
    EX_TEMPFAIL,
    SEARCH_PATH,
    SHELLS,
    Program,
    ProgramContext,
    ProgramResult,
    has_shell_meta,
    run_real,
)
from mailsim.da.programs.builtins import builtin_programs
from mailsim.da.programs.shell import run_shell


class ProgramRegistry(Mapping[str, Program]):
    """The programs installed on one simulated host, by absolute path (one registry per host, never shared)."""

    def __init__(
        self,
        programs: Mapping[str, Program] | None = None,
        *,
        allow_real_commands: bool = False,
        builtins: bool = True,
    ) -> None:
        self.allow_real_commands = allow_real_commands
        self._programs: dict[str, Program] = {}
        if builtins:
            self._programs.update(builtin_programs())
        self._programs.update(programs or {})

    # -- the mapping ------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Program:
        return self._programs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._programs)

    def __len__(self) -> int:
        return len(self._programs)

    def register(self, name: str, program: Program) -> None:
        """Install ``program`` at ``name`` (an absolute path, e.g. ``/usr/local/bin/autologger``)."""
        self._programs[name] = program

    def find(self, name: str) -> Program | None:
        """The program execvp() would run: the exact path, or a bare name searched along the PATH."""
        if name in self._programs:
            return self._programs[name]
        if "/" not in name:
            for folder in SEARCH_PATH:
                found = self._programs.get(f"{folder}/{name}")
                if found is not None:
                    return found
        return None

    # -- running ----------------------------------------------------------------------------------
    def run_command(
        self,
        command: str,
        message: bytes,
        env: Mapping[str, str],
        context: ProgramContext,
        *,
        procname: str = "local",
        time_limit: float = 1000.0,
    ) -> ProgramResult:
        """local(8): a ``|command`` or mailbox_command, through the shell only when it needs one."""
        if has_shell_meta(command):
            return run_shell(self, command, message, env, context, time_limit=time_limit)
        argv = command.split()
        if not argv:
            return ProgramResult(0)
        return self.run_argv(
            argv, message, env, context, exec_error=f"{procname}: fatal: execvp", time_limit=time_limit
        )

    def run_argv(
        self,
        argv: Sequence[str],
        message: bytes,
        env: Mapping[str, str],
        context: ProgramContext,
        *,
        exec_error: str = "pipe: fatal: pipe_command: execvp",
        time_limit: float = 1000.0,
    ) -> ProgramResult:
        """Execute ``argv`` directly (pipe(8)); a missing program fails like a failed execvp() in the child."""
        if argv[0] in SHELLS and len(argv) >= 3 and argv[1] == "-c":
            return run_shell(self, argv[2], message, env, context, time_limit=time_limit)
        program = self.find(argv[0])
        if program is not None:
            return program.run(message, tuple(argv), env, context)
        if self.allow_real_commands:
            return run_real(list(argv), message, env, context, time_limit)
        return ProgramResult(EX_TEMPFAIL, f"{exec_error} {argv[0]}: No such file or directory\n")
