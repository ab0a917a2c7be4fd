"""The one SMTP client engine: aiosmtplib over whatever transports the running loop has, one session per call.

``await deliver(plan)`` connects (on a :class:`~mailsim.engine.simloop.SimLoop` over the simulated network, on
a stock loop over real sockets), greets with EHLO and falls back to HELO when EHLO is refused with 5xx
(RFC 5321 §3.2, the seed's "some servers do not speak ESMTP"), negotiates STARTTLS per policy, authenticates,
sends one mail transaction and QUIT (or, when the plan says ``cache_until``, keeps the connection: the result's
``kept`` runs the next transaction after an RSET probe, smtp_reuse.c), and returns a :class:`SessionResult`: never an exception for anything
the network or the server did. Each recipient gets a :class:`RecipientResult`: refused at RCPT, or the
verdict of the end of DATA; ``final`` is False for a 4xx (try again) and for a session that broke first.

aiosmtplib is used through ``execute_command`` so every reply comes back as it was sent; two things are done
around it: the connection (TCP connect bounded by ``smtp_connect_timeout``, greeting by ``smtp_helo_timeout``,
aiosmtplib has one timeout for both; and a recording protocol for the transcript) and DATA (aiosmtplib has one
timeout for the 354 and the final reply; Postfix has three). The client never lets aiosmtplib look up the
local host name (``helo_name`` is required) nor build a TLS context (pass a prebuilt one, see
:mod:`mailsim.engine.tls`). Like aiosmtplib it does not pipeline: one round trip per command.

Postfix parameters read: the smtp_*_timeout family, see :class:`~mailsim.engine.plan.ClientTimeouts`.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from base64 import b64encode
from collections.abc import Sequence
from typing import Any

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol, normalize_message_line_endings

from mailsim.engine.hooks import TlsInfo
from mailsim.engine.plan import (
    ClientTimeouts,
    Credentials,
    Outcome,
    RecipientResult,
    SessionFailure,
    SessionPlan,
    SessionResult,
    StartTls,
    Transaction,
    dsn_filter,
    mail_parameters,
    recipient_results,
)
from mailsim.engine.session_flow import SessionFlow
from mailsim.engine.transcript import Recorder, SessionTranscript, TranscriptLine, TranscriptSink
from mailsim.mail.reply import Reply

__all__ = [
    "ClientSession",
    "ClientTimeouts",
    "Credentials",
    "Outcome",
    "RecipientResult",
    "SessionPlan",
    "SessionResult",
    "StartTls",
    "Transaction",
    "deliver",
    "to_reply",
]


def to_reply(response: Any) -> Reply:
    """An aiosmtplib response (or response exception) as a catalogue :class:`Reply`."""
    try:
        return Reply.from_response(int(response.code), str(response.message))
    except ValueError:
        raise SessionFailure(
            Outcome.LOST, "reply", detail=f"protocol error: {response.code} {response.message}"
        ) from None


class _RecordingProtocol(SMTPProtocol):
    """aiosmtplib's protocol, telling a transcript recorder what it reads and writes."""

    def __init__(self, recorder: Recorder | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorder = recorder

    def data_received(self, data: bytes) -> None:
        if self.recorder is not None:
            self.recorder.server(data)
        super().data_received(data)

    def write(self, data: bytes) -> None:
        super().write(data)
        if self.recorder is not None:
            self.recorder.client(data)


class _Client(aiosmtplib.SMTP):
    """aiosmtplib's SMTP with separate connect and greeting timeouts and a recording protocol."""

    def __init__(self, *, connect_timeout: float, recorder: Recorder | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connect_timeout = connect_timeout
        self.recorder = recorder

    async def _create_connection(self, timeout: float | None) -> Any:
        assert self.loop is not None
        protocol = _RecordingProtocol(self.recorder, loop=self.loop, connection_lost_callback=self._on_connection_lost)
        connecting = self.loop.create_connection(
            lambda: protocol, host=self.hostname or "localhost", port=self.port or 25, local_addr=self.source_address
        )
        transport, _ = await asyncio.wait_for(connecting, timeout=self.connect_timeout)
        self.protocol, self.transport = protocol, transport
        return await protocol.read_response(timeout=timeout)


async def deliver(
    plan: SessionPlan,
    *,
    record: bool = True,
    transcripts: TranscriptSink | None = None,
    host: str = "",
    service: str = "smtp",
    session_id: str = "",
) -> SessionResult:
    """Run one client session; ``record`` keeps the transcript in the result, ``transcripts`` also emits it."""
    return await ClientSession(
        plan, record=record, transcripts=transcripts, host=host, service=service, session_id=session_id
    ).run()


class ClientSession(SessionFlow):
    """One SMTP client session (see the module docstring); :func:`deliver` is the usual entry point."""

    def __init__(
        self,
        plan: SessionPlan,
        *,
        record: bool = True,
        transcripts: TranscriptSink | None = None,
        host: str = "",
        service: str = "smtp",
        session_id: str = "",
    ) -> None:
        if plan.starttls is not StartTls.NONE and plan.tls_context is None:
            raise ValueError("SessionPlan.starttls needs a prebuilt tls_context (see mailsim.engine.tls)")
        self.plan = plan
        self.loop = asyncio.get_running_loop()
        self.recorder = Recorder(self.loop.time) if record or transcripts else None
        self.transcripts = transcripts
        self.host, self.service, self.session_id = host or plan.helo_name, service, session_id
        self.results: list[RecipientResult | None] = [None] * len(plan.transaction.recipients)
        self.extensions: dict[str, str] = {}
        self.auth_methods: list[str] = []
        self.esmtp = False
        self.tls: TlsInfo | None = None
        self.authenticated = False
        self.local = ""
        self._emitted = False
        self.smtp = _Client(
            hostname=plan.host,
            port=plan.port,
            local_hostname=plan.helo_name,
            source_address=(plan.source_address, 0) if plan.source_address else None,
            timeout=None,
            start_tls=False,
            tls_context=plan.tls_context,
            connect_timeout=plan.timeouts.connect,
            recorder=self.recorder,
        )

    async def run(self) -> SessionResult:
        started = self.loop.time()
        outcome, stage, reply, detail = Outcome.COMPLETED, "done", None, ""
        try:
            await self._open()
            await self._greet()
            await self._secure()
            await self._login()
            reply = await self._send(self.plan.transaction)
        except SessionFailure as failure:
            outcome, stage, reply, detail = failure.outcome, failure.stage, failure.reply, failure.detail
        return await self._end(outcome, stage, reply, detail, started)

    # -- the primitives of SessionFlow --------------------------------------------------------------------

    def _clock(self) -> float:
        return self.loop.time()

    def _connected(self) -> bool:
        return self.smtp.is_connected

    async def _rset_command(self) -> Reply:
        return await self._command("rset", b"RSET", timeout=self.plan.timeouts.rset)

    def _disconnect(self) -> None:
        self.smtp.close()

    def close(self) -> None:
        """Close without QUIT (the cache's time is up, or the probe failed) and hand in the transcript."""
        self.smtp.close()
        self._transcript()

    def _result(self, outcome: Outcome, stage: str, reply: Reply | None, detail: str, started: float,
                kept: bool = False) -> SessionResult:  # fmt: skip
        recipients = recipient_results(self.plan.transaction, self.results, reply, stage)
        lines = () if kept else self._transcript()
        peer = f"{self.plan.host}:{self.plan.port}"
        return SessionResult(
            outcome, stage, reply, recipients, peer, self.esmtp, self.tls, self.authenticated, detail,
            started, self.loop.time(), lines, self if kept else None,
        )  # fmt: skip

    def _transcript(self) -> tuple[TranscriptLine, ...]:
        """The connection's lines (every transaction on it), emitted once when it ends."""
        lines = self.recorder.finish() if self.recorder is not None else ()
        if self.transcripts is not None and not self._emitted:
            self._emitted = True
            peer = f"{self.plan.host}:{self.plan.port}"
            self.transcripts(
                SessionTranscript(self.session_id, "client", self.host, self.service, self.local, peer, lines)
            )
        return lines

    async def _open(self) -> None:
        try:
            response = await self.smtp.connect(timeout=self.plan.timeouts.helo)
        except aiosmtplib.SMTPTimeoutError as exc:
            raise SessionFailure(Outcome.TIMEOUT, "greeting", detail=str(exc)) from None
        except aiosmtplib.SMTPServerDisconnected as exc:
            raise SessionFailure(Outcome.LOST, "greeting", detail=str(exc)) from None
        except ConnectionRefusedError as exc:
            raise SessionFailure(Outcome.REFUSED, "connect", detail=str(exc)) from None
        except (TimeoutError, OSError) as exc:
            raise SessionFailure(Outcome.UNREACHABLE, "connect", detail=str(exc) or "connection timed out") from None
        try:  # a server that greets with 421 and hangs up at once may be gone already
            sockname = self.smtp.get_transport_info("sockname")
        except aiosmtplib.SMTPServerDisconnected:
            sockname = None
        self.local = f"{sockname[0]}:{sockname[1]}" if sockname else ""
        reply = to_reply(response)
        if reply.code != 220:
            raise SessionFailure(Outcome.REJECTED, "greeting", reply)

    async def _command(self, stage: str, *args: bytes, timeout: float) -> Reply:
        try:
            response = await self.smtp.execute_command(*args, timeout=timeout)
        except aiosmtplib.SMTPTimeoutError as exc:
            raise SessionFailure(Outcome.TIMEOUT, stage, detail=str(exc)) from None
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise SessionFailure(Outcome.LOST, stage, detail=str(exc)) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise SessionFailure(Outcome.LOST, stage, detail=f"protocol error: {exc.message}") from None
        reply = to_reply(response)
        if reply.code == 421:  # the server is closing the connection (aiosmtplib has closed it too)
            raise SessionFailure(Outcome.REJECTED, stage, reply)
        return reply

    async def _greet(self) -> None:
        """EHLO; on a 5xx, HELO (RFC 5321 §3.2); a 4xx ends the session."""
        name = self.plan.helo_name.encode("ascii")
        reply = await self._command("ehlo", b"EHLO", name, timeout=self.plan.timeouts.helo)
        if reply.code == 250:
            self.smtp.last_ehlo_response = aiosmtplib.SMTPResponse(250, reply.text)
            self.extensions, self.auth_methods = dict(self.smtp.esmtp_extensions), list(self.smtp.server_auth_methods)
            self.esmtp = True
            return
        if reply.code < 500:
            raise SessionFailure(Outcome.REJECTED, "ehlo", reply)
        reply = await self._command("helo", b"HELO", name, timeout=self.plan.timeouts.helo)
        if reply.code != 250:
            raise SessionFailure(Outcome.REJECTED, "helo", reply)
        self.smtp.last_helo_response = aiosmtplib.SMTPResponse(250, reply.text)
        self.extensions, self.auth_methods, self.esmtp = {}, [], False

    async def _secure(self) -> None:
        """STARTTLS per policy: ``may`` goes on in the clear when refused, ``encrypt`` gives up."""
        plan = self.plan
        if plan.starttls is StartTls.NONE:
            return
        required = plan.starttls is StartTls.ENCRYPT
        if "starttls" not in self.extensions:
            if required:
                raise SessionFailure(
                    Outcome.TLS_FAILED, "starttls", detail="TLS is required, but was not offered by host"
                )
            return
        try:
            await self.smtp.starttls(
                tls_context=plan.tls_context,
                server_hostname=plan.server_name or plan.host,
                timeout=plan.timeouts.starttls,
            )
        except aiosmtplib.SMTPTimeoutError as exc:
            raise SessionFailure(Outcome.TIMEOUT, "starttls", detail=str(exc)) from None
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise SessionFailure(Outcome.LOST, "starttls", detail=str(exc)) from None
        except aiosmtplib.SMTPResponseException as exc:
            reply = to_reply(exc)
            if required or reply.code == 421:
                outcome = Outcome.REJECTED if reply.code == 421 else Outcome.TLS_FAILED
                raise SessionFailure(outcome, "starttls", reply) from None
            return
        except (ssl.SSLError, OSError) as exc:
            raise SessionFailure(Outcome.TLS_FAILED, "starttls", detail=str(exc)) from None
        cipher = self.smtp.get_transport_info("cipher")
        self.tls = TlsInfo(str(cipher[1]), str(cipher[0]), int(cipher[2])) if cipher else None
        await self._greet()

    async def _login(self) -> None:
        """SMTP AUTH when credentials are given and the server offers a mechanism we speak."""
        credentials = self.plan.credentials
        if credentials is None:
            return
        offered = [m.upper() for m in self.auth_methods]
        mechanism = credentials.mechanism or next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
        if mechanism is None or mechanism.upper() not in offered:
            return  # as Postfix: go on unauthenticated, the server decides
        user, secret = credentials.username.encode(), credentials.password.encode()
        timeout = self.plan.timeouts.helo
        if mechanism.upper() == "PLAIN":
            reply = await self._command(
                "auth", b"AUTH", b"PLAIN", b64encode(b"\0" + user + b"\0" + secret), timeout=timeout
            )
        else:
            reply = await self._command("auth", b"AUTH", b"LOGIN", b64encode(user), timeout=timeout)
            if reply.code == 334:
                reply = await self._command("auth", b64encode(secret), timeout=timeout)
        if reply.code != 235:
            raise SessionFailure(Outcome.REJECTED, "auth", reply)
        self.authenticated = True

    async def _send(self, tx: Transaction) -> Reply:
        """MAIL, one RCPT per recipient, DATA; the DATA reply decides every accepted recipient."""
        timeouts = self.plan.timeouts
        sender = b"FROM:<" + tx.mail_from.encode() + b">"
        reply = await self._command(
            "mail", b"MAIL", sender, *_encoded(mail_parameters(tx, self.extensions)), timeout=timeouts.mail
        )
        if reply.code // 100 != 2:
            raise SessionFailure(Outcome.REJECTED, "mail", reply)
        accepted: list[int] = []
        for index, address in enumerate(tx.recipients):
            options = tx.rcpt_options[index] if index < len(tx.rcpt_options) else ()
            params = _encoded(dsn_filter(options, self.extensions))
            reply = await self._command(
                "rcpt", b"RCPT", b"TO:<" + address.encode() + b">", *params, timeout=timeouts.rcpt
            )
            if reply.code // 100 == 2:
                accepted.append(index)
            else:
                self.results[index] = RecipientResult(address, reply, reply.code >= 500)
        if not accepted:
            raise SessionFailure(Outcome.REJECTED, "rcpt", reply)
        reply = await self._command("data", b"DATA", timeout=timeouts.data_init)
        sent = reply.code == 354
        if sent:
            reply = await self._content(tx.content)
        for index in accepted:
            self.results[index] = RecipientResult(tx.recipients[index], reply, reply.code // 100 != 4)
        if not sent:
            raise SessionFailure(Outcome.REJECTED, "data", reply)
        return reply

    async def _content(self, content: bytes) -> Reply:
        """The message, dot-stuffed, then the final reply (smtp_data_xfer_timeout, smtp_data_done_timeout)."""
        data = re.sub(rb"(?m)^\.", b"..", normalize_message_line_endings(content)) + b".\r\n"
        protocol = self.smtp.protocol
        if protocol is None:
            raise SessionFailure(Outcome.LOST, "content", detail="connection lost")
        # Listen before writing: aiosmtplib drops a reply that arrives while nobody is reading.
        reading = asyncio.ensure_future(protocol.read_response(timeout=None))
        try:
            protocol.write(data)
            await asyncio.wait_for(protocol._drain_helper(), self.plan.timeouts.data_xfer)
            response = await asyncio.wait_for(reading, self.plan.timeouts.data_done)
        except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
            raise SessionFailure(Outcome.TIMEOUT, "content", detail=str(exc) or "timeout") from None
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise SessionFailure(Outcome.LOST, "content", detail=str(exc)) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise SessionFailure(Outcome.LOST, "content", detail=f"protocol error: {exc.message}") from None
        finally:
            if not reading.done():
                reading.cancel()
        return to_reply(response)

    async def _quit(self) -> None:
        try:
            await self._command("quit", b"QUIT", timeout=self.plan.timeouts.quit)
        except SessionFailure:
            pass


def _encoded(words: Sequence[str]) -> list[bytes]:
    return [word.encode() for word in words]
