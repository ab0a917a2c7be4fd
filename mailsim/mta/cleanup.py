"""cleanup(8): the last step before the queue, for mail from smtpd, pickup, bounce and local(8).

Per message: the size limit; header_checks/body_checks actions; canonical mapping of the envelope
sender and recipients; virtual alias expansion of recipients; and, for clients that match
local_header_rewrite_clients (or with always_add_missing_headers), the missing Message-ID
(``<YYYYMMDDhhmmss.QUEUEID@myhostname>``), Date, From and (when configured) the undisclosed
recipients header, with unqualified header addresses completed with $myorigin. The queue file
goes to ``incoming`` (or ``hold``), and qmgr is told. Content that cannot be stored (no header
section at all, or bytes the parser rejects) goes to ``corrupt``: accepted, never silently lost.

Parameters: message_size_limit (10240000), header_checks, body_checks, nested_header_checks,
mime_header_checks, always_add_missing_headers (no), local_header_rewrite_clients
(permit_inet_interfaces), undisclosed_recipients_header (empty), myhostname, myorigin,
canonical_maps, sender_canonical_maps, recipient_canonical_maps, virtual_alias_maps,
masquerade_domains, enable_original_recipient (yes); hopcount_limit (50: the message whose Received:
headers reach it is refused, ``554 5.4.0 Error: too many hops``, and mail from pickup bounces instead);
always_bcc, sender_bcc_maps (looked up with the rewritten sender) and recipient_bcc_maps (with each
canonical recipient) add envelope recipients to new mail (smtpd, pickup), each address once, as
cleanup_addr.c does; in_flow_delay (1s: a message for ``hold`` gives its
token back, :mod:`mailsim.mta.mail_flow`). On a host with ``hardware`` a queued file costs cleanup's CPU job and
one fsync, and qmgr is told once it is on disk (:mod:`mailsim.mta.hardware`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mailsim.mail.delivery import DeliveryStatus, RecipientStatus
from mailsim.mail.envelope import Envelope, RcptDsn
from mailsim.mail.message import make_message_id, postfix_date, split_header_body
from mailsim.mail.queuefile import QueueFile, QueueState
from mailsim.mail.reply import TOO_MANY_HOPS, Reply
from mailsim.policy.rewrite.maps import canonical_map, expand_virtual, mail_addr_find, masquerade

_HEADER_NAME = re.compile(rb"^([!-9;-~]+):")
_BARE_LOCAL = re.compile(r"(?<![@\w.<\"-])([A-Za-z0-9._%+-]+)(?=\s*(?:,|>|$|\r?\n))")
_ADDRESS_HEADERS = frozenset((b"from", b"sender", b"reply-to", b"to", b"cc", b"bcc", b"resent-from", b"resent-to"))
_RECIPIENT_HEADERS = frozenset((b"to", b"cc", b"bcc", b"resent-to", b"resent-cc"))


@dataclass(slots=True)
class Origin:
    """Where a message comes from, as cleanup needs to know it."""

    service: str
    client_name: str = "localhost"
    client_address: str = "127.0.0.1"
    helo: str = ""
    protocol: str = "ESMTP"
    sasl_username: str | None = None
    rewrite_headers: bool = False
    attributes: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CleanupResult:
    """The queue id (or None) and the reply smtpd gives its client."""

    queue_id: str | None
    reply: Reply
    wait: float = 0.0  # until the queue file is on disk (a host with hardware; mailsim.mta.hardware)


class Cleanup:
    """The cleanup service of one host (see the module docstring)."""

    def __init__(self, host: Any, service: str = "cleanup") -> None:
        self.host = host
        self.main = host.service_main(service)
        self.size_limit = self.main.size("message_size_limit")
        self.header_checks = host.tables(self.main.get("header_checks"))
        self.body_checks = host.tables(self.main.get("body_checks"))
        self.always_add = self.main.bool("always_add_missing_headers")
        self.hopcount_limit = self.main.int("hopcount_limit")
        self.always_bcc = self.main.get("always_bcc")
        self.sender_bcc = host.tables(self.main.get("sender_bcc_maps"))
        self.recipient_bcc = host.tables(self.main.get("recipient_bcc_maps"))
        self.myorigin = self.main.get("myorigin")  # main.cf is immutable: read once, not per message
        self.myhostname = self.main.get("myhostname")
        self.undisclosed = self.main.get("undisclosed_recipients_header")

    def process(self, queue_id: str, envelope: Envelope, content: bytes, origin: Origin) -> CleanupResult:
        """Clean one message up and queue it under ``queue_id`` (assigned when smtpd opened the stream)."""
        host, now = self.host, self.host.sim.now
        if self.size_limit and len(content) > self.size_limit:
            return CleanupResult(None, Reply(552, "5.3.4", "Error: message file too big"))
        headers, body = _split(content)
        if headers is None:
            return self._corrupt(queue_id, envelope, content, origin, "no header section")
        if len(headers) >= self.hopcount_limit and _hops(headers) >= self.hopcount_limit:
            return self._too_many_hops(queue_id, envelope, content, origin)
        state, verdict = QueueState.INCOMING, _Verdict()
        headers = self._check_headers(headers, verdict)
        self._check_body(body, verdict)
        if verdict.reject is not None:
            self._log(queue_id, f"reject: {verdict.what}; from=<{envelope.mail_from}>: {verdict.reject}")
            return CleanupResult(None, verdict.reject)
        if verdict.hold:
            state = QueueState.HOLD
        if origin.rewrite_headers or self.always_add:
            headers = self._add_missing(queue_id, envelope, headers)
        # mailsim-auth: the origin's milters (mailsim.mta.milters.daemons) inspect and edit the groomed message
        data = b"".join(headers) + b"\r\n" + body
        milters = host.daemons.inspect(queue_id, envelope, data, origin)
        if milters.reply is not None or milters.discard:
            return CleanupResult(None if milters.reply else queue_id, milters.reply or _queued(queue_id))
        state = QueueState.HOLD if milters.hold is not None else state
        if milters.content is not data or self.header_checks:  # else the lines are _split's own: no need to redo
            edited, body = _split(milters.content)
            headers = edited or headers
            data = b"".join(headers) + b"\r\n" + body
        bcc = origin.protocol != "local" or origin.service == "pickup"  # CLEANUP_FLAG_BCC_OK: new mail only
        envelope, originals = self._rewrite_envelope(envelope, verdict.redirect, bcc)
        message_id = _message_id(headers)
        attributes = (*origin.attributes, ("message_id", message_id or ""), ("origin", origin.service))
        qf = QueueFile.from_envelope(queue_id, envelope, data, arrival_time=now, state=state, attributes=attributes,
                                     originals=originals)  # fmt: skip
        host.sim.trace.emit(host.name, "cleanup", "cleanup", queue_id=queue_id, message_id=message_id, size=len(data))
        if verdict.discard:
            self._log(queue_id, f"discard: {verdict.what}")
            return CleanupResult(queue_id, Reply(250, "2.0.0", f"Ok: queued as {queue_id}"))
        host.queue.enter(qf, service="cleanup")
        wait = host.hardware.store(len(data)) if host.hardware is not None else 0.0  # CPU, then the fsync
        if state is not QueueState.INCOMING:
            host.flow.give_back()  # in_flow_delay: only mail for incoming keeps its token
        elif wait > 0:  # qmgr hears of the file once it is safely on disk
            host.sim.env.timeout(wait).callbacks.append(lambda _: host.qmgr.notify(queue_id))
        else:
            host.qmgr.notify(queue_id)
        return CleanupResult(queue_id, Reply(250, "2.0.0", f"Ok: queued as {queue_id}"), wait)

    def _corrupt(self, queue_id: str, envelope: Envelope, content: bytes, origin: Origin, why: str) -> CleanupResult:
        qf = QueueFile.from_envelope(queue_id, envelope, content, arrival_time=self.host.sim.now,
                                     state=QueueState.CORRUPT, attributes=(("origin", origin.service),))  # fmt: skip
        self.host.queue.enter(qf, service="cleanup")
        self._log(queue_id, f"warning: {why}: message moved to the corrupt queue")
        return CleanupResult(queue_id, Reply(250, "2.0.0", f"Ok: queued as {queue_id}"))

    def _too_many_hops(self, queue_id: str, envelope: Envelope, content: bytes, origin: Origin) -> CleanupResult:
        """hopcount_limit: smtpd's client gets 554 5.4.0; pickup's mail goes back to its sender (cleanup_bounce)."""
        host, now = self.host, self.host.sim.now
        self._log(queue_id, f"reject: too many hops; from=<{envelope.mail_from}>")
        if origin.service != "pickup":
            return CleanupResult(None, TOO_MANY_HOPS)
        qf = QueueFile.from_envelope(queue_id, envelope, content, arrival_time=now, attributes=(("origin", "pickup"),))
        statuses = tuple(RecipientStatus(rcpt, DeliveryStatus.BOUNCED, TOO_MANY_HOPS.status, "too many hops",
                                         rcpt_dsn=envelope.dsn_for(i)) for i, rcpt in enumerate(envelope.rcpt_tos))  # fmt: skip
        for status in statuses:
            host.sim.trace.emit(host.name, "cleanup", "delivery", queue_id=queue_id, to=status.recipient,
                                relay="none", delay=0.0, delays=(0.0, 0.0, 0.0, 0.0), dsn=status.dsn,
                                status=str(status.status), text=status.reason)  # fmt: skip
        host.bounce(qf, statuses, "failure")
        return CleanupResult(None, TOO_MANY_HOPS)

    def _log(self, queue_id: str, text: str) -> None:
        self.host.sim.trace.emit(self.host.name, "cleanup", "action", queue_id=queue_id, text=text)

    # -- content checks ---------------------------------------------------------------------------

    def _check_headers(self, headers: list[bytes], verdict: _Verdict) -> list[bytes]:
        if not self.header_checks:
            return headers
        out: list[bytes] = []
        for header in headers:
            text = header.decode("utf-8", "replace").rstrip("\r\n").replace("\r\n", "\n")
            action = _first(self.header_checks, text)
            out.extend(verdict.apply(action, header, f"header {text.splitlines()[0] if text else ''}"))
        return out

    def _check_body(self, body: bytes, verdict: _Verdict) -> None:
        if not self.body_checks:
            return
        for line in body.split(b"\r\n"):
            text = line.decode("utf-8", "replace")
            action = _first(self.body_checks, text)
            if action is not None:
                verdict.apply(action, line, f"body {text}")
                if verdict.reject is not None:
                    return

    # -- grooming -----------------------------------------------------------------------------------

    def _add_missing(self, queue_id: str, envelope: Envelope, headers: list[bytes]) -> list[bytes]:
        sim, origin, myhostname = self.host.sim, self.myorigin, self.myhostname
        names = [_name(h) for h in headers]
        present = set(names)
        groomed = [_qualify(h, origin) if name in _ADDRESS_HEADERS else h for name, h in zip(names, headers)]
        added: list[bytes] = []
        if b"message-id" not in present:
            added.append(f"Message-Id: {make_message_id(sim, myhostname, queue_id=queue_id)}\r\n".encode())
        if b"date" not in present:
            added.append(f"Date: {postfix_date(sim.wallclock())}\r\n".encode())
        if b"from" not in present:
            sender = envelope.mail_from or f"MAILER-DAEMON@{myhostname}"
            added.append(f"From: {_qualify_address(sender, origin)}\r\n".encode())
        if self.undisclosed and not present & _RECIPIENT_HEADERS:
            added.append(self.undisclosed.encode() + b"\r\n")
        if b"bcc" in present:  # qualifying keeps each header's name, so names still fits groomed
            groomed = [h for name, h in zip(names, groomed, strict=True) if name != b"bcc"]
        return groomed + [h for h in added if _name(h) != b"bcc"]

    def _rewrite_envelope(
        self, envelope: Envelope, redirect: str | None, bcc: bool = False
    ) -> tuple[Envelope, tuple[str, ...]]:
        """Canonical and virtual alias rewriting and automatic BCC; also each final recipient's original (orig_to=)."""
        settings, rewrite = self.host.rewrite.settings, self.host.rewrite.rewrite
        sender = envelope.mail_from
        if sender:  # trivial-rewrite canonicalises every envelope address (append_at_myorigin, ...)
            sender = masquerade(canonical_map(rewrite(sender), "sender", settings), settings)
        recipients: list[str] = []
        originals: list[str] = []
        pending = [redirect] if redirect else list(envelope.rcpt_tos)
        if bcc and (self.always_bcc or self.sender_bcc or self.recipient_bcc):
            pending += self._automatic_bcc(sender, pending, settings)
        for rcpt in pending:
            mapped = canonical_map(rewrite(rcpt), "recipient", settings)
            for final in expand_virtual(mapped, settings).addresses:
                if final not in recipients:
                    recipients.append(final)
                    originals.append(rcpt)
        if sender == envelope.mail_from and tuple(recipients) == tuple(envelope.rcpt_tos):
            return envelope, tuple(originals)
        rewritten = envelope.replace(
            mail_from=sender, rcpt_tos=tuple(recipients), rcpt_options=(), rcpt_dsn=_dsn_for(envelope, originals)
        )
        return rewritten, tuple(originals)

    def _automatic_bcc(self, sender: str, recipients: list[str], settings: Any) -> list[str]:
        """sender_bcc_maps (the rewritten sender), recipient_bcc_maps (each canonical recipient), always_bcc."""
        found: list[str] = []
        if sender and self.sender_bcc:
            found += (mail_addr_find(self.sender_bcc, sender, settings, propagate=False) or ())[:1]
        for rcpt in recipients if self.recipient_bcc else ():
            mapped = canonical_map(self.host.rewrite.rewrite(rcpt), "recipient", settings)
            found += (mail_addr_find(self.recipient_bcc, mapped, settings, propagate=False) or ())[:1]
        if self.always_bcc:
            found.append(self.always_bcc)
        return [a for i, a in enumerate(found) if a not in found[:i] and a not in recipients]


