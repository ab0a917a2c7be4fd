"""Message content: RFC 5322/MIME messages as ``email.message.EmailMessage``, built, parsed and serialised.

Content is always an ``EmailMessage`` under :data:`MAIL_POLICY`: the stdlib SMTP policy (CRLF line
ends, 8bit allowed) with ``refold_source="none"`` so that a header an MTA did not write itself —
a Received line, a DKIM-Signature — leaves exactly as it arrived (re-folding would change bytes
that signatures cover). Line endings are never implicit: :func:`as_bytes` takes ``linesep``.

Dates come in two forms: :func:`format_date` is RFC 5322 §3.3 as user agents write it;
:func:`postfix_date` is Postfix 3.7's ``mail_date()`` (day of month space-padded, zone name in a
comment), used in Received lines and DSNs. Message-IDs never come from wall clocks or os.urandom:
:func:`make_message_id` takes the simulation (or a numpy generator, or a counter value).
"""

from __future__ import annotations

import email.policy
import email.utils
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Protocol

MAIL_POLICY = email.policy.SMTP.clone(refold_source="none")
MAIL_POLICY_UTF8 = email.policy.SMTPUTF8.clone(refold_source="none")
CRLF = "\r\n"

Attachment = tuple[str, bytes, str]  # (filename, data, "maintype/subtype")


class _SimLike(Protocol):
    def wallclock(self, at: float | None = None) -> datetime: ...

    def counter(self, name: str) -> int: ...


class _RngLike(Protocol):
    def integers(self, low: int, high: int | None = None) -> Any: ...


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # strftime %a and %b in the C locale, without strftime
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def format_date(moment: datetime) -> str:
    """RFC 5322 §3.3 date-time, e.g. ``Mon, 05 Jan 2026 09:00:00 +0000``; naive datetimes are UTC."""
    return email.utils.format_datetime(_utc(moment))


def postfix_date(moment: datetime) -> str:
    """Postfix 3.7 ``mail_date()``: ``Mon,  5 Jan 2026 09:00:00 +0000 (UTC)`` (strftime ``%e``)."""
    moment = _utc(moment)
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    zone = moment.tzname() or "UTC"
    if zone.startswith("UTC") and zone != "UTC":
        zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:2d} {_MONTHS[moment.month - 1]} {moment.year} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} "
        f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d} ({zone})"
    )


def parse_date(text: str) -> datetime | None:
    """An RFC 5322 date (comments and obsolete forms allowed) as an aware datetime; None when unreadable.

    A ``-0000`` zone (RFC 5322 §3.3: local time unknown) is read as UTC.
    """
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def make_message_id(
    source: _SimLike | _RngLike | int,
    domain: str,
    *,
    when: datetime | None = None,
    queue_id: str | None = None,
) -> str:
    """``<YYYYMMDDhhmmss.QUEUEID@domain>`` as Postfix's cleanup writes it, deterministically.

    ``source`` is the :class:`~mailsim.core.Simulation` (time from its clock, the token from a
    run-local counter), a numpy ``Generator`` (random token) or an int (the token itself). A
    ``queue_id`` given is used as the token, exactly like cleanup does.
    """
    if hasattr(source, "wallclock"):
        when = when or source.wallclock()  # type: ignore[union-attr]
        token = queue_id or f"{source.counter('message-id'):010X}"  # type: ignore[union-attr]
    elif when is None:
        raise ValueError("make_message_id needs when= unless given a Simulation")
    elif isinstance(source, int):
        token = queue_id or f"{source:010X}"
    else:
        token = queue_id or f"{int(source.integers(0, 16**10)):010X}"
    when = when.astimezone(UTC) if when.tzinfo else when  # then %Y%m%d%H%M%S, without strftime
    stamp = f"{when.year}{when.month:02d}{when.day:02d}{when.hour:02d}{when.minute:02d}{when.second:02d}"
    return f"<{stamp}.{token}@{domain}>"


