"""What every delivery agent shares: the host it runs on, its cost model, its trace records and its status texts.

Delivery agents (local(8), virtual(8), pipe(8)) are simpy processes. qmgr calls ``agent.deliver(request)`` and
yields the returned event, whose value is a :class:`~mailsim.mail.report.DeliveryReport` with one status per
request recipient in request order. Each final delivery (a mailbox, a file, a command, a forward) is logged as
one ``delivery`` trace record in Postfix's maillog vocabulary (``to``, ``orig_to``, ``relay``, ``delay``,
``delays``, ``dsn``, ``status``, ``text``), so an alias that expands to three targets gives three records.
Besides ``delivery``, agents emit ``warning`` (local(8)'s "required alias not found") and ``fatal`` (a
configuration the agent cannot work with; the mail is deferred) records, each with a ``text`` field.

The host is reached only through :class:`AgentHost` (da/ is L4 and may not import mta/): the lead's
``MailHost`` satisfies it. Status texts live in :data:`TEXTS` with their enhanced codes, each as Postfix 3.7
words it (local/*.c, virtual/*.c, pipe/pipe.c, global/pipe_command.c, global/sys_exits.c; the command and
unknown-user texts were also observed on a real Postfix 3.7.11 on this machine).

Cost model (:class:`DeliveryCost`): every final delivery takes ``base`` seconds (process work, 1 ms) plus the
message size over ``bandwidth`` (the file write, 100 MB/s); a command adds ``command`` (fork and exec, 5 ms)
plus whatever the simulated program reports. Parameters read: none (each agent lists its own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Protocol

import simpy

from mailsim.config.maincf import MainCf
from mailsim.config.tables import Table
from mailsim.core.simulation import Simulation
from mailsim.da.programs import ProgramRegistry
from mailsim.mail.delivery import DeliverRequest, DeliveryStatus, RecipientStatus
from mailsim.mail.message import split_header_body
from mailsim.mail.queuefile import QueueFile, QueueRecipient
from mailsim.mail.report import DeliveryReport


class Account(Protocol):
    """A UNIX account of the host (passwd entry): what local(8) asks getpwnam() for."""

    @property
    def name(self) -> str: ...

    @property
    def home(self) -> str: ...

    @property
    def uid(self) -> int: ...


class QueueReader(Protocol):
    """The host's queue, read-only: the message bytes are ``queue.get(queue_id).content``."""

    def get(self, queue_id: str) -> QueueFile | None: ...


class DeliveryAgent(Protocol):
    """Anything qmgr can hand a delivery request to."""

    def deliver(self, request: DeliverRequest) -> simpy.Event: ...


class AgentHost(Protocol):
    """Everything a delivery agent uses of its host (mailsim.mta.master.MailHost provides it)."""

    @property
    def sim(self) -> Simulation: ...

    @property
    def name(self) -> str: ...

    @property
    def queue(self) -> QueueReader: ...

    @property
    def files(self) -> Path: ...

    @property
    def passwd(self) -> Mapping[str, Account]: ...

    @property
    def programs(self) -> ProgramRegistry: ...

    def service_main(self, service: str) -> MainCf:
        """main.cf with the master.cf ``-o`` overrides of ``service`` applied."""
        ...

    def table(self, spec: str, *, syntax: str = "postmap") -> Table:
        """``type:name`` opened (and cached) from the host's config folder; ``syntax="aliases"`` for alias_maps."""
        ...

    def tables(self, value: str) -> list[Table]:
        """Every table of a maps parameter's value, in order."""
        ...

    def submit(
        self,
        sender: str,
        recipients: Sequence[str],
        content: bytes,
        *,
        service: str,
        attributes: Sequence[tuple[str, str]] = (),
    ) -> simpy.Event:
        """Post a new message through cleanup; the event's value is the new queue id."""
        ...

    def agent(self, transport: str) -> DeliveryAgent:
        """The delivery agent of a master.cf transport (for mailbox_transport, fallback_transport)."""
        ...


