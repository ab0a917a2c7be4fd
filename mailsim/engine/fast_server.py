"""The server half of the ``fast`` fidelity: what engine/server.py and engine/handler.py do around the hooks.

Why a copy of the rules and not of the engine: ``fast`` must give the replies aiosmtpd + our subclass give
for what :mod:`mailsim.engine.fast` sends (a well-formed client), without parsing any bytes. Each method is
one command arriving at the server; it asks :class:`~mailsim.engine.hooks.SmtpHooks` exactly as
:class:`~mailsim.engine.handler.HookHandler` does (same snapshots, same :class:`Envelope`), keeps Postfix's
error accounting (``smtpd_soft_error_limit`` sleeps ``smtpd_error_sleep_time``), STARTTLS-only commands
(``smtpd_tls_security_level = encrypt``), the 421 hang-up and the session's command counts
(:mod:`mailsim.engine.command_counts`), and returns the reply text.

Postfix parameters read: those of :class:`~mailsim.engine.settings.ServerSettings` (passed in).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

from mailsim.engine import esmtp
from mailsim.engine.hooks import SmtpSession, TlsInfo
from mailsim.engine.settings import BODY_LINE_LIMIT, ServerSettings
from mailsim.mail import reply as R
from mailsim.mail.envelope import Envelope, MailParams, RcptDsn
from mailsim.mail.reply import Reply

BEFORE_STARTTLS = frozenset({"EHLO", "HELO", "NOOP", "QUIT", "STARTTLS"})


def _aiosmtpd(text: str) -> str:
    """aiosmtpd's own reply text as our server subclass rewrites it (Postfix's words)."""
    reply = esmtp.AIOSMTPD_REPLIES.get(text)
    return str(reply) if reply is not None else text


class FastServer:
    """One server end of a fast session: state of the SMTP dialogue and the hooks it asks."""

    def __init__(self, hooks: Any, settings: ServerSettings, view: SmtpSession, factory: Any = None) -> None:
        self.hooks, self.settings, self.view, self.factory = hooks, settings, view, factory
        self.loop = asyncio.get_running_loop()
        self.tx: Envelope | None = None  # the open mail transaction
        self.errors = 0
        self.junk = 0  # NOOP, VRFY, ETRN, RSET: smtpd_junk_command_limit
        self.tls = False
        self.helo = False
        self.hangup = False
        self.denied: str | None = None  # after a connect refusal: the reply to every command but QUIT
        self.closed = False
        self.challenged = False  # AUTH LOGIN: the next auth() answers a 334, it is no new command

    async def ask(self, awaitable: Awaitable[Any]) -> Any:
        """A hook; one that raises ends the session with ``421 4.3.0`` as engine/server.py does."""
        try:
            return await awaitable
        except Exception as error:
            if self.factory is not None:
                self.factory.errors.append(error)
            self.loop.call_exception_handler({"message": "exception in SMTP server hooks", "exception": error})
            return esmtp.internal_error(self.settings.hostname)

    async def push(self, text: str) -> str:
        """Error accounting and the 421 hang-up of ``SmtpServerProtocol.push``."""
        if self.errors >= self.settings.soft_error_limit:
            await asyncio.sleep(self.settings.error_sleep_time)
        last = text.rsplit("\r\n", 1)[-1]
        self.view.commands.reply(int(last[:3]))
        if last[:1] in ("4", "5"):
            self.errors += 1
        if last.startswith(("421", "521")):
            self.hangup = True
        return text

    def _refused(self, verb: str) -> str | None:
        """A client refused at connect, or smtpd_tls_security_level = encrypt: only a few commands before STARTTLS."""
        if self.denied is not None:
            return self.denied
        if self.settings.require_starttls and not self.tls and verb not in BEFORE_STARTTLS:
            return str(R.STARTTLS_REQUIRED)
        return None

    def close(self, at: float) -> None:
        """The connection is gone for the server at ``at``: the disconnect hook runs then."""
        if self.closed:
            return
        self.closed = True
        delay = at - self.loop.time()
        if delay > 0:
            self.loop.call_later(delay, self._disconnect)
        else:
            self._disconnect()

    def _disconnect(self) -> None:
        coroutine = self.hooks.disconnect(self.view)
        if self.factory is not None:
            self.factory.background(coroutine)
        else:
            asyncio.ensure_future(coroutine)

    async def _reset(self) -> None:
        if self.tx is not None:
            self.tx = None
            await self.ask(self.hooks.reset(self.view))

    # -- commands --------------------------------------------------------------------------------------------

    async def greet(self) -> str:
        refused = await self.ask(self.hooks.connect(self.view))
        if refused is None:
            return "220 " + self.settings.greeting
        if refused.code == 421:
            self.hangup = True
        else:  # the refusal is the greeting; every command but QUIT is denied (smtpd_delay_reject = no)
            self.denied = str(await self.ask(esmtp.denial(self.hooks, self.view)))
        return await self.push(str(refused))

    async def hello(self, name: str, extended: bool) -> str:
        self.view.commands.start("EHLO" if extended else "HELO")
        if self.denied is not None:
            return await self.push(self.denied)
        await self._reset()
        reply: Reply = await self.ask(self.hooks.helo(self.view, name, extended))
        if not 200 <= reply.code < 300:
            return await self.push(str(reply))
        self.helo = True
        self.view = replace(self.view, helo_name=name, esmtp=extended)
        if not extended:
            return await self.push(str(R.helo_ok(self.settings.hostname)))
        offered = self.settings.tls_context is not None and not self.tls
        lines = esmtp.ehlo_lines(self.settings, tls_offered=offered, tls_active=self.tls)
        return await self.push("\r\n".join(lines))

    async def starttls(self) -> str:
        self.view.commands.start("STARTTLS")
        if self.tls:
            return await self.push(str(esmtp.TLS_ACTIVE))
        if self.settings.tls_context is None:
            return await self.push(_aiosmtpd("454 TLS not available"))
        if self.tx is not None:
            return await self.push(str(R.AUTH_IN_MAIL_TRANSACTION))
        return await self.push(_aiosmtpd("220 Ready to start TLS"))

    def secured(self, info: TlsInfo | None) -> None:
        """The handshake finished: RFC 3207 §4.2, the session starts over."""
        self.tls, self.helo, self.tx = True, False, None
        self.view = replace(self.view, helo_name=None, esmtp=False, tls=info, username=None, mechanism=None)
        self.view.commands.tls_started()

    async def login_challenge(self) -> str:
        self.view.commands.start("AUTH")
        refused = self._auth_refused()
        self.challenged = not refused
        return await self.push(refused) if refused else "334 UGFzc3dvcmQ6"

    def _auth_refused(self) -> str | None:
        settings = self.settings
        if refused := self._refused("AUTH"):
            return refused
        if not settings.auth_enabled:
            return str(R.AUTH_NOT_ENABLED)
        if self.tx is not None:
            return str(R.AUTH_IN_MAIL_TRANSACTION)
        if self.view.username is not None:
            return _aiosmtpd("503 Already authenticated")
        if settings.auth_require_tls and not self.tls:
            return _aiosmtpd("538 5.7.11 Encryption required for requested authentication mechanism")
        return None

    async def auth(self, mechanism: str, login: str, password: str) -> str:
        if not self.challenged:
            self.view.commands.start("AUTH")
        self.challenged = False
        refused = self._auth_refused()
        if refused:
            return await self.push(refused)
        reply: Reply = await self.ask(self.hooks.auth(self.view, mechanism, login, password))
        if 200 <= reply.code < 300:
            self.view = replace(self.view, username=login, mechanism=mechanism)
        return await self.push(str(reply))

    async def mail(self, arg: str) -> str:
        self.view.commands.start("MAIL")
        if refused := self._refused("MAIL"):
            return await self.push(refused)
        if self.tx is not None:
            return await self.push(_aiosmtpd("503 Error: nested MAIL command"))
        if self.settings.helo_required and not self.helo:
            return await self.push(str(R.NEED_HELO))
        checked = esmtp.check_path("FROM:", arg, _getaddr, R.BAD_SENDER_SYNTAX, self.settings)
        if isinstance(checked, Reply) or checked is None:
            return await self.push(str(checked or R.BAD_SENDER_SYNTAX))
        _, address, tokens, params = checked
        assert isinstance(params, MailParams)
        sender = "" if address == "<>" else address
        reply: Reply = await self.ask(self.hooks.mail(self.view, sender, tokens))
        if 200 <= reply.code < 300:
            self.tx = Envelope(
                sender, mail_options=tokens, smtputf8=params.smtputf8, body=params.body, size=params.size,
                ret=params.ret, envid=params.envid, auth=params.auth,
            )  # fmt: skip
        return await self.push(str(reply))

    async def rcpt(self, arg: str) -> str:
        self.view.commands.start("RCPT")
        if refused := self._refused("RCPT"):
            return await self.push(refused)
        if self.tx is None:
            return await self.push(_aiosmtpd("503 Error: need MAIL command"))
        checked = esmtp.check_path("TO:", arg, _getaddr, R.BAD_RECIPIENT_SYNTAX, self.settings)
        if isinstance(checked, Reply) or checked is None:
            return await self.push(str(checked or R.BAD_RECIPIENT_SYNTAX))
        _, address, tokens, dsn = checked
        assert isinstance(dsn, RcptDsn)
        reply: Reply = await self.ask(self.hooks.rcpt(self.view, address, tokens))
        if 200 <= reply.code < 300 and self.tx is not None:
            self.tx = self.tx.add_recipient(address, tokens, dsn)
        return await self.push(str(reply))

    async def data_command(self) -> str:
        self.view.commands.start("DATA")
        if refused := self._refused("DATA"):
            return await self.push(refused)
        if self.tx is None:
            return await self.push(_aiosmtpd("503 Error: need MAIL command"))
        if not self.tx.rcpt_tos:
            return await self.push(str(R.NO_VALID_RECIPIENTS))
        reply: Reply = await self.ask(self.hooks.data_start(self.view))
        if not 300 <= reply.code < 400:
            return await self.push(str(reply))
        return await self.push(_aiosmtpd("354 End data with <CR><LF>.<CR><LF>"))

    async def content(self, content: bytes, stuffed: int) -> str:
        """The end of DATA: aiosmtpd's size and line checks, then the data hook (shielded by the caller)."""
        limit = self.settings.data_size_limit
        envelope, self.tx = self.tx, None
        if limit and stuffed - 3 > limit:
            return await self.push(_aiosmtpd("552 Error: Too much mail data"))
        if len(content) + 2 > BODY_LINE_LIMIT and max(map(len, content.split(b"\r\n"))) + 2 > BODY_LINE_LIMIT:
            return await self.push(_aiosmtpd("500 Line too long (see RFC5321 4.5.3.1.6)"))
        assert envelope is not None
        reply: Reply = await self.ask(asyncio.shield(self.hooks.data(self.view, envelope, content)))
        if 200 <= reply.code < 300:
            self.errors = 0  # Postfix counts errors "without delivering mail"
            self.junk = 0
        return await self.push(str(reply))

    async def rset(self) -> str:
        """RSET (a junk command): the transaction is dropped and the hooks told, always (handler.handle_RSET)."""
        self.view.commands.start("RSET")
        self.junk += 1
        if self.junk > self.settings.junk_command_limit:
            self.errors += 1
        if refused := self._refused("RSET"):
            return await self.push(refused)
        self.tx = None
        await self.ask(self.hooks.reset(self.view))
        return await self.push(str(R.OK))

    async def quit(self) -> str:
        self.view.commands.start("QUIT")
        self.view.commands.reply(R.BYE.code)
        self.hangup = True
        return str(R.BYE)


def _getaddr(text: str) -> tuple[str | None, str | None]:
    """aiosmtpd's address parser for what the fast client sends (``<address> params``)."""
    found = esmtp.simple_address(text)
    if found is not None:
        return found
    address, _, rest = text.partition(" ")
    return address.strip("<>") or None, rest