@dataclass(slots=True)
class _Verdict:
    """What header_checks/body_checks decided so far."""

    reject: Reply | None = None
    discard: bool = False
    hold: bool = False
    redirect: str | None = None
    what: str = ""

    def apply(self, action: str | None, original: bytes, what: str) -> list[bytes]:
        if action is None:
            return [original]
        verb, _, text = action.strip().partition(" ")
        verb = verb.upper()
        if verb == "REJECT":
            self.reject, self.what = Reply(550, "5.7.1", text.strip() or "message content rejected"), what
        elif verb == "DISCARD":
            self.discard, self.what = True, what
        elif verb == "HOLD":
            self.hold, self.what = True, what
        elif verb == "REDIRECT":
            self.redirect = text.strip()
        elif verb == "IGNORE":
            return []
        elif verb == "PREPEND":
            return [text.strip().encode() + b"\r\n", original]
        elif verb == "REPLACE":
            return [text.strip().encode() + b"\r\n"]
        elif verb[:1] in ("4", "5") and verb[:3].isdigit():
            self.reject, self.what = Reply(int(verb[:3]), f"{verb[0]}.7.1", text.strip() or "Error"), what
        return [original]


def _queued(queue_id: str) -> Reply:
    return Reply(250, "2.0.0", f"Ok: queued as {queue_id}")