@dataclass(frozen=True, slots=True)
class DeliveryCost:
    """Virtual time one final delivery takes (see the module docstring)."""

    base: float = 0.001
    bandwidth: float = 100e6  # bytes/s of a local file write
    command: float = 0.005  # fork + exec of a "|command"

    def write(self, size: int) -> float:
        """Time to deliver ``size`` bytes into a store."""
        return self.base + size / self.bandwidth

    def run(self, size: int, extra: float = 0.0) -> float:
        """Time to pipe ``size`` bytes into a command that itself works ``extra`` seconds."""
        return self.base + self.command + size / self.bandwidth + extra


@dataclass(frozen=True, slots=True)
class Text:
    """A status text with its RFC 3463 code; ``text.format(...)`` fills Postfix's ``%s`` slots."""

    dsn: str
    template: str

    def format(self, *args: object) -> tuple[str, str]:
        return self.dsn, self.template.format(*args)


TEXTS: Mapping[str, Text] = {
    # local(8): mailbox.c, maildir.c, file.c, command.c, forward.c, unknown.c, recipient.c, alias.c
    "mailbox": Text("2.0.0", "delivered to mailbox"),
    "maildir": Text("2.0.0", "delivered to maildir"),
    "file": Text("2.0.0", "delivered to file: {}"),
    "command": Text("2.0.0", "delivered to command: {}"),
    "forwarded": Text("2.0.0", "forwarded as {}"),
    "discarded": Text("2.0.0", "discarded"),
    "unknown_user": Text("5.1.1", 'unknown user: "{}"'),
    "loop": Text("5.4.6", "mail forwarding loop for {}"),
    "mailbox_error": Text("5.2.0", "cannot update mailbox {} for user {}. {}"),
    "file_error": Text("5.2.0", "cannot append message to file {}: {}"),
    "maildir_error": Text("5.2.0", "maildir delivery failed: {}"),
    "too_large": Text("5.2.2", "error writing message: File too large"),
    "locked": Text("4.2.0", "unable to lock for exclusive access: Resource temporarily unavailable"),
    "forward_failed": Text("4.3.0", "unable to forward message"),
    "no_transport": Text("4.3.0", "mail transport unavailable"),
    "table_failure": Text("4.3.0", "table lookup failure"),
    "transport_error": Text("4.3.0", "unknown mail transport error"),  # qmgr's words when an agent dies
    "no_queue_file": Text("4.3.0", "queue file {} is gone"),
    # virtual(8): mailbox.c, unknown.c
    "virtual_mailbox_error": Text("5.2.0", "mailbox {}: {}"),
    # pipe(8): pipe.c
    "pipe": Text("2.0.0", "delivered via {} service"),
}


