"""pipe(8): deliver by running a program from master.cf (``flags=... user=... argv=/path ${sender} ${recipient}``).

The program comes from the host's registry (:mod:`mailsim.da.programs`) and is executed directly, never
through a shell (``argv=/bin/sh -c {...}`` runs the simulated shell explicitly). Macros in argv (pipe(8),
Postfix 3.7): ``${sender}`` (the null sender becomes ``null_sender``, default MAILER-DAEMON),
``${recipient}``, ``${original_recipient}``, ``${user}``, ``${extension}``, ``${mailbox}``, ``${domain}``,
``${nexthop}``, ``${queue_id}``, ``${size}`` and the ``${client_*}``/``${sasl_*}`` ones (empty here); an
argument holding a per-recipient macro becomes one argument per recipient, and the command runs once for
all recipients of the request, whose status they then share. ``$name``, ``$(name)`` and ``$$`` work too;
``{...}`` groups an argument with blanks. An unknown macro is a ConfigError when the agent is made.

Flags: ``F`` From_ line, ``R`` Return-Path, ``O`` X-Original-To, ``D`` Delivered-To (and the Delivered-To
loop check: ``5.4.6 mail forwarding loop for ADDR``), ``B`` a blank line at the end, ``.`` dot-stuffing,
``>`` ``>From`` quoting, ``q`` quoting, ``u``/``h`` case folding of local parts/domains, ``X`` accepted (it only
changes success DSNs). ``eol=`` sets the line end (default ``\\n``), ``size=`` bounces larger messages with
``5.2.3 message too large``. ``user=`` is required as in Postfix but only recorded (no privilege model);
``chroot=`` and ``directory=`` are ignored.

Status: exit 0 is ``sent (delivered via SERVICE service)`` (with the command's output in parentheses when
it printed any, Postfix 3.0+), ``relay=SERVICE``; failures map through sysexits and RFC 3463 output exactly as
local(8)'s commands do (:func:`mailsim.da.programs.command_status`), quoting argv[0]; a program missing from
the registry is deferred with ``4.3.0 temporary failure. Command output: pipe: fatal: pipe_command: execvp
PATH: No such file or directory`` (observed on Postfix 3.7.11). Parameters read: command_time_limit (1000s)
and recipient_delimiter () from the service's main.cf, ``<service>_time_limit`` when set.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import simpy

from mailsim.config.expand import ExpandError, expand
from mailsim.core.errors import ConfigError
from mailsim.da.agent import AgentHost, Attempt, DeliveryCost, deferred_report, message_facts, outcome, text
from mailsim.da.local.deliveries import Command, Copy, copy_prefix, run_program
from mailsim.da.programs import ProgramContext, command_status, printable
from mailsim.mail.address import quote_address, split_address
from mailsim.mail.delivery import DeliverRequest, DeliveryStatus, RecipientStatus
from mailsim.mail.queuefile import QueueRecipient
from mailsim.mail.report import DeliveryReport
from mailsim.policy.lookup import split_delim

PER_RECIPIENT = frozenset({"recipient", "original_recipient", "user", "extension", "mailbox"})
MACROS = PER_RECIPIENT | {
    "sender", "domain", "nexthop", "queue_id", "size", "client_address", "client_helo", "client_hostname",
    "client_port", "client_protocol", "sasl_method", "sasl_sender", "sasl_username",
}  # fmt: skip
_MACRO = re.compile(r"\$(?:\{(\w+)\}|\((\w+)\)|(\w+))")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\\": "\\"}


@dataclass(frozen=True, slots=True)
class PipeOptions:
    """The command attributes of one master.cf pipe entry."""

    argv: tuple[str, ...]
    flags: str = ""
    user: str = ""
    size_limit: int = 0
    eol: str = "\n"
    null_sender: str = "MAILER-DAEMON"


def parse_pipe_args(args: Sequence[str], *, service: str = "pipe") -> PipeOptions:
    """master.cf's ``flags=.. user=.. argv=..`` words as pipe(8) reads them; ConfigError when malformed."""
    values: dict[str, str] = {}
    for index, word in enumerate(args):
        name, equals, value = word.partition("=")
        if not equals:
            raise ConfigError(f"{service}: unknown attribute name: {word}")
        if name == "argv":
            argv = tuple(_unbrace(item) for item in (value, *args[index + 1 :]) if item)
            if not argv:
                raise ConfigError(f"{service}: missing argv= command-line attribute")
            return PipeOptions(
                argv, values.get("flags", ""), values.get("user", ""), int(values.get("size", "0") or 0),
                _unescape(values.get("eol", "\\n")), values.get("null_sender", "MAILER-DAEMON"),
            )  # fmt: skip
        values[name] = _unbrace(value)
    raise ConfigError(f"{service}: missing argv= command-line attribute")


