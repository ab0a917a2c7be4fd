"""Postfix smtpd's command statistics: per session, how often each command was sent and how often it succeeded.

Postfix (since 3.0) logs them in its "disconnect from" line (``ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1
commands=3/5``). Both server fidelities (:mod:`mailsim.engine.server`, :mod:`mailsim.engine.fast_server`)
keep one :class:`CommandTally` per session, shared by every :class:`~mailsim.engine.hooks.SmtpSession`
snapshot, so the hooks can log it; the rules, from smtpd.c and held against a real Postfix 3.7.11
(tests/mta/test_disconnect_counts.py):

- A command counts once its verb is read, before anything judges it: a command refused because STARTTLS must
  come first (``530``), or because the client was rejected at connect, counts too.
- A verb outside smtpd's command table counts as ``unknown`` and never succeeds. Lines that never reach the
  table do not count at all: an empty line (``500 bad syntax``) and a line that is not UTF-8.
- A command succeeds when its action function returns 0, which shows in its final reply: 2xx. A 3xx (``334``
  during AUTH, ``354`` after DATA) leaves the outcome to the reply that ends the command (DATA succeeds only
  when the message is queued). STARTTLS succeeds only when the TLS handshake completes.
- A client that hangs up without QUIT has no ``quit``; the commands that reached smtpd still count.

Postfix parameters read: none.
"""

from __future__ import annotations

# smtpd.c smtpd_cmd_table, in its order (the order of the logged counts), and the name of the rest.
COMMANDS = (
    "helo", "ehlo", "xclient", "xforward", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop",
    "vrfy", "etrn", "quit",
)  # fmt: skip
UNKNOWN = "unknown"
_ORDER = {name: index for index, name in enumerate((*COMMANDS, UNKNOWN))}


def command_name(verb: str) -> str:
    """The name a command is counted under: its verb when smtpd knows it, else ``unknown``."""
    name = verb.lower()
    return name if name in _ORDER and name != UNKNOWN else UNKNOWN


class CommandTally:
    """One session's counts: for each command, [successes, total]; at most one command awaits its outcome."""

    __slots__ = ("_counts", "_open")

    def __init__(self) -> None:
        self._counts: dict[str, list[int]] = {}
        self._open: str | None = None

    def start(self, verb: str) -> None:
        """A command arrived: it counts now, its success comes with its final reply (or the TLS handshake)."""
        name = command_name(verb)
        self._counts.setdefault(name, [0, 0])[1] += 1
        self._open = None if name in (UNKNOWN, "starttls") else name

    def reply(self, code: int) -> None:
        """A final reply: 2xx ends the open command well, 4xx/5xx badly, 3xx keeps it open."""
        name = self._open
        if name is None or 300 <= code < 400:
            return
        if code < 300:
            self._counts[name][0] += 1
        self._open = None

    def tls_started(self) -> None:
        """The STARTTLS handshake completed: that STARTTLS succeeded (smtpd.c starttls_cmd returns 0)."""
        self._counts.setdefault("starttls", [0, 1])[0] += 1

    def rows(self) -> list[tuple[str, int, int]]:
        """(name, successes, total) of each command sent, in smtpd's table order."""
        return [(name, ok, total) for name, (ok, total) in sorted(self._counts.items(), key=lambda i: _ORDER[i[0]])]