def text(key: str, *args: object) -> tuple[str, str]:
    """(dsn, reason) of a catalogued status text."""
    return TEXTS[key].format(*args)


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What agents read from the header section once per request: Message-ID and the Delivered-To set."""

    message_id: str | None
    delivered_to: frozenset[str]
    subject: str = ""

    def loops_for(self, address: str) -> bool:
        """delivered.c: the address (case-folded) already has a Delivered-To header."""
        return address.lower() in self.delivered_to


def message_facts(content: bytes) -> MessageFacts:
    """Parse only the header section (Postfix's delivered_hdr_init reads it the same way)."""
    header, _ = split_header_body(content)
    parsed = BytesHeaderParser(policy=compat32).parsebytes(header)
    message_id = parsed.get("Message-ID")
    mid = str(message_id).strip().strip("<>") if message_id else None
    delivered = frozenset(str(value).strip().lower() for value in parsed.get_all("Delivered-To") or ())
    return MessageFacts(mid or None, delivered, str(parsed.get("Subject") or ""))


@dataclass(frozen=True, slots=True)
class Attempt:
    """Where one delivery attempt started: the request, the recipient, the message facts and the clock."""

    request: DeliverRequest
    rcpt: QueueRecipient
    facts: MessageFacts
    started: float

    @property
    def original(self) -> str:
        """orig_to: the recipient as it was before cleanup rewrote it."""
        return self.rcpt.original or self.rcpt.address


def outcome(
    sim: Simulation,
    host: str,
    service: str,
    attempt: Attempt,
    to: str,
    status: DeliveryStatus,
    dsn: str,
    reason: str,
    *,
    relay: str | None = None,
    emit: bool = True,
) -> RecipientStatus:
    """One final delivery's status, logged as a ``delivery`` trace record (qmgr gets the summary)."""
    now = sim.now
    result = RecipientStatus(
        to, status, dsn, reason, relay=relay or service,
        delay=now - attempt.request.arrival_time, delays=(0.0, 0.0, 0.0, now - attempt.started),
        original=attempt.original, rcpt_dsn=attempt.rcpt.dsn,
    )  # fmt: skip
    if emit:
        emit_delivery(sim, host, service, attempt, result)
    return result


def emit_delivery(sim: Simulation, host: str, service: str, attempt: Attempt, result: RecipientStatus) -> None:
    """The maillog line ``QID: to=<..>, orig_to=<..>, relay=.., delay=.., delays=.., dsn=.., status=.. (text)``."""
    sim.emit(
        host, service, "delivery", queue_id=attempt.request.queue_id, message_id=attempt.facts.message_id,
        to=result.recipient, orig_to=result.original, relay=result.relay, delay=result.delay,
        delays=result.delays, dsn=result.dsn, status=str(result.status), text=result.reason,
    )  # fmt: skip


def summarize(attempt: Attempt, results: Sequence[RecipientStatus], relay: str) -> RecipientStatus:
    """The one status qmgr gets for a recipient that expanded into ``results``.

    Postfix's rule (local.c): a recipient stays in the queue when any part of its expansion was deferred
    (and the whole expansion is tried again later, so parts already delivered are delivered again);
    otherwise it is done, and each bounced part went to the bounce log. The summary is therefore
    deferred if any part deferred, else bounced if every part bounced, else sent.
    """
    rcpt = attempt.rcpt.address
    if not results:
        return RecipientStatus(rcpt, DeliveryStatus.SENT, "2.0.0", "discarded", relay=relay, original=attempt.original)
    for wanted in (DeliveryStatus.DEFERRED, DeliveryStatus.BOUNCED):
        first = next((r for r in results if r.status is wanted), None)
        if first is not None and (wanted is DeliveryStatus.DEFERRED or all(r.status is wanted for r in results)):
            return _as_summary(first, attempt, relay)
    sent = next(r for r in results if r.status is not DeliveryStatus.BOUNCED)
    return _as_summary(sent, attempt, relay)


def _as_summary(result: RecipientStatus, attempt: Attempt, relay: str) -> RecipientStatus:
    return RecipientStatus(
        attempt.rcpt.address, result.status, result.dsn, result.reason, result.reply, result.relay or relay,
        result.remote_mta, result.delay, result.delays, attempt.original, attempt.rcpt.dsn,
    )  # fmt: skip


def deferred_report(request: DeliverRequest, key: str, *args: object, relay: str = "none") -> DeliveryReport:
    """Every recipient of a request deferred with one catalogued text (no queue file, dead configuration)."""
    dsn, reason = text(key, *args)
    statuses = tuple(
        RecipientStatus(r.address, DeliveryStatus.DEFERRED, dsn, reason, relay=relay, original=r.original or r.address)
        for r in request.recipients
    )
    return DeliveryReport(statuses)


def header_lines(*headers: tuple[str, str]) -> bytes:
    """Header lines as Postfix prepends them to a queue file's content (CRLF, the queue's line end)."""
    return b"".join(f"{name}: {value}\r\n".encode("utf-8", "surrogateescape") for name, value in headers)


def sleep(sim: Simulation, seconds: float) -> simpy.Event:
    """A timeout on the run's clock (a zero-length one still yields to other processes)."""
    return sim.env.timeout(max(0.0, seconds))
