"""The one SMTP server engine: aiosmtpd's ``SMTP`` made per connection by one factory, on either clock.

Theory of operation
-------------------
:class:`SmtpServerFactory` is a protocol factory: ``await loop.create_server(factory, host, port)`` binds it on
a :class:`~mailsim.engine.simloop.SimLoop` (simulated TCP, virtual time) or on a stock asyncio loop (real
sockets, see :mod:`mailsim.live`); nothing else differs. Each connection gets a :class:`SmtpServerProtocol`, an
``aiosmtpd.smtp.SMTP`` whose keyword arguments are pinned in :func:`smtp_kwargs` from a frozen
:class:`ServerSettings`, with a :class:`~mailsim.engine.handler.HookHandler` that asks :class:`SmtpHooks`.

aiosmtpd reads commands, addresses and the DATA stream; the subclass changes only what Postfix does
differently, each in one place:

- ``push``: every reply goes through it. aiosmtpd's own texts become Postfix's (``esmtp.AIOSMTPD_REPLIES``,
  all with RFC 3463 codes); the greeting is ``220`` + ``smtpd_banner``; 4xx/5xx replies count as errors
  (``smtpd_soft_error_limit`` → each reply delayed ``smtpd_error_sleep_time``; ``smtpd_hard_error_limit`` →
  ``421 ... too many errors``); any ``421`` reply is followed by a hang-up; the transcript records it.
- The verb table: HELP and EXPN are unknown (Postfix defaults); an unknown command gets Postfix's reply
  instead of aiosmtpd's five-strikes disconnect, unless it is a header name or in ``smtpd_forbidden_commands``
  (``221 2.7.0 Error: I can break rules, too. Goodbye.`` and a hang-up); NOOP/VRFY/RSET count towards
  ``smtpd_junk_command_limit``; VRFY checks the address and the recipient tables (``hooks.verify``); a connect
  refusal other than 421 is the greeting, then every command but QUIT is denied (``hooks.denied``);
  with ``disable_vrfy_command = yes`` VRFY gets ``502 5.5.1 VRFY command is disabled`` whatever its argument;
  with ``smtpd_tls_security_level = encrypt`` only EHLO, HELO, NOOP, QUIT and STARTTLS precede STARTTLS.
- MAIL/RCPT: the ESMTP parameters are checked here (aiosmtpd refuses DSN's) and handed to the hooks with
  their case kept; the address goes on to aiosmtpd. DATA asks ``hooks.data_start`` before ``354``.
- ``smtpd_timeout`` runs from the last byte received (Postfix times each read; aiosmtpd only resets the timer
  per command, so a long DATA transfer would be cut): ``421 4.4.2 HOST Error: timeout exceeded``.

Postfix parameters read: see :mod:`mailsim.engine.settings` (all through :class:`ServerSettings`).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from aiosmtpd.smtp import SMTP, Session, TLSSetupException

from mailsim.engine import esmtp
from mailsim.engine.handler import HookHandler
from mailsim.engine.hooks import MailOptions, SmtpHooks, SmtpSession, TlsInfo
from mailsim.engine.settings import BODY_LINE_LIMIT, ServerSettings, smtp_kwargs
from mailsim.engine.transcript import Recorder, SessionTranscript, TranscriptSink
from mailsim.mail import reply as R
from mailsim.mail.envelope import Envelope, MailParams, RcptDsn
from mailsim.mail.reply import Reply

JUNK_COMMANDS = frozenset({"NOOP", "VRFY", "ETRN", "RSET"})
BEFORE_STARTTLS = frozenset({"EHLO", "HELO", "NOOP", "QUIT", "STARTTLS"})


class SmtpServerFactory:
    """``loop.create_server(factory, host, port)``: one SMTP engine per connection, on either clock."""

    def __init__(
        self,
        settings: ServerSettings,
        hooks: SmtpHooks,
        *,
        service: str = "smtp",
        host: str | None = None,
        transcripts: TranscriptSink | None = None,
        session_ids: Callable[[], str] | None = None,
    ) -> None:
        self.settings = settings
        self.hooks = hooks
        self.handler = HookHandler(hooks)
        self.service = service
        self.host = host or settings.hostname
        self.transcripts = transcripts
        self.errors: list[BaseException] = []
        self._count = itertools.count(1)
        self._session_ids = session_ids or (lambda: f"{self.host}/{self.service}/{next(self._count)}")
        self._tasks: set[asyncio.Task[Any]] = set()
        self.replies_read: dict[str, Reply] = {}  # fast fidelity: reply texts as a client reads them (they repeat)

    def __call__(self) -> SmtpServerProtocol:
        return SmtpServerProtocol(self, asyncio.get_running_loop())

    def new_session_id(self) -> str:
        return self._session_ids()

    def background(self, awaitable: Awaitable[Any]) -> None:
        """Run a hook that nobody waits for (``disconnect``) and keep it alive until done."""
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Verbs(dict):
    """aiosmtpd's verb table with a fallback for unknown verbs (it has no hook for them), told the verb."""

    def __init__(self, table: Mapping[str, Any], fallback: Callable[[str], Callable[..., Awaitable[None]]]) -> None:
        super().__init__(table)
        self.fallback = fallback

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(key) or self.fallback(str(key))