def _unbrace(word: str) -> str:
    """Postfix 3.0: ``{ text with blanks }`` is one argument, blanks inside the braces trimmed."""
    return word[1:-1].strip() if word.startswith("{") and word.endswith("}") else word


def _unescape(text: str) -> str:
    """eol=: C escapes (``\\r\\n``, ``\\ddd`` octal)."""
    out, index = [], 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text):
            octal = re.match(r"[0-7]{1,3}", text[index + 1 :])
            if octal:
                out.append(chr(int(octal.group(0), 8)))
                index += 1 + len(octal.group(0))
                continue
            out.append(_ESCAPES.get(text[index + 1], text[index + 1]))
            index += 2
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


class PipeAgent:
    """One pipe(8) transport of one host (e.g. master.cf's ``filter unix - n n - - pipe ...``)."""

    def __init__(
        self,
        host: AgentHost,
        service: str,
        argv: Sequence[str] | PipeOptions,
        *,
        flags: str = "",
        user: str = "nobody",
        cost: DeliveryCost | None = None,
    ) -> None:
        self.host = host
        self.service = service
        self.options = argv if isinstance(argv, PipeOptions) else PipeOptions(tuple(argv), flags, user)
        if not self.options.user:
            raise ConfigError(f"{service}: missing user= command-line attribute", key=service)
        for word in self.options.argv:
            for match in _MACRO.finditer(word.replace("$$", "")):
                name = next(group for group in match.groups() if group)
                if name not in MACROS:
                    raise ConfigError(f"{service}: unknown command-line macro: ${name}", key=service)
        main = host.service_main(service)
        limit = f"{service}_time_limit"
        self.time_limit = main.time(limit) if main.is_set(limit) else main.time("command_time_limit")
        self.delimiter = main.get("recipient_delimiter")
        self.cost = cost or DeliveryCost()

    @classmethod
    def from_args(cls, host: AgentHost, service: str, args: Sequence[str], **options: Any) -> PipeAgent:
        """From a master.cf entry's command arguments (``Service.args``)."""
        return cls(host, service, parse_pipe_args(args, service=service), **options)

    def deliver(self, request: DeliverRequest) -> simpy.Event:
        """Start delivering; the event's value is the DeliveryReport."""
        return self.host.sim.env.process(self._deliver(request))

    def _deliver(self, request: DeliverRequest) -> Generator[simpy.Event, Any, DeliveryReport]:
        qf = self.host.queue.get(request.queue_id)
        if qf is None:
            return deferred_report(request, "no_queue_file", request.queue_id, relay=self.service)
        facts = message_facts(qf.content)
        now = self.host.sim.now
        attempts = [Attempt(request, rcpt, facts, now) for rcpt in request.recipients]
        early = {id(a): self._refused(a, request) for a in attempts}
        todo = [a for a in attempts if early[id(a)] is None]
        shared: dict[int, RecipientStatus] = {}
        if todo:
            outcomes = yield from self._run(request, todo, qf.content)
            shared = dict(zip((id(a) for a in todo), outcomes, strict=True))
        return DeliveryReport(tuple(early[id(a)] or shared[id(a)] for a in attempts))

    def _refused(self, attempt: Attempt, request: DeliverRequest) -> RecipientStatus | None:
        """Checks before running anything: size= and the D flag's loop detection."""
        if self.options.size_limit and request.size > self.options.size_limit:
            return self._log(attempt, DeliveryStatus.BOUNCED, "5.2.3", "message too large")
        if "D" in self.options.flags and attempt.facts.loops_for(attempt.rcpt.address):
            return self._log(attempt, DeliveryStatus.BOUNCED, *text("loop", attempt.rcpt.address))
        return None

    def _run(
        self, request: DeliverRequest, attempts: list[Attempt], content: bytes
    ) -> Generator[simpy.Event, Any, list[RecipientStatus]]:
        argv = self.expand_argv(request, [a.rcpt for a in attempts])
        data = self.message(request, attempts[0], content)
        job = Command(tuple(argv), data, {}, self.time_limit, procname="pipe")
        context = ProgramContext(self.host.files, self.host.name, self.host.sim.wallclock())
        result = yield from run_program(self.host.sim, self.host.programs, context, job, self.cost, self.host.submit)
        failure = command_status(result, argv[0])
        if failure is None:
            output = printable(result.output).strip()
            reason = text("pipe", self.service)[1] + (f" ({output})" if output else "")
            return [self._log(a, DeliveryStatus.SENT, "2.0.0", reason) for a in attempts]
        return [self._log(a, *failure) for a in attempts]

    def _log(self, attempt: Attempt, status: DeliveryStatus, dsn: str, reason: str) -> RecipientStatus:
        sim = self.host.sim
        return outcome(sim, self.host.name, self.service, attempt, attempt.rcpt.address, status, dsn, reason)

    # -- the command line and the message ---------------------------------------------------------
    def expand_argv(self, request: DeliverRequest, rcpts: Sequence[QueueRecipient]) -> list[str]:
        """argv with macros replaced; per-recipient arguments repeated once per recipient."""
        out: list[str] = []
        for word in self.options.argv:
            names = {next(g for g in m.groups() if g) for m in _MACRO.finditer(word.replace("$$", ""))}
            targets = rcpts if names & PER_RECIPIENT else rcpts[:1]
            for rcpt in targets:
                values = {name: value.replace("$", "$$") for name, value in self.macros(request, rcpt).items()}
                try:
                    out.append(expand(word, values.get))  # "$$" keeps a "$" in an address from being expanded
                except ExpandError:
                    out.append(word)
        return out

    def macros(self, request: DeliverRequest, rcpt: QueueRecipient) -> Mapping[str, str]:
        """The macro values for one recipient, with the h, q and u flags applied."""
        flags = self.options.flags
        local, domain = split_address(rcpt.address)
        user, extension, _ = split_delim(local, self.delimiter)
        if "u" in flags:
            local, user, extension = local.lower(), user.lower(), extension.lower() if extension else extension
        sender = request.sender or self.options.null_sender
        nexthop = request.nexthop.lower() if "h" in flags else request.nexthop
        return {
            "sender": self._address(sender) if request.sender else sender,
            "recipient": self._address(rcpt.address),
            "original_recipient": self._address(rcpt.original or rcpt.address),
            "user": user, "extension": extension or "", "mailbox": local,
            "domain": domain.lower() if "h" in flags else domain, "nexthop": nexthop,
            "queue_id": request.queue_id, "size": str(request.size),
        }  # fmt: skip

    def _address(self, address: str) -> str:
        flags = self.options.flags
        local, at, domain = address.rpartition("@")
        if not at:
            return quote_address(address) if "q" in flags else address
        local = local.lower() if "u" in flags else local
        domain = domain.lower() if "h" in flags else domain
        joined = f"{local}@{domain}"
        return quote_address(joined) if "q" in flags else joined

    def message(self, request: DeliverRequest, attempt: Attempt, content: bytes) -> bytes:
        """What the command reads: the F/R/O/D lines, then the message with eol, ``.``, ``>`` and ``B``."""
        flags, eol = self.options.flags, self.options.eol.encode()
        sender = request.sender or self.options.null_sender
        copy = Copy(sender, attempt.rcpt.address, attempt.original if "O" in flags else "")
        prefix = copy_prefix(copy, self.host.sim, from_="F" in flags, return_path="R" in flags, delivered="D" in flags)
        lines = content.replace(b"\r\n", b"\n").split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if ">" in flags:
            lines = [b">" + line if line.startswith(b"From ") else line for line in lines]
        if "." in flags:
            lines = [b"." + line if line.startswith(b".") else line for line in lines]
        body = b"".join(line + eol for line in prefix.split(b"\n")[:-1] + lines)
        return body + (eol if "B" in flags else b"")
