"""Simulated programs for ``|command`` deliveries, mailbox_command and pipe(8): the registry, a small shell,
Postfix's exit-status mapping and the built-in programs every host has.

Start with :class:`ProgramRegistry` (one per host; ``allow_real_commands`` is the live-run switch) and
:func:`command_status`. Parameters read: none (the agents pass command_time_limit).
"""

from mailsim.da.programs.base import (
    EX_TEMPFAIL,
    Program,
    ProgramContext,
    ProgramResult,
    Resubmission,
    has_shell_meta,
)
from mailsim.da.programs.builtins import (
    Cat,
    Exit,
    ListExploder,
    Logger,
    SpamFilter,
    Vacation,
    builtin_programs,
    envelope_sender,
    strip_delivery_envelope,
)
from mailsim.da.programs.registry import ProgramRegistry
from mailsim.da.programs.shell import run_shell
from mailsim.da.programs.status import SYS_EXITS, command_status, printable

__all__ = [
    "EX_TEMPFAIL",
    "SYS_EXITS",
    "Cat",
    "Exit",
    "ListExploder",
    "Logger",
    "Program",
    "ProgramContext",
    "ProgramRegistry",
    "ProgramResult",
    "Resubmission",
    "SpamFilter",
    "Vacation",
    "builtin_programs",
    "command_status",
    "envelope_sender",
    "has_shell_meta",
    "printable",
    "run_shell",
    "strip_delivery_envelope",
]
