"""What a client session is asked to do and what it reports: flat, frozen records (DESIGN.md §5).

A :class:`SessionPlan` is everything :func:`mailsim.engine.client.deliver` needs; a :class:`SessionResult` is
everything it found out, including one :class:`RecipientResult` per recipient. The delivery agent turns those
into per-recipient status (sent, deferred, bounced) and the trace; the fast fidelity builds the same results
without the engine.

Postfix parameters read (through :class:`ClientTimeouts`, RFC 5321 §4.5.3.2 defaults): smtp_connect_timeout
(30s), smtp_helo_timeout (300s), smtp_starttls_timeout (300s), smtp_mail_timeout (300s), smtp_rcpt_timeout
(300s), smtp_data_init_timeout (120s), smtp_data_xfer_timeout (180s), smtp_data_done_timeout (600s),
smtp_quit_timeout (300s), smtp_rset_timeout (20s).
"""

from __future__ import annotations

import enum
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mailsim.engine.hooks import TlsInfo
from mailsim.engine.transcript import TranscriptLine
from mailsim.mail.reply import Reply


class StartTls(enum.Enum):
    """smtp_tls_security_level as far as it concerns STARTTLS: none, may (opportunistic), encrypt (mandatory)."""

    NONE = "none"
    MAY = "may"
    ENCRYPT = "encrypt"


class Outcome(enum.Enum):
    """How a session ended; everything but COMPLETED names the ``stage`` where it stopped."""

    COMPLETED = "completed"  # the server answered the end of DATA (see the recipients)
    REFUSED = "refused"  # TCP connection refused
    UNREACHABLE = "unreachable"  # no TCP connection within smtp_connect_timeout (no route, host down)
    REJECTED = "rejected"  # the server refused: greeting, EHLO/HELO, STARTTLS, AUTH, MAIL, every RCPT, DATA
    TIMEOUT = "timeout"  # no reply within that stage's timeout
    LOST = "lost"  # the connection broke
    TLS_FAILED = "tls-failed"  # TLS required but not offered, or the handshake failed


@dataclass(frozen=True, slots=True)
class ClientTimeouts:
    """Seconds to wait at each stage (Postfix's smtp_*_timeout; RFC 5321 §4.5.3.2 gives the defaults)."""

    connect: float = 30.0
    helo: float = 300.0  # greeting and EHLO/HELO (§4.5.3.2.1: initial 5 min)
    starttls: float = 300.0
    mail: float = 300.0  # §4.5.3.2.2
    rcpt: float = 300.0  # §4.5.3.2.3
    data_init: float = 120.0  # §4.5.3.2.4
    data_xfer: float = 180.0  # §4.5.3.2.5
    data_done: float = 600.0  # §4.5.3.2.6
    quit: float = 300.0
    rset: float = 20.0  # smtp_rset_timeout: the probe of a cached connection and the RSET that ends a rejected one


@dataclass(frozen=True, slots=True)
class Credentials:
    """SMTP AUTH as a client (smtp_sasl_password_maps); ``mechanism`` None picks PLAIN, then LOGIN."""

    username: str
    password: str = field(repr=False)
    mechanism: str | None = None


@dataclass(frozen=True, slots=True)
class Transaction:
    """One message: envelope, per-recipient ESMTP parameters (``NOTIFY=...``, ``ORCPT=...``) and content."""

    mail_from: str
    recipients: tuple[str, ...]
    content: bytes
    mail_options: tuple[str, ...] = ()
    rcpt_options: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """Where to connect and how to behave; ``helo_name`` is required (no DNS or getfqdn behind our back)."""

    host: str
    helo_name: str
    transaction: Transaction
    port: int = 25
    source_address: str | None = None
    starttls: StartTls = StartTls.NONE
    tls_context: ssl.SSLContext | None = None
    server_name: str | None = None
    credentials: Credentials | None = None
    timeouts: ClientTimeouts = ClientTimeouts()
    cache_until: float | None = None
    """Keep the connection for the next transaction instead of QUIT, while the clock is at most this (None: QUIT)."""


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """A recipient's verdict: the reply that decided it, and whether that is final (2xx/5xx) or not (4xx)."""

    address: str
    reply: Reply | None
    final: bool

    @property
    def status(self) -> str:
        """Postfix's word for it: ``sent``, ``bounced`` or ``deferred``."""
        if self.reply is not None and self.final:
            return "sent" if self.reply.code < 300 else "bounced"
        return "deferred"


