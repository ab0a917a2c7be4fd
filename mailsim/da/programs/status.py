"""How a command's exit turns into a delivery status: Postfix's pipe_command() and sys_exits tables.

Order (global/pipe_command.c, Postfix 3.7): a time-out bounces ("Command time limit exceeded"); a signal
defers ("Command died with signal N"); otherwise a non-zero exit whose output starts with an RFC 3463 code
takes its status and text from the output ("4.7.1 try later" defers with 4.7.1); else a <sysexits.h> code
takes its row of :data:`SYS_EXITS` (EX_TEMPFAIL 75 defers with 4.3.0 "temporary failure", EX_NOUSER 67
bounces with 5.1.1 "user unknown", EX_UNAVAILABLE 69 bounces with 5.3.0 "service unavailable"); any other
status bounces with 5.3.0 ``Command died with status N: "command"``. Captured output is appended as
``. Command output: ...`` with tabs and newlines turned into spaces and other control characters into ``_``
(so a trailing newline becomes a trailing space, exactly as in Postfix's logs). Checked against a real
Postfix 3.7.11: ``/bin/false`` → ``5.3.0 Command died with status 1: "/bin/false"``; ``exit 75`` →
``4.3.0 temporary failure``; ``exit 67`` → ``5.1.1 user unknown``.

Parameters read: none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mailsim.da.programs.base import ProgramResult
from mailsim.mail.delivery import DeliveryStatus

OUTPUT_LIMIT = 4096  # VSTREAM_BUFSIZE: how much command output Postfix keeps
SYS_EXITS: Mapping[int, tuple[str, str]] = {  # global/sys_exits.c
    64: ("5.3.0", "command line usage error"),
    65: ("5.6.0", "data format error"),
    66: ("5.3.0", "cannot open input"),
    67: ("5.1.1", "user unknown"),
    68: ("5.1.2", "host name unknown"),
    69: ("5.3.0", "service unavailable"),
    70: ("5.3.0", "internal software error"),
    71: ("4.3.0", "system resource problem"),
    72: ("5.3.0", "critical OS file missing"),
    73: ("5.2.0", "can't create user output file"),
    74: ("5.3.0", "input/output error"),
    75: ("4.3.0", "temporary failure"),
    76: ("5.5.0", "remote error in protocol"),
    77: ("5.7.0", "permission denied"),
    78: ("5.3.5", "local configuration error"),
}
_DSN = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")

CommandStatus = tuple[DeliveryStatus, str, str]  # (status, dsn, reason)


def printable(output: str) -> str:
    """Postfix's log_buf treatment: at most 4 KB, tab/newline to space, other control characters to ``_``."""
    text = output[:OUTPUT_LIMIT].replace("\t", " ").replace("\n", " ")
    return "".join(char if char.isprintable() else "_" for char in text)


def command_status(result: ProgramResult, command: str) -> CommandStatus | None:
    """The failure status of a finished command, or None when it succeeded (``command`` is what the text quotes)."""
    if result.ok:
        return None
    output = printable(result.output)
    suffix = f". Command output: {output}" if output else ""
    if result.timed_out:
        return DeliveryStatus.BOUNCED, "5.3.0", f'Command time limit exceeded: "{command}"{suffix}'
    if result.signal is not None:
        return DeliveryStatus.DEFERRED, "4.3.0", f'Command died with signal {result.signal}: "{command}"{suffix}'
    match = _DSN.match(output)
    if match:
        dsn = match.group(0)
        return _kind(dsn), dsn, output[match.end() :].lstrip()
    if result.exit_code in SYS_EXITS:
        dsn, text = SYS_EXITS[result.exit_code]
        return _kind(dsn), dsn, f"{text}{suffix}"
    return DeliveryStatus.BOUNCED, "5.3.0", f'Command died with status {result.exit_code}: "{command}"{suffix}'


def _kind(dsn: str) -> DeliveryStatus:
    return DeliveryStatus.DEFERRED if dsn.startswith("4") else DeliveryStatus.BOUNCED