def _addresses(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else ", ".join(value)


def build_message(
    from_: str,
    to: str | Sequence[str],
    subject: str,
    body: str,
    *,
    cc: str | Sequence[str] = (),
    date: datetime | str | None = None,
    message_id: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    attachments: Iterable[Attachment] = (),
    html: str | None = None,
    policy: email.policy.Policy = MAIL_POLICY,
) -> EmailMessage:
    """A real RFC 5322/MIME message as a user agent composes it.

    Date and Message-ID are left out unless given: adding missing ones is cleanup's job, and a
    scenario may want to show exactly that. ``html`` makes multipart/alternative; attachments
    make multipart/mixed.
    """
    msg = EmailMessage(policy=policy)
    msg["From"] = from_
    if to:
        msg["To"] = _addresses(to)
    if cc:
        msg["Cc"] = _addresses(cc)
    msg["Subject"] = subject
    if date is not None:
        msg["Date"] = date if isinstance(date, str) else format_date(date)
    if message_id is not None:
        msg["Message-ID"] = message_id
    for name, value in headers:
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, data, mime_type in attachments:
        maintype, _, subtype = mime_type.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return msg


def parse_message(data: bytes | str, *, policy: email.policy.Policy = MAIL_POLICY) -> EmailMessage:
    """Parse wire bytes (CRLF or LF) into an EmailMessage; never raises on damage, see message_defects."""
    raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
    message = BytesParser(policy=policy).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def message_defects(msg: EmailMessage) -> list[str]:
    """Everything the parser found wrong, one line each (empty list: the message is sound).

    Used by cleanup to decide whether a message is damaged; reading each header also runs the
    structured header parsers, so broken address or date headers show up here.
    """
    found: list[str] = []
    for index, part in enumerate(msg.walk()):
        where = f"part {index} ({part.get_content_type()})"
        found.extend(f"{where}: {type(defect).__name__}: {defect}" for defect in part.defects)
        for name in dict.fromkeys(part.keys()):  # noqa: SIM118 - distinct header names in order
            try:
                headers = part.get_all(name) or []
            except Exception as error:  # noqa: BLE001 - the stdlib header parsers can fail on garbage
                found.append(f"{where}: header {name}: unparseable ({type(error).__name__})")
                continue
            for header in headers:
                found.extend(
                    f"{where}: header {name}: {type(defect).__name__}: {defect}"
                    for defect in getattr(header, "defects", ())
                )
    return found


def as_bytes(msg: EmailMessage, *, linesep: str = CRLF) -> bytes:
    """The message as it goes on the wire (CRLF) or into a Unix mailbox (``linesep="\\n"``)."""
    policy = msg.policy.clone(linesep=linesep)
    return msg.as_bytes(policy=policy)


def message_size(msg: EmailMessage) -> int:
    """Size in bytes as SMTP counts it (CRLF line ends, RFC 1870 §3)."""
    return len(as_bytes(msg))


def prepend_header(msg: EmailMessage, name: str, value: str) -> None:
    """Put a header on top, kept exactly as given (``value`` may be folded with ``\\n\\t``).

    MTAs prepend trace headers (RFC 5321 §4.4); the email package only appends, so the header
    list is rebuilt through the public raw-item API.
    """
    items = list(msg.raw_items())
    for key in {key.lower() for key, _ in items}:
        del msg[key]
    msg.set_raw(name, value)
    for key, item in items:
        msg.set_raw(key, item)


def raw_header_values(msg: EmailMessage, name: str) -> list[str]:
    """Every value of header ``name`` as stored (folded, undecoded), top first."""
    wanted = name.lower()
    return [str(value) for key, value in msg.raw_items() if key.lower() == wanted]


def unfold(value: str) -> str:
    """RFC 5322 §2.2.3 unfolding: drop the line breaks, keep the whitespace that followed them."""
    return value.replace("\r\n", "\n").replace("\n", "")


def split_header_body(data: bytes) -> tuple[bytes, bytes]:
    """Wire bytes cut at the first empty line: (header section with its last line end, body)."""
    for blank in (b"\r\n", b"\n"):
        if data.startswith(blank):
            return b"", data[len(blank) :]
    for marker in (b"\r\n\r\n", b"\n\n"):
        cut = data.find(marker)
        if cut >= 0:
            end = cut + len(marker) // 2
            return data[:end], data[cut + len(marker) :]
    return data, b""


def fold_long_lines(content: bytes, limit: int) -> bytes:
    """Break lines longer than ``limit`` bytes as Postfix's smtp(8) does (smtp_line_length_limit, 998).

    Why: a queue file keeps lines of any length but SMTP allows 998 octets, so smtp_text_out() writes the
    first ``limit`` bytes, then continues on new lines that start with a space (``limit - 1`` bytes each),
    which MIME readers take as folding. ``limit`` 0 sends lines unchanged. Line endings are kept.
    """
    if limit <= 0 or not _has_long_line(content, limit):
        return content
    out: list[bytes] = []
    for line in content.splitlines(keepends=True):
        body = line.rstrip(b"\r\n")
        if len(body) <= limit:
            out.append(line)
            continue
        ending = line[len(body) :] or b"\r\n"
        out.append(body[:limit] + ending)
        out.extend(b" " + body[at : at + limit - 1] + ending for at in range(limit, len(body), limit - 1))
    return b"".join(out)


def _has_long_line(content: bytes, limit: int) -> bool:
    """Whether a line (between CR or LF line breaks) is longer than ``limit`` bytes.

    Why: every message is checked before it is sent. A window of ``limit + 1`` bytes without a line break
    is such a line; else the next window starts after the window's last break, so about two windows per
    ``limit`` bytes are searched from their end, and no line is copied.
    """
    start, end = 0, len(content)
    while end - start > limit:
        stop = start + limit + 1
        last_break = max(content.rfind(b"\n", start, stop), content.rfind(b"\r", start, stop))
        if last_break < 0:
            return True
        start = last_break + 1
    return False
