"""Delivery Status Notifications (RFC 3464 multipart/report) in Postfix 3.7's exact form, and a reader.

A DSN has three parts (RFC 6522, RFC 3464 §2): a human-readable notification in Postfix's
wording, a ``message/delivery-status`` part with per-message fields (Reporting-MTA, Postfix's
X-Postfix-Queue-ID and X-Postfix-Sender, Arrival-Date) and per-recipient fields (Final-Recipient,
Original-Recipient, Action, Status, Remote-MTA, Diagnostic-Code, Will-Retry-Until), and the
returned message: ``message/rfc822`` for RET=FULL, ``text/rfc822-headers`` for RET=HDRS. Delay
warnings always return headers only, as Postfix does; success reports return headers unless
RET=FULL was asked. Text and layout equal DSNs captured from a real Postfix 3.7.11
(``tests/data/mail/postfix-3.7/dsn-*.eml``): long lines wrap at 79 columns with a 4-space indent.

The bounce daemon hands the rendered message to cleanup, which adds Message-Id and the local
Received line (see :func:`mailsim.mail.received.local_received`), as in Postfix.
Postfix parameters used: ``myhostname`` (Reporting-MTA), ``myorigin`` (MAILER-DAEMON@),
``delay_warning_time`` and ``maximal_queue_lifetime`` (delay text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, Message
from enum import StrEnum

from mailsim.mail.delivery import DeliveryStatus, RecipientStatus
from mailsim.mail.envelope import Ret
from mailsim.mail.message import parse_date, parse_message, postfix_date, split_header_body

WRAP_WIDTH = 79  # Postfix bounce_notify_util.c
WRAP_INDENT = 4


class Action(StrEnum):
    """RFC 3464 §2.3.3 Action values."""

    FAILED = "failed"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    RELAYED = "relayed"
    EXPANDED = "expanded"


class ReportKind(StrEnum):
    """Which notice: what Postfix's bounce, defer (delay warning) and trace (success) services send."""

    FAILURE = "failure"
    DELAY = "delay"
    SUCCESS = "success"


SUBJECTS = {
    ReportKind.FAILURE: "Undelivered Mail Returned to Sender",
    ReportKind.DELAY: "Delayed Mail (still being retried)",
    ReportKind.SUCCESS: "Successful Mail Delivery Report",
}
_INTRO = "This is the mail system at host {host}.\n\n"
_HELP = (
    "For further assistance, please send mail to postmaster.\n\n"
    "If you do so, please include this problem report. You can\n"
    "delete your own text from the attached returned message.\n\n"
)
_SIGNATURE = "                   The mail system\n"
_FAILURE_TEXT = (
    "I'm sorry to have to inform you that your message could not\n"
    "be delivered to one or more recipients. It's attached below.\n\n" + _HELP
)
_DELAY_TEXT = (
    "####################################################################\n"
    "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
    "####################################################################\n\n"
    "Your message could not be delivered for more than {hours} hour(s).\n"
    "It will be retried until it is {days} day(s) old.\n\n" + _HELP
)
_SUCCESS_TEXT = (
    "Your message was successfully delivered to the destination(s)\n"
    "listed below. If the message was delivered to mailbox you will\n"
    "receive no further notifications. Otherwise you may still receive\n"
    "notifications of mail delivery errors from other systems.\n\n"
)


@dataclass(frozen=True, slots=True)
class DsnRecipient:
    """One recipient's block; ``reason`` is the human-readable line, ``diagnostic`` the machine one."""

    final_recipient: str
    action: Action
    status: str
    reason: str
    original_recipient: str | None = None  # as printed: "rfc822;addr" (ORCPT, else the original address)
    expanded_from: str | None = None  # the address before alias expansion, shown in the notification
    remote_mta: str | None = None
    diagnostic_type: str = "X-Postfix"  # "smtp" when the diagnostic is a remote SMTP reply
    diagnostic: str | None = None
    will_retry_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class DsnReport:
    """The machine-readable content of one DSN: the same record is built from and parsed back to."""

    kind: ReportKind
    reporting_mta: str
    queue_id: str
    sender: str
    arrival_date: datetime | None
    recipients: tuple[DsnRecipient, ...]
    envid: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedDsn:
    """A DSN read back: its report, the notification text and what it returned of the original."""

    report: DsnReport
    notification: str
    returned: EmailMessage | None
    returned_headers: str | None


