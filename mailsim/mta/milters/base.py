"""What a milter sees and answers at the end of a message, in the Sendmail milter protocol's terms.

Postfix talks to milters (MILTER_README) over a socket; mailsim calls them directly with a
:class:`MilterMessage` - the macros Postfix sends (``j``, ``i``, ``{client_addr}``, ``{client_name}``,
``{auth_authen}``, ``{daemon_name}``), the envelope and the content as modified by the milters
before it - and gets a :class:`MilterVerdict`: the libmilter reply (continue, accept, reject,
tempfail, discard, quarantine) and the edits (headers inserted at the top as ``smfi_insheader``
with index 0 does, a replaced body as ``smfi_replacebody``). Each milter also says what it costs
in processing time (:class:`Cost`) and what it found (``results``, for the trace).

Postfix parameters read: none (see :mod:`mailsim.mta.milters.chain`).
"""

from __future__ import annotations

import email
import email.policy
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mailsim.mail.envelope import Envelope
from mailsim.mail.message import split_header_body, unfold
from mailsim.mail.reply import Reply
from mailsim.policy.auth.authres import AuthResults, parse
from mailsim.policy.auth.dnsview import DnsQuery


class MilterAction(enum.Enum):
    """The milter's answer (libmilter's SMFIS_* and SMFIR_QUARANTINE)."""

    CONTINUE = "continue"
    ACCEPT = "accept"
    REJECT = "reject"
    TEMPFAIL = "tempfail"
    DISCARD = "discard"
    QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True)
class MilterMessage:
    """One message at end-of-data, with the macros a milter may ask Postfix for."""

    myhostname: str  # j
    queue_id: str  # i
    client_address: str  # {client_addr}
    client_name: str  # {client_name}
    helo: str  # {s} (the HELO/EHLO name)
    sasl_username: str | None  # {auth_authen}
    daemon_name: str  # {daemon_name} (milter_macro_daemon_name)
    smtpd: bool  # arrived through smtpd(8) (smtpd_milters) or not (non_smtpd_milters)
    envelope: Envelope
    content: bytes
    now: float  # simulated Unix time

    @property
    def authenticated(self) -> bool:
        return bool(self.sasl_username)

    def headers(self, name: str) -> list[str]:
        """Unfolded values of every ``name`` header, top first."""
        return header_values(self.content, name)

    @property
    def message_id(self) -> str | None:
        """The Message-ID without angle brackets, as cleanup records it in the trace."""
        values = self.headers("Message-ID")
        return values[0].strip().strip("<>") or None if values else None


@dataclass(frozen=True, slots=True)
class MilterVerdict:
    """A milter's reply and edits; ``results`` are ``(name, value)`` facts for the trace."""

    action: MilterAction = MilterAction.CONTINUE
    reply: Reply | None = None
    headers: tuple[str, ...] = ()  # "Name: value" lines, inserted at the top in this order
    body: bytes | None = None
    reason: str = ""
    results: tuple[tuple[str, str], ...] = ()


CONTINUE = MilterVerdict()


@dataclass(frozen=True, slots=True)
class Cost:
    """Processing time of one message: a fixed part and a part per byte."""

    base: float
    rate: float = 0.0  # bytes per second; 0 = no size-dependent part

    def of(self, size: int) -> float:
        return self.base + (size / self.rate if self.rate else 0.0)


class Milter(Protocol):
    """A milter daemon as the chain calls it."""

    @property
    def name(self) -> str:
        """The daemon's name in the trace (``opendkim``, ``clamav-milter``, ...)."""
        ...

    def cost(self, size: int) -> float: ...

    def end_of_message(self, message: MilterMessage) -> MilterVerdict: ...


@dataclass
class DaemonContext:
    """What a daemon on a host may use: the host's name and folder, its DNS, clock and random streams."""

    host: str
    myhostname: str
    folder: Any
    dns: DnsQuery
    rng: Callable[[str], Any]
    keys: Any  # the host's KeyRing
    own_names: tuple[str, ...] = field(default=())


def split_content(content: bytes) -> tuple[list[bytes], bytes]:
    """Logical header lines (CRLF-terminated, continuation lines kept) and the body."""
    head, body = split_header_body(content)
    headers: list[bytes] = []
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:
            headers[-1] += line + b"\r\n"
        else:
            headers.append(line + b"\r\n")
    return headers, body


def join_content(headers: list[bytes], body: bytes) -> bytes:
    return b"".join(headers) + b"\r\n" + body


def header_values(content: bytes, name: str) -> list[str]:
    """Unfolded values of every ``name`` header, top first."""
    wanted = name.lower().encode()
    values = []
    for header in split_content(content)[0]:
        field_name, _, value = header.partition(b":")
        if field_name.strip().lower() == wanted:
            values.append(unfold(value.decode("utf-8", "replace")).strip())
    return values


def insert_headers(content: bytes, lines: tuple[str, ...]) -> bytes:
    """``lines`` on top of the message (the first one topmost); multi-line values keep their folding."""
    block = b"".join(line.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8") + b"\r\n" for line in lines)
    return block + content


def replace_body(content: bytes, body: bytes) -> bytes:
    headers, _ = split_content(content)
    return join_content(headers, body)


def trusted_results(message: MilterMessage, authserv_ids: set[str]) -> list[AuthResults]:
    """The Authentication-Results headers written by one of ``authserv_ids`` (lower-case), top first."""
    parsed = [parse(value) for value in message.headers("Authentication-Results")]
    return [r for r in parsed if r is not None and r.authserv_id.lower() in authserv_ids]


def text_of(content: bytes) -> str:
    """Subject and every text part, decoded (base64, quoted-printable), for pattern filters."""
    msg = email.message_from_bytes(content, policy=email.policy.compat32)
    texts = [str(msg.get("Subject", ""))]
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(payload.decode("utf-8", "replace"))
    return "\n".join(texts)


def payloads_of(content: bytes) -> list[bytes]:
    """Every leaf part's decoded bytes (attachments included), for the virus scanner."""
    msg = email.message_from_bytes(content, policy=email.policy.compat32)
    found = [content]
    for part in msg.walk():
        payload = part.get_payload(decode=True) if not part.is_multipart() else None
        if isinstance(payload, bytes):
            found.append(payload)
    return found