class _Session(Session):
    """aiosmtpd's session without the deprecation warning it logs on every successful AUTH."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class SmtpServerProtocol(SMTP):
    """aiosmtpd's ``SMTP`` with Postfix's replies, limits and timeout (see the module docstring)."""

    line_length_limit = BODY_LINE_LIMIT

    def __init__(self, factory: SmtpServerFactory, loop: asyncio.AbstractEventLoop) -> None:
        self.factory = factory
        self.settings = factory.settings
        self._view: SmtpSession | None = None
        self._verb = ""
        self._pending: tuple[MailOptions, MailParams | RcptDsn] = ((), MailParams())
        self._parsed: tuple[str, tuple[str | None, str | None]] = ("", (None, None))
        self._mail: Envelope | None = None
        self._errors = 0
        self._junk = 0
        self._greeted = False
        self._greeting: str | None = None  # a connect refusal sent in place of the 220
        self._word = ""  # the verb of an unknown command, as aiosmtpd read it
        self._denied: str | None = None  # then the reply to every command but QUIT
        self._in_reply = False
        self._hung_up = False
        self._ended = False
        self._deadline = 0.0
        self._busy = 0
        self._recorder: Recorder | None = None
        super().__init__(factory.handler, **smtp_kwargs(self.settings, loop))
        limit = self.settings.line_length_limit
        self.command_size_limit = limit
        self.command_size_limits = collections.defaultdict(lambda: limit)  # aiosmtpd's is shared class state
        verbs = {verb: self._guard(verb, method) for verb, method in self._smtp_methods.items()}
        for verb in ("HELP", "EXPN"):
            verbs.pop(verb, None)
        self._smtp_methods = _Verbs(verbs, lambda word: self._guard("", self._unknown, word))

    def _create_session(self) -> Session:
        return _Session(self.loop)

    def __dir__(self) -> list[str]:
        """Only the verbs and AUTH mechanisms: aiosmtpd scans ``dir()`` for them on every connection."""
        return list(_VERBS_AND_MECHANISMS)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parser, skipped for plain ``<user@domain>`` and for an address just parsed."""
        if arg == self._parsed[0]:
            return self._parsed[1]
        return esmtp.simple_address(arg) or super()._getaddr(arg)

    # -- the session as the hooks see it ------------------------------------------------------------------------

    @property
    def view(self) -> SmtpSession:
        """The session as the hooks see it now (a new snapshot after every change)."""
        assert self._view is not None, "no connection yet"
        return self._view

    def update_view(self, **changes: Any) -> None:
        self._view = replace(self.view, **changes)

    def _new_view(self, transport: asyncio.BaseTransport) -> SmtpSession:
        peer = transport.get_extra_info("peername") or ("", 0)
        local = transport.get_extra_info("sockname") or ("", 0)
        return SmtpSession(
            session_id=self.factory.new_session_id(),
            service=self.factory.service,
            hostname=self.settings.hostname,
            peer_ip=str(peer[0]),
            peer_port=int(peer[1]),
            local_ip=str(local[0]),
            local_port=int(local[1]),
        )

    def ehlo_lines(self) -> list[str]:
        tls = self._tls_protocol is not None
        return esmtp.ehlo_lines(self.settings, tls_offered=self.tls_context is not None and not tls, tls_active=tls)

    # -- the mail transaction -----------------------------------------------------------------------------------

    def take_options(self) -> MailOptions:
        """The ESMTP parameters of the MAIL/RCPT command being handled (checked by :meth:`_parameters`)."""
        return self._pending[0]

    def begin_transaction(self, sender: str) -> None:
        options, params = self._pending
        assert isinstance(params, MailParams)
        self._mail = Envelope(
            sender, mail_options=options, smtputf8=params.smtputf8, body=params.body, size=params.size,
            ret=params.ret, envid=params.envid, auth=params.auth,
        )  # fmt: skip

    def add_recipient(self, address: str) -> None:
        options, dsn = self._pending
        assert self._mail is not None and isinstance(dsn, RcptDsn)
        self._mail = self._mail.add_recipient(address, options, dsn)

    def transaction(self) -> Envelope:
        assert self._mail is not None
        return self._mail

    def transaction_done(self, queued: bool) -> None:
        self._mail = None
        if queued:
            self._errors = 0  # Postfix counts errors "without delivering mail"
            self._junk = 0  # and junk commands (smtpd.c: the RSET probes of a cached connection)

    async def end_transaction(self, *, always: bool = False) -> None:
        """RSET, or HELO/EHLO/STARTTLS discarding a transaction: tell the hooks."""
        if self._mail is not None or always:
            self._mail = None
            await self.ask(self.factory.hooks.reset(self.view))

    # -- connection life cycle ----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._view is None:
            self._view = self._new_view(transport)
            if self.factory.transcripts is not None:
                self._recorder = Recorder(self.loop.time)
        else:  # the TLS handshake after STARTTLS finished: RFC 3207 §4.2, the client starts over with EHLO
            cipher = transport.get_extra_info("cipher")
            tls = TlsInfo(str(cipher[1]), str(cipher[0]), int(cipher[2])) if cipher else None
            self.update_view(helo_name=None, esmtp=False, tls=tls, username=None, mechanism=None)
            self.view.commands.tls_started()
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._deadline = self.loop.time() + self._timeout_duration
        if self._recorder is not None:
            self._recorder.client(data)
        super().data_received(data)

    def connection_lost(self, error: Exception | None) -> None:
        if self._ended:
            return
        self._ended = True
        super().connection_lost(error)
        self.factory.background(self.factory.hooks.disconnect(self.view))
        sink = self.factory.transcripts
        if self._recorder is not None and sink is not None:
            view = self.view
            local, peer = f"{view.local_ip}:{view.local_port}", f"{view.peer_ip}:{view.peer_port}"
            lines = self._recorder.finish()
            sink(SessionTranscript(view.session_id, "server", self.factory.host, view.service, local, peer, lines))

    async def _handle_client(self) -> None:
        refused = await self.ask(self.factory.hooks.connect(self.view))
        if refused is None:
            await super()._handle_client()
            return
        if refused.code == 421:
            self._greeted = True
            await self.push(str(refused))
            self._hang_up()
            return
        self._greeting = str(refused)  # the refusal is the greeting; every command but QUIT is denied
        self._denied = str(await self.ask(esmtp.denial(self.factory.hooks, self.view)))
        await super()._handle_client()

    async def ask(self, awaitable: Awaitable[Any]) -> Any:
        """Await a hook: server think time is not client idle time (Postfix times reads, not its own work)."""
        self._busy += 1
        try:
            return await awaitable
        finally:
            self._busy -= 1
            self._deadline = self.loop.time() + self._timeout_duration

    def _hang_up(self) -> None:
        self._hung_up = True
        task = self._handler_coroutine
        if task is not None and not task.done():
            task.cancel()
        if self.transport is not None:
            self.transport.close()

    # -- smtpd_timeout ---------------------------------------------------------------------------------------

    def _reset_timeout(self, duration: float | None = None) -> None:
        self._deadline = self.loop.time() + (duration or self._timeout_duration)
        if self._timeout_handle is None:
            self._timeout_handle = self.loop.call_at(self._deadline, self._timeout_cb)

    def _timeout_cb(self) -> None:
        if self.transport is None or self._ended:
            return
        now = self.loop.time()
        if self._busy:
            self._deadline = max(self._deadline, now + self._timeout_duration)
        if self._deadline - now > 1e-6:
            self._timeout_handle = self.loop.call_at(self._deadline, self._timeout_cb)
            return
        self._write(str(R.timeout_exceeded(self.hostname)))
        self._hang_up()

    # -- replies ---------------------------------------------------------------------------------------------

    async def push(self, status: Any) -> None:
        """Send one reply: Postfix's words for aiosmtpd's, error accounting, hang-up after 421."""
        text = status.decode("utf-8", "surrogateescape") if isinstance(status, bytes) else str(status)
        if not self._greeted:
            self._greeted, text = True, self._greeting or "220 " + self.settings.greeting
        else:
            reply = esmtp.AIOSMTPD_REPLIES.get((self._verb, text)) or esmtp.AIOSMTPD_REPLIES.get(text)
            text = str(reply) if reply is not None else text
        last = text.rsplit("\r\n", 1)[-1]
        final = len(last) < 4 or last[3] != "-"
        if not self._in_reply and self._errors >= self.settings.soft_error_limit:
            await self.ask(asyncio.sleep(self.settings.error_sleep_time))
        self._in_reply = not final
        self._write(text)
        await self._writer.drain()
        if not final:
            return
        if last[:3].isdigit():
            self.view.commands.reply(int(last[:3]))
        if last[:1] in ("4", "5"):
            self._errors += 1
        if last.startswith(("421", "521")):
            self._hang_up()
        elif self._errors >= self.settings.hard_error_limit and not self._hung_up:
            self._write(str(R.too_many_errors(self.hostname)))
            self._hang_up()

    def _write(self, text: str) -> None:
        data = text.encode("utf-8", "surrogateescape") + b"\r\n"
        if self._recorder is not None:
            self._recorder.server(data)
        if self.transport is not None and not self.transport.is_closing():
            self._writer.write(data)

    async def handle_exception(self, error: Exception) -> str:
        """A hook raised: record it, surface it through the loop, and end the session with 421."""
        if not isinstance(error, TLSSetupException):
            self.factory.errors.append(error)
            self.loop.call_exception_handler(
                {"message": "exception in SMTP server hooks", "exception": error, "protocol": self}
            )
        return str(esmtp.internal_error(self.hostname))

    # -- commands --------------------------------------------------------------------------------------------

    def _guard(
        self, verb: str, method: Callable[[str | None], Awaitable[None]], word: str = ""
    ) -> Callable[..., Awaitable[None]]:
        """One command: UTF-8, its count (``word`` is what an unknown verb was), junk and STARTTLS rules, the verb."""

        async def run(arg: str | None) -> None:
            self._verb, self._word = verb, word
            if self._hung_up:
                return
            if arg and not esmtp.valid_utf8(arg):
                await self.push(str(esmtp.BAD_UTF8))
                return
            self.view.commands.start(verb or word)
            if self._denied is not None and verb != "QUIT":
                await self.push(self._denied)
                return
            if verb in JUNK_COMMANDS:
                self._junk += 1
                if self._junk > self.settings.junk_command_limit:
                    self._errors += 1
            if verb and verb not in BEFORE_STARTTLS and self.settings.require_starttls and not self._tls_protocol:
                await self.push(str(R.STARTTLS_REQUIRED))
                return
            await method(arg)

        return run

    async def _unknown(self, arg: str | None) -> None:
        if esmtp.non_smtp(self._word, self.settings.forbidden_commands or esmtp.default_forbidden):
            await self.push(str(esmtp.BREAK_RULES))  # smtpd.c: "non-SMTP command", and the session ends
            self._hang_up()
            return
        await self.push(str(R.COMMAND_NOT_RECOGNIZED))

    async def check_helo_needed(self, helo: str = "HELO") -> bool:
        """Postfix's smtpd_helo_required (default no) instead of aiosmtpd's HELO-first rule."""
        if self.settings.helo_required and not (self.session and self.session.host_name):
            await self.push(str(R.NEED_HELO))
            return True
        return False

    async def smtp_VRFY(self, arg: str | None) -> None:
        """smtpd.c vrfy_cmd: disable_vrfy_command first, then the address (extract_addr), then the recipient
        tables (smtpd_check_rcptmap, via the hooks); 252 echoes the argument as the client wrote it."""
        if self.settings.vrfy_disabled:
            await self.push(str(R.VRFY_DISABLED))
            return
        if await self.check_helo_needed():
            return
        if not arg:
            utf8 = " [SMTPUTF8]" if self.settings.enable_smtputf8 else ""
            await self.push(str(R.syntax(f"VRFY address{utf8}")))
            return
        address = esmtp.vrfy_address(arg)
        if address is None:
            await self.push(str(R.BAD_RECIPIENT_SYNTAX))
            return
        await self.push(await self.event_handler.verify(self, address, arg))

    async def smtp_MAIL(self, arg: str | None) -> None:
        self._pending = ((), MailParams())
        if arg is not None and self.envelope is not None and not self.envelope.mail_from:
            checked = self._parameters("FROM:", arg, R.BAD_SENDER_SYNTAX)
            if isinstance(checked, Reply):
                await self.push(str(checked))
                return
            arg = checked
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        self._pending = ((), RcptDsn())
        if arg is not None and self.envelope is not None and self.envelope.mail_from:
            checked = self._parameters("TO:", arg, R.BAD_RECIPIENT_SYNTAX)
            if isinstance(checked, Reply):
                await self.push(str(checked))
                return
            arg = checked
        await super().smtp_RCPT(arg)

    def _parameters(self, keyword: str, arg: str, bad_address: Reply) -> str | Reply:
        """Check the path and ESMTP parameters Postfix's way; aiosmtpd then gets ``keyword<address>`` only."""
        checked = esmtp.check_path(keyword, arg, self._getaddr, bad_address, self.settings)
        if checked is None or isinstance(checked, Reply):
            return checked or arg
        path, address, tokens, params = checked
        self._parsed = (path, (address, ""))  # aiosmtpd parses the same address next: no second time
        self._pending = (tokens, params)
        return keyword + path

    async def smtp_DATA(self, arg: str | None) -> None:
        if self._mail is not None and self.envelope is not None and not self.envelope.rcpt_tos:
            await self.push(str(R.NO_VALID_RECIPIENTS))  # Postfix: MAIL accepted, every RCPT refused
            return
        if self.envelope is not None and self.envelope.rcpt_tos and not arg:
            reply: Reply = await self.ask(self.factory.hooks.data_start(self.view))
            if not 300 <= reply.code < 400:
                await self.push(str(reply))
                return
        await super().smtp_DATA(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        if not self.settings.auth_enabled:
            await self.push(str(R.AUTH_NOT_ENABLED))
            return
        if self._mail is not None:
            await self.push(str(R.AUTH_IN_MAIL_TRANSACTION))
            return
        if arg:
            mechanism, _, rest = arg.strip().partition(" ")
            arg = f"{mechanism.upper()} {rest}".strip()
        await super().smtp_AUTH(arg)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self._tls_protocol is not None:
            await self.push(str(esmtp.TLS_ACTIVE))
            return
        if self._mail is not None and self.tls_context is not None:
            await self.push(str(R.AUTH_IN_MAIL_TRANSACTION))
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_QUIT(self, arg: str) -> None:
        await super().smtp_QUIT("")  # Postfix ignores arguments to QUIT


_VERBS_AND_MECHANISMS = tuple(name for name in dir(SmtpServerProtocol) if name.startswith(("smtp_", "auth_")))
