"""The ``fast`` fidelity: one SMTP client session without an engine, the server's hooks called directly.

Why: capacity runs need the decisions (the same :class:`~mailsim.engine.hooks.SmtpHooks` as in ``wire``) and
the timing, not the bytes. :func:`fast_deliver` plays both ends of :func:`mailsim.engine.client.deliver`
against a listener's :class:`~mailsim.engine.server.SmtpServerFactory` (its ``hooks`` and ``settings``) and
returns the same :class:`SessionResult`; a session the plan asks to keep (``cache_until``) stays open for the
connection cache, and its ``again`` runs the next transaction after an RSET probe, as the wire client's does.
The connection under it (handshake, pipes, ``net`` records) is
:class:`~mailsim.engine.fast_connection.FastConnection`; the server's end is :mod:`mailsim.engine.fast_server`.

Timing model (the wire model of :mod:`mailsim.net.network`, replayed): the handshake as
:mod:`mailsim.net.handshake` does it (SYN at ``t0 + 2**k - 1``, RST or SYN-ACK one ``d(0)`` back, the
server's end ``d(0)`` after the client's, give-up at ``min(smtp_connect_timeout, 127 s)``); then every
command and reply is a write of exactly the bytes aiosmtplib/aiosmtpd would write (the same reply texts,
EHLO keyword list, dot-stuffed DATA) through a per-direction pipe that keeps the wire's bottleneck
``tx_free``, FIFO ``last`` arrival and 64 KiB pieces, so an idle path costs ``d(n)`` per write.

STARTTLS (TLS 1.3, one extra round trip): the flights are measured once per (client context, server
context, SNI name) with an in-memory handshake of the real contexts (``ssl.MemoryBIO``) and cached:
ClientHello up, ServerHello..Finished down, client Finished up, then the server's session tickets down when
the Finished arrives (what the wire run shows: 517, 2021, 80 and 510 bytes in the default scenario). After
the handshake every write carries 22 bytes of record overhead per 16 KiB record (AES-GCM, TLS 1.3), and
the server's end of the connection (``disconnect``) waits one ``d(24)`` for the client's close_notify.

Not modelled (documented differences from ``wire``): smtpd_timeout on the server side, the
smtpd_hard_error_limit hang-up, ``loss_model="random"`` (same stream, other draw order: only the
distribution agrees), transcripts (none), ``net`` records other than connect/accept/refused/timeout/close
(no ``reset``: a broken session ends with ``close``), and a route that breaks
mid-session is reported as LOST at the next write after the break instead of at the instant it breaks.
Checked (tests/engine/test_fast.py and every scenario folder): the same trace apart from ``net`` and
``transcript`` records; times equal, or within 1e-13 s where float sums are taken in another order.

Postfix parameters read: none (the client's timeouts come in the plan, the server's in ServerSettings).
"""

from __future__ import annotations