_ACTIONS = {
    DeliveryStatus.BOUNCED: Action.FAILED,
    DeliveryStatus.EXPIRED: Action.FAILED,
    DeliveryStatus.DEFERRED: Action.DELAYED,
    DeliveryStatus.EXPANDED: Action.EXPANDED,
}


def dsn_recipient(outcome: RecipientStatus, *, will_retry_until: datetime | None = None) -> DsnRecipient:
    """The DSN block for one recipient's outcome, worded as Postfix's bounce/defer/trace services do.

    Success is ``relayed`` when the message went to another MTA (that MTA may or may not send its
    own DSN: RFC 3461 §4.1), ``delivered`` when it reached a mailbox here.
    """
    remote = outcome.relay not in ("none", "local")
    if outcome.status is DeliveryStatus.SENT:
        action = Action.RELAYED if remote else Action.DELIVERED
        reason = f"delivery via {outcome.relay}: {outcome.reason}" if remote else outcome.reason
    else:
        action, reason = _ACTIONS[outcome.status], outcome.reason
    dsn = outcome.rcpt_dsn
    orcpt = f"{dsn.orcpt_type};{dsn.orcpt}" if dsn.orcpt else f"rfc822;{outcome.original or outcome.recipient}"
    expanded = outcome.original if outcome.original and outcome.original != outcome.recipient else None
    return DsnRecipient(
        final_recipient=outcome.recipient,
        action=action,
        status=outcome.dsn,
        reason=reason,
        original_recipient=orcpt,
        expanded_from=expanded,
        remote_mta=outcome.remote_mta if outcome.reply is not None else None,
        diagnostic_type="smtp" if outcome.reply is not None else "X-Postfix",
        diagnostic=outcome.reply.oneline() if outcome.reply is not None else outcome.reason,
        will_retry_until=will_retry_until if action is Action.DELAYED else None,
    )


