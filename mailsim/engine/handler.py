"""aiosmtpd's handler interface (``handle_<VERB>``, ``auth_<MECHANISM>``) as thin calls into :class:`SmtpHooks`.

One :class:`HookHandler` serves every connection of a server; per-connection state lives on the protocol
object aiosmtpd passes in as ``server`` (a :class:`~mailsim.engine.server.SmtpServerProtocol`). Each method
asks the hooks, records what an accepted answer changes (HELO name, sender, recipients, login) and returns
the reply text aiosmtpd sends.

AUTH PLAIN and LOGIN are implemented here rather than through aiosmtpd's ``authenticator`` callable because
that callable is synchronous and the hooks are coroutines (a password lookup may take simulated time). The
decoding is RFC 4616/LOGIN as Postfix's SASL layer does it, with Postfix's challenges and failure replies.

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
import binascii
from base64 import b64decode
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import MISSING, AuthResult, Envelope, LoginPassword, Session

from mailsim.engine import esmtp
from mailsim.engine.hooks import SmtpHooks
from mailsim.mail import reply as R
from mailsim.mail.reply import Reply

if TYPE_CHECKING:
    from mailsim.engine.server import SmtpServerProtocol


def _positive(reply: Reply) -> bool:
    return 200 <= reply.code < 300


class HookHandler:
    """Adapts aiosmtpd's per-command handler calls to one :class:`SmtpHooks` object."""

    def __init__(self, hooks: SmtpHooks) -> None:
        self.hooks = hooks

    async def _greet(self, server: SmtpServerProtocol, session: Session, name: str, esmtp_: bool) -> Reply | None:
        await server.end_transaction()
        reply = await server.ask(self.hooks.helo(server.view, name, esmtp_))
        if not _positive(reply):
            session.extended_smtp = False
            return reply
        session.host_name = name
        server.update_view(helo_name=name, esmtp=esmtp_)
        return None

    async def handle_HELO(self, server: SmtpServerProtocol, session: Session, envelope: Envelope, name: str) -> str:
        refused = await self._greet(server, session, name, False)
        return str(refused) if refused else str(R.helo_ok(server.hostname))

    async def handle_EHLO(
        self, server: SmtpServerProtocol, session: Session, envelope: Envelope, name: str, responses: list[str]
    ) -> list[str]:
        refused = await self._greet(server, session, name, True)
        return [str(refused) if refused else "\r\n".join(server.ehlo_lines())]  # one write, as Postfix does

    async def handle_MAIL(
        self, server: SmtpServerProtocol, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        sender = "" if address == "<>" else address
        params = server.take_options()
        reply = await server.ask(self.hooks.mail(server.view, sender, params))
        if _positive(reply):
            envelope.mail_from = address
            server.begin_transaction(sender)
        return str(reply)

    async def handle_RCPT(
        self, server: SmtpServerProtocol, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        params = server.take_options()
        reply = await server.ask(self.hooks.rcpt(server.view, address, params))
        if _positive(reply):
            envelope.rcpt_tos.append(address)
            server.add_recipient(address)
        return str(reply)

    async def handle_DATA(self, server: SmtpServerProtocol, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        smtp_envelope = server.transaction()
        # Shielded: once the final dot arrived, the message is queued even if the client hangs up meanwhile.
        reply = await server.ask(asyncio.shield(self.hooks.data(server.view, smtp_envelope, content)))
        server.transaction_done(_positive(reply))
        return str(reply)

    async def handle_RSET(self, server: SmtpServerProtocol, session: Session, envelope: Envelope) -> str:
        await server.end_transaction(always=True)
        return str(R.OK)

    async def handle_NOOP(self, server: SmtpServerProtocol, session: Session, envelope: Envelope, arg: str) -> str:
        return str(R.OK)

    async def handle_QUIT(self, server: SmtpServerProtocol, session: Session, envelope: Envelope) -> str:
        return str(R.BYE)

    async def verify(self, server: SmtpServerProtocol, address: str, arg: str) -> str:
        """VRFY: the hooks' refusal of ``address`` if they have the optional ``verify`` hook, else 252 + ``arg``."""
        hook = getattr(self.hooks, "verify", None)
        refused = await server.ask(hook(server.view, address)) if hook is not None else None
        return str(refused) if refused is not None else str(R.cannot_verify(arg))

    # -- AUTH (aiosmtpd calls these as ``method(server, args)``) -------------------------------------------------

    async def auth_PLAIN(self, server: SmtpServerProtocol, args: list[str]) -> AuthResult:
        blob = await _response(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        if isinstance(blob, Reply):
            return AuthResult(success=False, handled=False, message=str(blob))
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            return AuthResult(success=False, handled=False, message=str(esmtp.AUTH_BAD_BASE64))
        return await self._check(server, "PLAIN", parts[1], parts[2])

    async def auth_LOGIN(self, server: SmtpServerProtocol, args: list[str]) -> AuthResult:
        login = await _response(server, args, "Username:")
        if login is None or isinstance(login, Reply):
            return AuthResult(success=False, handled=login is None, message=str(login) if login else None)
        password = await server.challenge_auth("Password:")
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._check(server, "LOGIN", login, password)  # type: ignore[arg-type]

    async def _check(self, server: SmtpServerProtocol, mechanism: str, login: bytes, password: bytes) -> AuthResult:
        user = login.decode("utf-8", "surrogateescape")
        secret = password.decode("utf-8", "surrogateescape")
        reply = await server.ask(self.hooks.auth(server.view, mechanism, user, secret))
        if not _positive(reply):
            return AuthResult(success=False, handled=False, message=str(reply))
        server.update_view(username=user, mechanism=mechanism)
        return AuthResult(success=True, auth_data=LoginPassword(login, password), message=str(reply))


async def _response(server: SmtpServerProtocol, args: list[str], challenge: str) -> bytes | Reply | None:
    """The initial response of ``AUTH MECH [initial]`` or the answer to a challenge; None when aiosmtpd replied."""
    if len(args) > 1:
        try:
            return b64decode(args[1].encode("ascii", "replace"), validate=True)
        except (binascii.Error, ValueError):
            return esmtp.AUTH_BAD_INITIAL
    answer: Any = await server.challenge_auth(challenge)
    return None if answer is MISSING else answer