import asyncio
import ssl
from base64 import b64encode
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from mailsim.core.memo import remember
from mailsim.engine.bridge import LoopHops, resumed
from mailsim.engine.fast_connection import FastConnection, HooksAt
from mailsim.engine.fast_net import TLS_CLOSE_NOTIFY, cached_flights
from mailsim.engine.hooks import TlsInfo
from mailsim.engine.plan import (
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
from mailsim.engine.transcript import TranscriptSink
from mailsim.mail.reply import Reply

REPLY_CACHE = 256  # distinct reply texts remembered per server ("queued as ID" texts never repeat)


async def fast_deliver(
    plan: SessionPlan,
    *,
    network: Any,
    hooks_at: HooksAt,
    host: str,
    service: str = "smtp",
    transcripts: TranscriptSink | None = None,
) -> SessionResult:
    """One session as :func:`~mailsim.engine.client.deliver` would run it, with no engine (module docstring)."""
    return await FastSession(plan, network, hooks_at, host, service).run()


class FastSession(FastConnection, SessionFlow):
    """Both ends of one SMTP session in virtual time; :func:`fast_deliver` is the entry point."""

    def __init__(self, plan: SessionPlan, network: Any, hooks_at: HooksAt, host: str, service: str) -> None:
        super().__init__(plan, network, hooks_at, host, service)
        self.results: list[RecipientResult | None] = [None] * len(plan.transaction.recipients)
        self.extensions: dict[str, str] = {}
        self.auth_methods: list[str] = []
        self.esmtp = False
        self.tls: TlsInfo | None = None
        self.authenticated = False

    async def run(self) -> SessionResult:
        started = self.now()
        outcome, stage, reply, detail = Outcome.COMPLETED, "done", None, ""
        try:
            established = await self._open()
            assert self.server is not None
            greeting = await self._reply("greeting", self.server.greet(), self.plan.timeouts.helo, sent=established)
            if greeting.code != 220:
                raise SessionFailure(Outcome.REJECTED, "greeting", greeting)
            await self._greet()
            await self._secure()
            await self._login()
            reply = await self._send(self.plan.transaction)
        except SessionFailure as failure:
            outcome, stage, reply, detail = failure.outcome, failure.stage, failure.reply, failure.detail
        return await self._end(outcome, stage, reply, detail, started)

    # -- the primitives of SessionFlow --------------------------------------------------------------------

    def _clock(self) -> float:
        return self.now()

    def _connected(self) -> bool:
        server = self.server
        return server is not None and not server.closed and not server.hangup

    async def _rset_command(self) -> Reply:
        assert self.server is not None
        return await self.command("rset", "RSET", self.server.rset, self.plan.timeouts.rset)

    def _disconnect(self) -> None:
        """The client's FIN now; the server learns it when the FIN arrives."""
        if self.server is not None and not self.server.closed:
            self._client_gone(self.now())
            self._server_gone(self._fin_arrival())

    def _result(self, outcome: Outcome, stage: str, reply: Reply | None, detail: str, started: float,
                kept: bool = False) -> SessionResult:  # fmt: skip
        recipients = recipient_results(self.plan.transaction, self.results, reply, stage)
        peer = f"{self.plan.host}:{self.plan.port}"
        return SessionResult(
            outcome, stage, reply, recipients, peer, self.esmtp, self.tls, self.authenticated, detail,
            started, self.now(), (), self if kept else None,
        )  # fmt: skip

    # -- one exchange ----------------------------------------------------------------------------------------

    async def _reply(self, stage: str, action: Coroutine[Any, Any, str], timeout: float, *, sent: float) -> Reply:
        """Run the server's side (already at the server), then carry its reply back; the client waits ``timeout``."""
        assert self.down is not None and self.server is not None
        deadline = sent + timeout
        try:
            text = await self._serve(action, deadline - self.now())
        except TimeoutError:
            raise SessionFailure(Outcome.TIMEOUT, stage, detail="Timed out waiting for server response") from None
        arrival = self.down.send(self.wire_size(len(text.encode("utf-8", "surrogateescape")) + 2), self.now())
        if self.server.hangup and not self.server.closed:  # 221 or 421: the server hangs up after the reply
            if self.overhead:  # the client answers the reply with its close_notify; the server's end waits for it
                self._client_gone(self.down.send(TLS_CLOSE_NOTIFY, self.now()))
                assert self.up is not None  # a session past its greeting has both pipes
                self._server_gone(self.up.send(TLS_CLOSE_NOTIFY, arrival))
            else:
                self._server_gone(self.now())
                self._client_gone(self.down.send(0, self.now()))  # the FIN behind the reply
        self._check_route(arrival, stage)
        if arrival > deadline:
            await self.until(deadline)
            raise SessionFailure(Outcome.TIMEOUT, stage, detail="Timed out waiting for server response")
        await self.until(arrival)
        reply = self._read(text)
        if reply.code == 421:
            raise SessionFailure(Outcome.REJECTED, stage, reply)
        return reply

    def _read(self, text: str) -> Reply:
        """The client's reading of a reply (aiosmtplib's), parsed once per text and server: most texts repeat."""
        assert self.server is not None
        factory = self.server.factory
        cache = getattr(factory, "replies_read", None)
        reply = cache.get(text) if cache is not None else None
        if reply is None:
            reply = Reply.from_response(int(text[:3]), _message(text))
            if cache is not None:
                remember(cache, text, reply, REPLY_CACHE)
        return reply

    async def _serve(self, action: Coroutine[Any, Any, str], remaining: float) -> str:
        """The server's side, run in place up to its first real wait (mostly it has none: no task, no timer).

        One that waits goes on as a task the client waits for at most ``remaining`` (shielded: a client that
        gives up does not stop the server). Either way the loop iterations are those of the task, shield and
        ``wait_for`` this stands for (the action one iteration on, the reply three more), so what happens at
        the same instant elsewhere interleaves as before.
        """
        if remaining <= 0:
            return await asyncio.wait_for(asyncio.shield(asyncio.ensure_future(action)), 0.0)
        pending = None
        try:
            while pending is None:  # the iteration a task takes to start, then one per bare yield (``sleep(0)``)
                await self._hop(action)
                pending = action.send(None)
        except StopIteration as done:
            await LoopHops(3, self._idle)
            return str(done.value)
        task = self.loop.create_task(resumed(action, pending))
        return await asyncio.wait_for(asyncio.shield(task), remaining)

    async def _hop(self, action: Coroutine[Any, Any, str]) -> None:
        """One loop iteration before the server acts; a client cancelled meanwhile leaves the server to it."""
        try:
            await LoopHops(1, self._idle)
        except asyncio.CancelledError:
            self.loop.create_task(resumed(action, None))  # the command has arrived: the server still acts
            raise
        except GeneratorExit:  # the client is collected after the run: so is the server's side
            action.close()
            raise

    async def command(self, stage: str, line: str, action: Callable[[], Coroutine[Any, Any, str]], timeout: float,
                      size: int | None = None) -> Reply:  # fmt: skip
        """Write one command line (or ``size`` bytes), let the server act when it arrives, read the reply."""
        assert self.up is not None and self.server is not None
        if self.server.closed or self.server.hangup:
            raise SessionFailure(Outcome.LOST, stage, detail="Connection lost")
        sent = self.now()
        nbytes = size if size is not None else len(line.encode("utf-8", "surrogateescape")) + 2
        arrival = self.up.send(self.wire_size(nbytes), sent)
        self._check_route(arrival, stage)
        await self.until(arrival)
        return await self._reply(stage, action(), timeout, sent=sent)

    # -- the client's steps (as engine/client.py) ------------------------------------------------------------

    async def _greet(self) -> None:
        server, name, timeout = self.server, self.plan.helo_name, self.plan.timeouts.helo
        assert server is not None
        reply = await self.command("ehlo", f"EHLO {name}", lambda: server.hello(name, True), timeout)
        if reply.code == 250:
            self.extensions, self.auth_methods = _extensions(reply)
            self.esmtp = True
            return
        if reply.code < 500:
            raise SessionFailure(Outcome.REJECTED, "ehlo", reply)
        reply = await self.command("helo", f"HELO {name}", lambda: server.hello(name, False), timeout)
        if reply.code != 250:
            raise SessionFailure(Outcome.REJECTED, "helo", reply)
        self.extensions, self.auth_methods, self.esmtp = {}, [], False

    async def _secure(self) -> None:
        plan, server = self.plan, self.server
        assert server is not None
        if plan.starttls is StartTls.NONE:
            return
        required = plan.starttls is StartTls.ENCRYPT
        if "starttls" not in self.extensions:
            if required:
                raise SessionFailure(
                    Outcome.TLS_FAILED, "starttls", detail="TLS is required, but was not offered by host"
                )
            return
        reply = await self.command("starttls", "STARTTLS", server.starttls, plan.timeouts.starttls)
        if reply.code != 220:
            if required:
                raise SessionFailure(Outcome.TLS_FAILED, "starttls", reply)
            return
        await self._handshake()
        await self._greet()

    async def _handshake(self) -> None:
        """TLS 1.3: ClientHello up, the server's flight down, Finished up; the tickets follow it down."""
        plan, server = self.plan, self.server
        assert server is not None and self.up is not None and self.down is not None
        assert plan.tls_context is not None and server.settings.tls_context is not None
        name = plan.server_name or plan.host
        try:
            hello, flight, finished, tickets, info = cached_flights(plan.tls_context, server.settings.tls_context, name)
        except (ssl.SSLError, OSError) as exc:
            raise SessionFailure(Outcome.TLS_FAILED, "starttls", detail=str(exc)) from None
        sent = self.now()
        deadline = sent + plan.timeouts.starttls
        await self.until(self.up.send(hello, sent))
        arrival = self.down.send(flight, self.now())
        self._check_route(arrival, "starttls")
        if arrival > deadline:
            await self.until(deadline)
            raise SessionFailure(Outcome.TIMEOUT, "starttls", detail="Timed out during TLS handshake")
        await self.until(arrival)
        done = self.up.send(finished, self.now())
        if tickets:
            self.down.send(tickets, done)  # written by the server when the Finished arrives
        self.overhead = True
        self.tls = info
        server.secured(info)

    async def _login(self) -> None:
        credentials, server = self.plan.credentials, self.server
        if credentials is None:
            return
        assert server is not None
        offered = [m.upper() for m in self.auth_methods]
        mechanism = credentials.mechanism or next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
        if mechanism is None or mechanism.upper() not in offered:
            return
        user, secret, timeout = credentials.username, credentials.password, self.plan.timeouts.helo
        if mechanism.upper() == "PLAIN":
            blob = b64encode(b"\0" + user.encode() + b"\0" + secret.encode()).decode()
            reply = await self.command(
                "auth", f"AUTH PLAIN {blob}", lambda: server.auth("PLAIN", user, secret), timeout
            )
        else:
            reply = await self.command("auth", f"AUTH LOGIN {b64encode(user.encode()).decode()}",
                                       server.login_challenge, timeout)  # fmt: skip
            if reply.code == 334:
                line = b64encode(secret.encode()).decode()
                reply = await self.command("auth", line, lambda: server.auth("LOGIN", user, secret), timeout)
        if reply.code != 235:
            raise SessionFailure(Outcome.REJECTED, "auth", reply)
        self.authenticated = True

    async def _send(self, tx: Transaction) -> Reply:
        """MAIL, one RCPT per recipient, DATA; the DATA reply decides every accepted recipient."""
        server, timeouts = self.server, self.plan.timeouts
        assert server is not None
        params = mail_parameters(tx, self.extensions)
        line = " ".join(["MAIL", f"FROM:<{tx.mail_from}>", *params])
        reply = await self.command("mail", line, lambda: server.mail(line[5:]), timeouts.mail)
        if reply.code // 100 != 2:
            raise SessionFailure(Outcome.REJECTED, "mail", reply)
        accepted: list[int] = []
        for index, address in enumerate(tx.recipients):
            options = tx.rcpt_options[index] if index < len(tx.rcpt_options) else ()
            rcpt = " ".join(["RCPT", f"TO:<{address}>", *dsn_filter(options, self.extensions)])
            reply = await self.command("rcpt", rcpt, partial(server.rcpt, rcpt[5:]), timeouts.rcpt)
            if reply.code // 100 == 2:
                accepted.append(index)
            else:
                self.results[index] = RecipientResult(address, reply, reply.code >= 500)
        if not accepted:
            raise SessionFailure(Outcome.REJECTED, "rcpt", reply)
        reply = await self.command("data", "DATA", server.data_command, timeouts.data_init)
        sent = reply.code == 354
        if sent:
            content = _crlf(tx.content)
            content = content if content.endswith(b"\r\n") else content + b"\r\n"
            stuffed = len(content) + content.count(b"\n.") + content.startswith(b".") + 3  # dot-stuffing
            reply = await self.command("content", "", lambda: server.content(content, stuffed),
                                       timeouts.data_done, size=stuffed)  # fmt: skip
        for index in accepted:
            self.results[index] = RecipientResult(tx.recipients[index], reply, reply.code // 100 != 4)
        if not sent:
            raise SessionFailure(Outcome.REJECTED, "data", reply)
        return reply

    async def _quit(self) -> None:
        server = self.server
        assert server is not None
        try:
            await self.command("quit", "QUIT", server.quit, self.plan.timeouts.quit)
        except SessionFailure:
            pass


def _crlf(content: bytes) -> bytes:
    """Every line ending (CRLF, LF or a lone CR) as CRLF, what aiosmtplib sends; three C-speed replaces."""
    pairs = content.count(b"\r\n")
    if content.count(b"\n") == pairs and content.count(b"\r") == pairs:
        return content
    return content.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def _message(text: str) -> str:
    return "\n".join(line[4:] for line in text.split("\r\n"))


def _extensions(reply: Reply) -> tuple[dict[str, str], list[str]]:
    """The EHLO keywords as aiosmtplib parses them: lower-case keyword → parameters, and the AUTH mechanisms."""
    extensions: dict[str, str] = {}
    methods: list[str] = []
    for line in reply.text.split("\n")[1:] if "\n" in reply.text else []:
        keyword, _, params = line.strip().partition(" ")
        extensions[keyword.lower()] = params
        if keyword.upper() == "AUTH":
            methods.extend(params.split())
    return extensions, methods