def wrap(text: str, width: int = WRAP_WIDTH, indent: int = WRAP_INDENT) -> str:
    """Postfix's line_wrap(): greedy word wrap, continuation lines indented; long words never split."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        pad = " " * indent if lines else ""
        if current and len(pad) + len(current) + 1 + len(word) > width:
            lines.append(pad + current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append((" " * indent if lines else "") + current)
    return "\n".join(lines)


def _recipient_line(rcpt: DsnRecipient) -> str:
    expanded = f" (expanded from <{rcpt.expanded_from}>)" if rcpt.expanded_from else ""
    return wrap(f"<{rcpt.final_recipient}>{expanded}: {rcpt.reason}")


def notification_text(
    report: DsnReport, *, delay_warning_time: float = 14400.0, maximal_queue_lifetime: float = 432000.0
) -> str:
    """The human-readable first part in Postfix's words."""
    if report.kind is ReportKind.FAILURE:
        body = _FAILURE_TEXT
    elif report.kind is ReportKind.DELAY:
        body = _DELAY_TEXT.format(hours=int(delay_warning_time // 3600), days=int(maximal_queue_lifetime // 86400))
    else:
        body = _SUCCESS_TEXT
    lines = "\n\n".join(_recipient_line(rcpt) for rcpt in report.recipients)
    return _INTRO.format(host=report.reporting_mta) + body + _SIGNATURE + "\n" + lines + "\n"


def delivery_status_text(report: DsnReport) -> str:
    """The message/delivery-status body (RFC 3464 §2.2-2.3), blocks separated by empty lines."""
    head = [f"Reporting-MTA: dns; {report.reporting_mta}"]
    if report.envid is not None:
        head.append(f"Original-Envelope-Id: {report.envid}")
    head += [
        f"X-Postfix-Queue-ID: {report.queue_id}",
        f"X-Postfix-Sender: rfc822; {report.sender}",
    ]
    if report.arrival_date is not None:
        head.append(f"Arrival-Date: {postfix_date(report.arrival_date)}")
    blocks = ["\n".join(head)]
    for rcpt in report.recipients:
        fields = [f"Final-Recipient: rfc822; {rcpt.final_recipient}"]
        if rcpt.original_recipient:
            fields.append(f"Original-Recipient: {rcpt.original_recipient}")
        fields += [f"Action: {rcpt.action}", f"Status: {rcpt.status}"]
        if rcpt.remote_mta:
            fields.append(f"Remote-MTA: dns; {rcpt.remote_mta}")
        fields.append(wrap(f"Diagnostic-Code: {rcpt.diagnostic_type}; {rcpt.diagnostic or rcpt.reason}"))
        if rcpt.will_retry_until is not None:
            fields.append(f"Will-Retry-Until: {postfix_date(rcpt.will_retry_until)}")
        blocks.append("\n".join(fields))
    return "\n\n".join(blocks) + "\n"


def _returned_part(kind: ReportKind, ret: Ret | None, sender: str, original: bytes) -> tuple[str, str, bytes]:
    """(Content-Description, Content-Type, content) of the third part."""
    full = ret is Ret.FULL if kind is ReportKind.SUCCESS else (kind is ReportKind.FAILURE and ret is not Ret.HDRS)
    text = original.replace(b"\r\n", b"\n")
    if not full:
        text = split_header_body(text)[0]
    if text and not text.endswith(b"\n"):
        text += b"\n"
    done = kind is ReportKind.SUCCESS
    if full:
        description = "Delivered Message" if done else "Undelivered Message"
    else:
        description = "Message Headers" if done else "Undelivered Message Headers"
    content_type = "message/rfc822" if full else "text/rfc822-headers"
    return description, content_type, f"Return-Path: <{sender}>\n".encode() + text


def render_dsn(
    report: DsnReport,
    original: bytes,
    *,
    date: datetime,
    myorigin: str,
    ret: Ret | None = None,
    message_id: str | None = None,
    delay_warning_time: float = 14400.0,
    maximal_queue_lifetime: float = 432000.0,
) -> bytes:
    """The DSN as wire bytes (CRLF): what Postfix's bounce daemon submits to cleanup."""
    boundary = f"{report.queue_id}.{int(date.timestamp())}/{report.reporting_mta}"
    description, content_type, returned = _returned_part(report.kind, ret, report.sender, original)
    head = (
        f"Date: {postfix_date(date)}\nFrom: Mail Delivery System <MAILER-DAEMON@{myorigin}>\n"
        f"Subject: {SUBJECTS[report.kind]}\nTo: {report.sender}\nAuto-Submitted: auto-replied\n"
        f"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;\n"
        f'\tboundary="{boundary}"\nContent-Transfer-Encoding: 8bit\n'
        + (f"Message-Id: {message_id}\n" if message_id else "")
        + "\nThis is a MIME-encapsulated message.\n\n"
    )
    notice = notification_text(
        report, delay_warning_time=delay_warning_time, maximal_queue_lifetime=maximal_queue_lifetime
    )
    parts = [
        "Content-Description: Notification\nContent-Type: text/plain; charset=utf-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{notice}".encode(),
        f"Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
        f"{delivery_status_text(report)}".encode(),
        f"Content-Description: {description}\nContent-Type: {content_type}\n"
        f"Content-Transfer-Encoding: 8bit\n\n".encode()
        + returned,
    ]
    body = b"".join(f"--{boundary}\n".encode() + part + b"\n" for part in parts)
    wire = head.encode() + body + f"--{boundary}--\n".encode()
    return wire.replace(b"\n", b"\r\n")


def build_dsn(report: DsnReport, original: bytes, **options: object) -> EmailMessage:
    """The DSN as an EmailMessage (see :func:`render_dsn` for the options)."""
    return parse_message(render_dsn(report, original, **options))  # type: ignore[arg-type]


def _value(block: Message, name: str) -> str | None:
    value = block.get(name)
    return " ".join(str(value).split()) if value is not None else None


def _typed(value: str | None) -> str | None:
    """``"rfc822; a@b"`` -> ``"a@b"``."""
    return value.partition(";")[2].strip() if value and ";" in value else value


def _notification_reasons(text: str) -> dict[str, tuple[str | None, str]]:
    """final recipient -> (expanded_from, reason) from the human-readable part."""
    found: dict[str, tuple[str | None, str]] = {}
    for paragraph in text.replace("\r\n", "\n").split("\n\n"):
        line = " ".join(paragraph.split())
        if not line.startswith("<") or ">: " not in line and ">) " not in line:
            continue
        address, _, rest = line[1:].partition(">")
        expanded = None
        if rest.startswith(" (expanded from <"):
            expanded, _, rest = rest[len(" (expanded from <") :].partition(">)")
        found[address] = (expanded, rest.removeprefix(":").strip())
    return found


def _recipient_block(block: Message, reasons: dict[str, tuple[str | None, str]]) -> DsnRecipient:
    final = _typed(_value(block, "Final-Recipient")) or ""
    diagnostic_type, _, diagnostic = (_value(block, "Diagnostic-Code") or "").partition(";")
    expanded, reason = reasons.get(final, (None, diagnostic.strip()))
    retry = _value(block, "Will-Retry-Until")
    return DsnRecipient(
        final_recipient=final,
        action=Action((_value(block, "Action") or "failed").lower()),
        status=_value(block, "Status") or "",
        reason=reason,
        original_recipient=_value(block, "Original-Recipient"),
        expanded_from=expanded,
        remote_mta=_typed(_value(block, "Remote-MTA")),
        diagnostic_type=diagnostic_type.strip() or "X-Postfix",
        diagnostic=diagnostic.strip() or None,
        will_retry_until=parse_date(retry) if retry else None,
    )


def _kind(msg: EmailMessage, actions: set[Action]) -> ReportKind:
    by_subject = {subject: kind for kind, subject in SUBJECTS.items()}
    if str(msg.get("Subject", "")) in by_subject:
        return by_subject[str(msg["Subject"])]
    if Action.FAILED in actions:
        return ReportKind.FAILURE
    return ReportKind.DELAY if Action.DELAYED in actions else ReportKind.SUCCESS


def parse_dsn(message: EmailMessage | bytes) -> ParsedDsn:
    """Read a multipart/report DSN (ours or another MTA's); ValueError when it is not one."""
    msg = parse_message(message) if isinstance(message, bytes) else message
    if msg.get_content_type() != "multipart/report":
        raise ValueError(f"not a DSN: Content-Type is {msg.get_content_type()}")
    parts = list(msg.iter_parts())
    status = next((p for p in parts if p.get_content_type() == "message/delivery-status"), None)
    if status is None:
        raise ValueError("not a DSN: no message/delivery-status part")
    notification = next((p.get_content() for p in parts if p.get_content_type() == "text/plain"), "")
    blocks = [block for block in status.get_payload() if isinstance(block, Message)]
    if not blocks:
        raise ValueError("not a DSN: empty message/delivery-status part")
    reasons = _notification_reasons(notification)
    recipients = tuple(_recipient_block(block, reasons) for block in blocks[1:])
    head = blocks[0]
    arrival = _value(head, "Arrival-Date")
    report = DsnReport(
        kind=_kind(msg, {rcpt.action for rcpt in recipients}),
        reporting_mta=_typed(_value(head, "Reporting-MTA")) or "",
        queue_id=_value(head, "X-Postfix-Queue-ID") or "",
        sender=_typed(_value(head, "X-Postfix-Sender")) or "",
        arrival_date=parse_date(arrival) if arrival else None,
        recipients=recipients,
        envid=_value(head, "Original-Envelope-Id"),
    )
    returned = next((p for p in parts if p.get_content_type() == "message/rfc822"), None)
    headers = next((p for p in parts if p.get_content_type() == "text/rfc822-headers"), None)
    inner = returned.get_payload(0) if returned is not None else None
    inner = inner if isinstance(inner, EmailMessage) else None
    return ParsedDsn(report, notification, inner, headers.get_content() if headers is not None else None)