def _first(tables: Sequence[Any], text: str) -> str | None:
    for table in tables:
        value = table.lookup(text)
        if value is not None:
            return str(value)
    return None


def _split(content: bytes) -> tuple[list[bytes] | None, bytes]:
    """Logical header lines (each with its folded continuation lines) and the body."""
    head, body = split_header_body(content)
    if not head.strip():
        return None, body
    headers: list[bytes] = []
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:
            headers[-1] += line + b"\r\n"
        elif _HEADER_NAME.match(line):
            headers.append(line + b"\r\n")
        else:
            return None, body
    return headers, body


def _name(header: bytes) -> bytes:
    colon = header.find(b":")  # header.split(b":", 1)[0] without copying the value
    return (header[:colon] if colon >= 0 else header).strip().lower()


def _hops(headers: list[bytes]) -> int:
    """Received: headers so far (cleanup_message.c counts them against hopcount_limit)."""
    return sum(1 for header in headers if header[:9].lower() == b"received:")


def _message_id(headers: list[bytes]) -> str | None:
    for header in headers:
        if _name(header) == b"message-id":
            return header.split(b":", 1)[1].decode("utf-8", "replace").strip().strip("<>") or None
    return None


def _qualify_address(address: str, origin: str) -> str:
    return address if "@" in address or not address else f"{address}@{origin}"


def _qualify(header: bytes, origin: str) -> bytes:
    """Append @$myorigin to bare local names in an address header (Postfix's header rewriting)."""
    name, _, value = header.partition(b":")
    text = value.decode("utf-8", "replace")
    fixed = _BARE_LOCAL.sub(lambda m: m.group(1) if "@" in m.group(1) else f"{m.group(1)}@{origin}",
                            text.rstrip("\r\n"))  # fmt: skip
    return name + b":" + fixed.encode() + b"\r\n" if fixed != text.rstrip("\r\n") else header


def _dsn_for(envelope: Envelope, originals: list[str]) -> tuple[RcptDsn, ...]:
    """Each rewritten recipient keeps the DSN request of the recipient it came from (or the default)."""
    by_address = {r: envelope.dsn_for(i) for i, r in enumerate(envelope.rcpt_tos)}
    return tuple(by_address.get(r, RcptDsn()) for r in originals)
