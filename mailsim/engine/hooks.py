"""The contract between the SMTP engine and whoever decides what to answer (the MTA's smtpd, tests, benchmarks).

The engine (aiosmtpd in ``wire`` fidelity, a direct caller in ``fast`` fidelity) owns the protocol: syntax,
command order, ESMTP parameters, TLS, the DATA stream. The hooks own every *decision*: accept or reject the
client, the HELO name, credentials, sender, each recipient, the DATA command and the message. Each hook gets
an immutable :class:`SmtpSession` snapshot (a new one whenever HELO, STARTTLS or AUTH change it) and returns a
:class:`Reply`; the engine sends it verbatim. Nothing here imports aiosmtpd, so the fast fidelity and policy
tests can call the same hooks without any engine.

Conventions the engine follows when calling hooks:

- ``connect`` returns ``None`` to greet normally, or a reply (``421``/``554``) that is sent instead of the
  greeting before the engine hangs up.
- ``helo``: any 2xx accepts; the engine then sends its own standard HELO line or EHLO keyword list.
- ``auth``: a 2xx (``235``) authenticates the session as ``login``; anything else is sent as the failure.
- ``mail``/``rcpt``: ``options`` are the ESMTP parameters as sent, already checked with
  :func:`mailsim.mail.envelope.parse_mail_options`/``parse_rcpt_options``; the null sender is ``""``.
- ``data_start``: a 3xx lets the engine send ``354``; anything else is sent instead.
- ``data`` gets the accepted transaction as a :class:`~mailsim.mail.envelope.Envelope` (accepted recipients
  only, with their parsed DSN requests) and the content (CRLF lines, dot-unstuffed). It is awaited while the
  client waits for the final reply (the MTA runs cleanup and queueing inside) and is shielded from
  cancellation: a client that hangs up after the final dot does not stop the queueing, as in Postfix.
- Any reply starting ``421`` makes the engine hang up after sending it, as Postfix does.
- ``reset`` follows RSET, and HELO/EHLO that discard a transaction; ``disconnect`` follows the end of every
  connection (it may arrive while a shielded ``data`` is still queueing). A hook that raises ends the session
  with ``421 4.3.0`` and is reported through the loop's exception handler (a virtual run stops on it).
- Hooks may take (virtual) time; that time does not count towards the client's idle timeout.
- A ``connect`` refusal other than ``421`` takes the place of the 220 greeting and the session goes on, every
  command but QUIT answered with the optional ``denied(session)`` hook's reply (smtpd: ``503 5.7.0 Error:
  access denied for NAME[ADDR]``, what Postfix does with smtpd_delay_reject = no); a 421 hangs up.
- ``verify(session, address)`` is optional: VRFY asks it when the hooks have it (smtpd's recipient tables);
  without it, or when it returns None, VRFY answers ``252 2.0.0`` and the argument as given.
- ``session.commands`` is kept by the engine: Postfix's per-command statistics of the session so far
  (:mod:`mailsim.engine.command_counts`), complete when ``disconnect`` runs.

Postfix parameters read: none (the server's are in :mod:`mailsim.engine.settings`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mailsim.engine.command_counts import CommandTally
from mailsim.mail import reply as R
from mailsim.mail.envelope import Envelope
from mailsim.mail.reply import Reply

MailOptions = tuple[str, ...]
"""ESMTP parameters exactly as the client sent them (``("RET=HDRS", "ENVID=abc")``), already checked."""


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What TLS protects a session with (Postfix logs it as ``TLS connection established ... with cipher``)."""

    protocol: str
    cipher: str
    bits: int


@dataclass(frozen=True, slots=True)
class SmtpSession:
    """One SMTP connection as the hooks see it; a fresh snapshot follows every state change."""

    session_id: str
    service: str
    hostname: str
    peer_ip: str
    peer_port: int
    local_ip: str
    local_port: int
    helo_name: str | None = None
    esmtp: bool = False
    tls: TlsInfo | None = None
    username: str | None = None
    mechanism: str | None = None
    state: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Scratch space of the hooks for this connection (shared by all snapshots of one session)."""
    commands: CommandTally = field(default_factory=CommandTally, compare=False, repr=False)
    """The engine's count of the commands of this connection (shared by all snapshots of one session)."""

    @property
    def authenticated(self) -> bool:
        return self.username is not None


class SmtpHooks(Protocol):
    """The decisions behind an SMTP server; see the module docstring for how the engine uses each reply."""

    async def connect(self, session: SmtpSession) -> Reply | None: ...

    async def helo(self, session: SmtpSession, name: str, esmtp: bool) -> Reply: ...

    async def auth(self, session: SmtpSession, mechanism: str, login: str, password: str) -> Reply: ...

    async def mail(self, session: SmtpSession, address: str, options: MailOptions) -> Reply: ...

    async def rcpt(self, session: SmtpSession, address: str, options: MailOptions) -> Reply: ...

    async def data_start(self, session: SmtpSession) -> Reply: ...

    async def data(self, session: SmtpSession, envelope: Envelope, content: bytes) -> Reply: ...

    async def reset(self, session: SmtpSession) -> None: ...

    async def disconnect(self, session: SmtpSession) -> None: ...


@dataclass(frozen=True, slots=True)
class Received:
    """One message an :class:`AcceptAll` took (kept only when it was asked to keep them)."""

    session: SmtpSession
    envelope: Envelope
    content: bytes
    queue_id: str


class AcceptAll:
    """Permissive hooks for tests and benchmarks: accept everything, optionally check a password table."""

    def __init__(self, users: Mapping[str, str] | None = None, *, keep: bool = True) -> None:
        self.users = dict(users) if users is not None else None
        self.keep = keep
        self.messages: list[Received] = []
        self.disconnects = 0
        self._ids = itertools.count(1)

    async def connect(self, session: SmtpSession) -> Reply | None:
        return None

    async def helo(self, session: SmtpSession, name: str, esmtp: bool) -> Reply:
        return R.helo_ok(session.hostname)

    async def auth(self, session: SmtpSession, mechanism: str, login: str, password: str) -> Reply:
        if self.users is None or self.users.get(login) == password:
            return R.AUTH_SUCCESSFUL
        return R.auth_failed()

    async def mail(self, session: SmtpSession, address: str, options: MailOptions) -> Reply:
        return R.SENDER_OK

    async def rcpt(self, session: SmtpSession, address: str, options: MailOptions) -> Reply:
        return R.RCPT_OK

    async def data_start(self, session: SmtpSession) -> Reply:
        return R.START_MAIL_INPUT

    async def data(self, session: SmtpSession, envelope: Envelope, content: bytes) -> Reply:
        queue_id = f"{next(self._ids):010X}"
        if self.keep:
            self.messages.append(Received(session, envelope, content, queue_id))
        return R.queued(queue_id)

    async def reset(self, session: SmtpSession) -> None:
        return None

    async def verify(self, session: SmtpSession, address: str) -> Reply | None:
        """VRFY (optional hook): a refusal of ``address``, or None for Postfix's ``252``."""
        return None

    async def disconnect(self, session: SmtpSession) -> None:
        self.disconnects += 1