@dataclass(frozen=True, slots=True)
class SessionResult:
    """What happened in one client session, as flat data for the trace and the delivery agent."""

    outcome: Outcome
    stage: str
    reply: Reply | None
    recipients: tuple[RecipientResult, ...]
    peer: str
    esmtp: bool = False
    tls: TlsInfo | None = None
    authenticated: bool = False
    detail: str = ""
    started: float = 0.0
    ended: float = 0.0
    transcript: tuple[TranscriptLine, ...] = ()
    kept: OpenSession | None = field(default=None, compare=False, repr=False)
    """The connection, still open after the transaction, when the plan asked to keep it and the server allowed."""


class OpenSession(Protocol):
    """A connection kept after a transaction (Postfix's cached session): one more transaction, or close it."""

    async def again(self, transaction: Transaction, cache_until: float | None) -> SessionResult | None:
        """RSET probe, then the transaction; None when the probe failed (the connection is closed then)."""
        ...

    def close(self) -> None:
        """Close without QUIT, as scache(8) does when a cached connection's time is up."""
        ...


def keepable(plan: SessionPlan, outcome: Outcome, stage: str, reply: Reply | None, now: float) -> bool:
    """May the connection be kept (smtp_proto.c's DOT and ABORT states): a transaction that ended with the server
    still talking, and the plan's reuse time not over; a rejected greeting, EHLO or TLS is never kept."""
    if plan.cache_until is None or now > plan.cache_until or (reply is not None and reply.code == 421):
        return False
    return outcome is Outcome.COMPLETED or (outcome is Outcome.REJECTED and stage in ("mail", "rcpt", "data"))


# -- the client's rules both fidelities follow ------------------------------------------------------------------

DSN_PARAMETERS = ("RET", "ENVID", "NOTIFY", "ORCPT")


class SessionFailure(Exception):
    """Ends a client session early: the outcome, the stage it was in, and the reply or detail that ended it."""

    def __init__(self, outcome: Outcome, stage: str, reply: Reply | None = None, detail: str = "") -> None:
        super().__init__(detail or outcome.value)
        self.outcome, self.stage, self.reply, self.detail = outcome, stage, reply, detail


def dsn_filter(options: Sequence[str], extensions: Mapping[str, str]) -> list[str]:
    """DSN parameters go only to a server that offers DSN (Postfix drops them otherwise)."""
    dsn = "dsn" in extensions
    return [o for o in options if dsn or o.partition("=")[0].upper() not in DSN_PARAMETERS]


def mail_parameters(tx: Transaction, extensions: Mapping[str, str]) -> list[str]:
    """MAIL FROM's parameters: the transaction's (DSN ones only where offered), SIZE and BODY=8BITMIME added."""
    params = dsn_filter(tx.mail_options, extensions)
    names = {p.partition("=")[0].upper() for p in params}
    if "size" in extensions and "SIZE" not in names:
        params.append(f"SIZE={len(tx.content)}")
    if "8bitmime" in extensions and "BODY" not in names and not tx.content.isascii():
        params.append("BODY=8BITMIME")
    return params


def recipient_results(
    tx: Transaction, results: Sequence[RecipientResult | None], reply: Reply | None, stage: str
) -> tuple[RecipientResult, ...]:
    """Every recipient's verdict; only the transaction's own replies decide the undecided ones (else the caller)."""
    decided = reply is not None and stage in ("done", "mail", "data")
    return tuple(
        result
        or RecipientResult(address, reply if decided else None, decided and reply is not None and reply.code >= 500)
        for address, result in zip(tx.recipients, results)
    )
