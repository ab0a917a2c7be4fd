"""smtpd(8): the decisions behind an SMTP server port (``smtp`` on 25, ``submission`` on 587, ...).

The engine (aiosmtpd, :mod:`mailsim.engine.server`) speaks the protocol; :class:`Smtpd` implements
its hooks. On connect it looks up the client's name (PTR, then the forward lookup that confirms it;
"unknown" otherwise, as Postfix names clients); each command is judged by the pure restriction
engine (:mod:`mailsim.policy.restrictions`) with Postfix's delayed evaluation; AUTH checks the
host's SASL accounts; the first accepted recipient opens a cleanup stream and so gets the queue
id; at the end of DATA smtpd prepends its Received header and hands the message to cleanup,
whose answer is the reply. Every decision is in the trace in Postfix's maillog vocabulary; the
"disconnect from" record carries the engine's command counts in Postfix's words (:func:`command_stats`).

Parameters: smtpd_*_restrictions, smtpd_delay_reject (yes), smtpd_sasl_auth_enable (no),
smtpd_tls_security_level, smtpd_tls_auth_only (no), smtpd_banner, smtpd_timeout (300s),
message_size_limit (10240000), local_header_rewrite_clients (permit_inet_interfaces), myhostname,
smtpd_recipient_limit (1000: ``452 4.5.3 Error: too many recipients`` before the restrictions), and those
of :class:`mailsim.engine.server.ServerSettings` (disable_vrfy_command among them).

Throttling (the counting is :mod:`mailsim.mta.anvil`'s; the replies and warnings are smtpd's): over
smtpd_client_connection_count_limit (50) or smtpd_client_connection_rate_limit (0 = off) the client gets ``421 4.7.0 HOST Error: too many connections from IP`` and the hang-up (smtpd.c). Per client, too:
smtpd_client_message_rate_limit (0 = off; each MAIL FROM counts, over it ``450 4.7.1 Error: too much mail
from IP``) and smtpd_client_recipient_rate_limit (0 = off; each RCPT TO counts, over it ``450 4.7.1 Error:
too many recipients from IP``), both checked before the restrictions as smtpd.c does. Model knob, not
a Postfix parameter: ``mailsim_smtpd_greeting_delay`` (0s) holds each admitted session that long before
the greeting, standing in for a slow server (SCHEDULER_README's ``smtpd_client_restrictions = sleep 1``),
times a uniform factor in [1 - j, 1 + j] for ``mailsim_smtpd_greeting_jitter`` = j (0: exact; real servers
jitter, and identical session times lock a client's concurrency feedback into artificial cycles).

Resources: the service's master.cf maxproc (``-`` = default_process_limit, 100) limits its processes; a
connection beyond it waits ungreeted in connect (:mod:`mailsim.mta.process_limit`). At the first accepted
RCPT, where smtpd connects to cleanup, in_flow_delay (1s) may pause the session (:mod:`mailsim.mta.mail_flow`).
On a host with ``hardware`` the 250 after DATA waits for smtpd's CPU job and cleanup's fsync
(:mod:`mailsim.mta.hardware`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from mailsim.config.syntax import split_list
from mailsim.core.errors import ConfigError
from mailsim.core.units import parse_duration
from mailsim.engine.command_counts import CommandTally
from mailsim.engine.hooks import MailOptions, SmtpSession
from mailsim.engine.settings import ServerSettings
from mailsim.mail.envelope import Envelope
from mailsim.mail.received import received_header, with_protocol
from mailsim.mail.reply import (
    TOO_MANY_RECIPIENTS,
    Reply,
    client_denied,
    too_many_connections,
    too_many_recipients_from,
    too_much_mail,
)
from mailsim.mta.anvil import Anvil, Excess
from mailsim.mta.cleanup import Origin
from mailsim.mta.policy_service import policy_services_for
from mailsim.mta.process_limit import for_service
from mailsim.mta.smtpd_client import ClientIdentity
from mailsim.mta.smtpd_dns import RestrictionDns
from mailsim.policy.restrictions.model import (
    ActionKind,
    PolicyWorld,
    SmtpdContext,
    Stage,
    Verdict,
)
from mailsim.policy.restrictions.settings import RestrictionSettings
from mailsim.policy.restrictions.stages import SmtpdRestrictions

GREET = None
_CONTEXT_FIELDS = tuple(f.name for f in fields(SmtpdContext))
OK_HELO = Reply(250, None, "Ok")
OK_AUTH = Reply(235, "2.7.0", "Authentication successful")
BAD_AUTH = Reply(535, "5.7.8", "Error: authentication failed: authentication failure")
OK_MAIL = Reply(250, "2.1.0", "Ok")
OK_RCPT = Reply(250, "2.1.5", "Ok")
GO_AHEAD = Reply(354, None, "End data with <CR><LF>.<CR><LF>")


@dataclass
class _Conn:
    """Per-connection state (kept in the engine session's scratch space)."""

    ctx: SmtpdContext
    queue_id: str | None = None
    actions: list[Any] = field(default_factory=list)
    counted: bool = False  # throttle: holds one of anvil's connection slots


class Smtpd:
    """The hooks of one smtpd service on one host."""

    def __init__(self, host: Any, service: str = "smtp") -> None:
        self.host = host
        self.service = service
        self.main = host.service_main(service, "inet")
        self.dns = RestrictionDns(host, self.main.get("inet_protocols"))  # the restrictions' DNS, its time owed
        world = PolicyWorld(mail_domain=self.dns.mail_domain, host_name=self.dns.host_name, local_users=self._local_user,
                            policy_services=policy_services_for(host), dnsbl=self.dns.dnsbl,  # mailsim-auth: policyd-spf
                            mx_records=self.dns.mx_records, host_addresses=self.dns.host_addresses)  # fmt: skip
        # master.cf -o overrides reach smtpd's own restrictions but not trivial-rewrite, a separate daemon
        # that reads the global main.cf (so -o relay_domains= does not change address classes, as in Postfix).
        self.restrictions = SmtpdRestrictions(
            RestrictionSettings.from_main(self.main, host.table), host.rewrite.settings, world
        )
        self.clients = ClientIdentity(host, self.main, self.restrictions.settings.mynetworks)
        self.sasl_enabled = self.main.bool("smtpd_sasl_auth_enable")
        self._anvil_setup()  # throttle
        self.processes = for_service(host, service)  # master.cf maxproc: smtpd processes of this service

    def _anvil_setup(self) -> None:
        """anvil(8)'s per-client connection count and rate, and the model's slow greeting."""  # throttle
        main = self.main
        self.anvil = Anvil(main, self.host.table)
        self.recipient_limit = main.int("smtpd_recipient_limit")
        self.greeting_delay = _knob(main, "mailsim_smtpd_greeting_delay", parse_duration, "a duration like 2s")
        self.greeting_jitter = _knob(main, "mailsim_smtpd_greeting_jitter", float, "a number in [0, 1]")
        if not 0.0 <= self.greeting_jitter <= 1.0:
            raise ConfigError("bad model knob", key="mailsim_smtpd_greeting_jitter", expected="a number in [0, 1]",
                              found=str(self.greeting_jitter))  # fmt: skip

    def server_settings(self) -> ServerSettings:
        """The engine settings of this service (main.cf with the master.cf ``-o`` overrides)."""
        names = ("myhostname", "smtpd_banner", "message_size_limit", "smtputf8_enable", "smtpd_tls_security_level",
                 "smtpd_sasl_auth_enable", "smtpd_tls_auth_only", "smtpd_timeout", "smtpd_helo_required",
                 "line_length_limit", "smtpd_soft_error_limit", "smtpd_hard_error_limit", "smtpd_error_sleep_time",
                 "smtpd_junk_command_limit", "disable_vrfy_command")  # fmt: skip
        values = {name: self.main.get(name) for name in names}
        forbidden = _forbidden(self.main.get("smtpd_forbidden_commands"), self.host.table)
        return ServerSettings.from_main_cf(values, tls_context=self.host.server_tls_context(),
                                           forbidden_commands=forbidden)  # fmt: skip

    # -- the outside world for restrictions (DNS in smtpd_dns.py) ----------------------------------------------

    def _local_user(self, name: str) -> bool:
        return name.lower() in self.host.passwd

    # -- hooks ---------------------------------------------------------------------------------------

    async def connect(self, session: SmtpSession) -> Reply | None:
        await self.processes.enter(session.state, self.host.sim.now)  # the listen queue until a process is free
        peer = self.clients.peer(session.peer_ip)
        name, reverse, status = await self.clients.name(peer)
        ctx = SmtpdContext(peer, name, reverse, status, protocol="SMTP")
        conn = _Conn(ctx)
        session.state["smtpd"] = conn
        self._emit("connect", client=ctx.namaddr)
        throttled = self._anvil(conn)  # throttle
        if throttled is not None:
            return throttled
        if self.greeting_delay > 0:  # throttle: a slow server, the session holds its slot meanwhile
            await asyncio.sleep(self._greeting_delay())
        return await self._judge(conn, Stage.CONNECT, "CONNECT")

    async def helo(self, session: SmtpSession, name: str, esmtp: bool) -> Reply:
        conn = self._conn(session, helo_name=name, protocol="ESMTP" if esmtp else "SMTP")
        return (await self._judge(conn, Stage.HELO, "HELO")) or OK_HELO

    async def auth(self, session: SmtpSession, mechanism: str, login: str, password: str) -> Reply:
        conn = self._conn(session)
        accounts = self.host.sasl
        known = accounts.get(login)
        if known is None and "@" not in login:
            known = next((pw for user, pw in accounts.items() if user.split("@")[0] == login), None)
        if not self.sasl_enabled or known is None or known != password:
            self.host.sim.trace.emit(self.host.name, "smtpd", "auth_failed", client=conn.ctx.namaddr,
                                     mechanism=mechanism, login=login)  # fmt: skip
            return BAD_AUTH
        conn.ctx = _evolve(conn.ctx, sasl_username=login, sasl_method=mechanism)
        return OK_AUTH

    async def mail(self, session: SmtpSession, address: str, options: MailOptions) -> Reply:
        conn = self._conn(
            session, sender=address, recipient=None, recipient_count=0,
            instance=f"{self.host.sim.counter('smtpd-instance'):x}",  # mailsim-auth: one per transaction
        )  # fmt: skip
        if self.anvil.message_rate_limit > 0:
            refused = self._event_rate(conn, self.anvil.mail, too_much_mail)
            if refused is not None:
                return refused
        return (await self._judge(conn, Stage.MAIL, "MAIL")) or OK_MAIL

    async def rcpt(self, session: SmtpSession, address: str, options: MailOptions) -> Reply:
        conn = self._conn(session, recipient=address)
        if self.anvil.recipient_rate_limit > 0:
            refused = self._event_rate(conn, self.anvil.rcpt, too_many_recipients_from)
            if refused is not None:
                return refused
        if 0 < self.recipient_limit <= conn.ctx.recipient_count:  # smtpd.c rcpt_cmd: before the restrictions
            return TOO_MANY_RECIPIENTS
        refused = await self._judge(conn, Stage.RCPT, "RCPT")
        if refused is not None:
            return refused
        if conn.queue_id is not None:
            conn.ctx = _evolve(conn.ctx, recipient_count=conn.ctx.recipient_count + 1)
        else:  # smtpd connects to cleanup, which may pause first (mailsim.mta.mail_flow)
            count = conn.ctx.recipient_count + 1
            if not self.host.flow.take():
                conn.ctx = _evolve(conn.ctx, recipient_count=count)
                await asyncio.sleep(self.host.flow.delay)
            conn.queue_id = self.host.queue.new_queue_id()
            conn.ctx = _evolve(conn.ctx, recipient_count=count, queue_id=conn.queue_id)
            fields = {"sasl_method": conn.ctx.sasl_method, "sasl_username": conn.ctx.sasl_username}
            self.host.sim.trace.emit(self.host.name, "smtpd", "client", queue_id=conn.queue_id,
                                     client=conn.ctx.namaddr, **fields)  # fmt: skip
        return OK_RCPT

    async def data_start(self, session: SmtpSession) -> Reply:
        conn = self._conn(session)
        return (await self._judge(conn, Stage.DATA, "DATA")) or GO_AHEAD

    async def data(self, session: SmtpSession, envelope: Envelope, content: bytes) -> Reply:
        conn = self._conn(session, size=len(content))
        refused = await self._judge(conn, Stage.END_OF_DATA, "END-OF-MESSAGE")
        if refused is not None:
            self._end(conn)
            return refused
        parsed = envelope
        queue_id = conn.queue_id or self.host.queue.new_queue_id()
        stamped = self._received(session, conn, queue_id, parsed) + self._prepends(conn) + content
        delay = self.host.daemons.milter_time(self.service, len(stamped))  # mailsim-auth: smtpd_milters at work
        if delay > 0:
            await asyncio.sleep(delay)
        result = self.host.cleanup.process(queue_id, parsed, stamped, self._origin(session, conn))
        hardware, wait = self.host.hardware, result.wait  # the 250 waits for cleanup's fsync (mailsim.mta.hardware)
        if hardware is not None:
            wait = max(wait, hardware.work("smtpd", len(stamped)))
        if wait > 0:
            await asyncio.sleep(wait)
        self._end(conn)
        return result.reply

    async def reset(self, session: SmtpSession) -> None:
        conn = session.state.get("smtpd")
        if conn is not None:
            self._end(conn)

    async def denied(self, session: SmtpSession) -> Reply:
        """Every command but QUIT after a client refused at connect (smtpd_delay_reject = no)."""
        return client_denied(self._conn(session).ctx.namaddr)

    async def verify(self, session: SmtpSession, address: str) -> Reply | None:
        """VRFY: smtpd_check_rcptmap (the recipient tables only); None lets the engine answer 252."""
        return self.restrictions.verify(self._conn(session).ctx, address)

    async def disconnect(self, session: SmtpSession) -> None:
        self.processes.leave(session.state, self.host.sim.now)
        conn = session.state.get("smtpd")
        if conn is None:
            return
        if conn.counted:  # throttle: anvil_clnt_disconnect
            conn.counted = False
            self.anvil.disconnect(conn.ctx.client_address)
        self._emit("disconnect", client=conn.ctx.namaddr, commands=command_stats(session.commands))

    # -- helpers ---------------------------------------------------------------------------------------

    def _greeting_delay(self) -> float:
        """The model's slow greeting, jittered from the host's own stream."""  # throttle
        if self.greeting_jitter <= 0:
            return self.greeting_delay
        factor = self.host.sim.rng(f"greeting-delay:{self.host.name}").uniform(-1.0, 1.0) * self.greeting_jitter
        return self.greeting_delay * (1.0 + factor)

    def _anvil(self, conn: _Conn) -> Reply | None:
        """anvil_clnt_connect: count this connection; 421 and hang up when over a per-client limit."""  # throttle
        ctx = conn.ctx
        if self.anvil.exempt(ctx.client_name, ctx.client_address):
            return None
        conn.counted = True
        excess = self.anvil.connect(ctx.client_address, self.host.sim.now)
        if excess is None:
            return None
        return self._warn(conn, excess, too_many_connections(self.main.get("myhostname"), ctx.client_address))

    def _event_rate(self, conn: _Conn, count: Callable[[str, float], Excess | None],
                    reply: Callable[[str], Reply]) -> Reply | None:  # fmt: skip
        """anvil_clnt_mail/anvil_clnt_rcpt: count a MAIL or RCPT; 450 over the client's rate limit."""  # throttle
        ctx = conn.ctx
        if self.anvil.exempt(ctx.client_name, ctx.client_address):
            return None
        excess = count(ctx.client_address, self.host.sim.now)
        return None if excess is None else self._warn(conn, excess, reply(ctx.client_address))

    def _warn(self, conn: _Conn, excess: Excess, reply: Reply) -> Reply:
        """smtpd's warning for a client over an anvil limit (the maillog's 'Connection rate limit exceeded')."""
        self._emit("warning", client=conn.ctx.namaddr, problem=excess.problem, count=excess.count,
                   listener=self.service, reply=reply.oneline())  # fmt: skip
        return reply

    def _conn(self, session: SmtpSession, **changes: Any) -> _Conn:
        """The connection's state, its context brought up to date (login, TLS) with ``changes`` in one step."""
        conn = session.state.get("smtpd")
        if conn is None:
            conn = _Conn(SmtpdContext(self.clients.peer(session.peer_ip)))
            session.state["smtpd"] = conn
        ctx = conn.ctx
        if session.username and session.username != ctx.sasl_username:
            changes["sasl_username"] = session.username
        if ctx.encrypted != (session.tls is not None):
            changes["encrypted"] = session.tls is not None
        if changes:
            conn.ctx = _evolve(ctx, **changes)
        return conn

    async def _judge(self, conn: _Conn, stage: Stage, name: str) -> Reply | None:
        """The stage's restrictions; their DNS lookups' simulated time passes before the reply (none: no wait)."""
        verdict: Verdict = await self.dns.timed(self.restrictions.check, stage, conn.ctx)
        if verdict.defer_if_permit is not None:
            conn.ctx = _evolve(conn.ctx, defer_if_permit=verdict.defer_if_permit)
        conn.actions.extend(verdict.actions)
        if verdict.reply is None:
            return None
        ctx = conn.ctx
        self.host.sim.trace.emit(
            self.host.name, "smtpd", "reject", queue_id=conn.queue_id, stage=name, client=ctx.namaddr,
            reply=verdict.reply.oneline(), sender=ctx.sender or "", recipient=ctx.recipient,
            proto=ctx.protocol, helo=ctx.helo_name or "",
        )  # fmt: skip
        return verdict.reply

    def _end(self, conn: _Conn) -> None:
        conn.queue_id = None
        conn.actions = []
        conn.ctx = _evolve(conn.ctx, sender=None, recipient=None, recipient_count=0, queue_id=None, size=0)

    def _received(self, session: SmtpSession, conn: _Conn, queue_id: str, envelope: Envelope) -> bytes:
        ctx = conn.ctx
        protocol = with_protocol(esmtp=ctx.protocol == "ESMTP", tls=session.tls is not None,
                                 auth=ctx.sasl_username is not None, utf8=envelope.smtputf8)  # fmt: skip
        value = received_header(
            client_name=ctx.client_name, client_address=ctx.client_address, by_host=self.main.get("myhostname"),
            protocol=protocol, queue_id=queue_id, recipients=envelope.rcpt_tos, date=self.host.sim.wallclock(),
            helo=ctx.helo_name,
        )  # fmt: skip
        return ("Received: " + value.replace("\n", "\r\n") + "\r\n").encode("utf-8")

    def _prepends(self, conn: _Conn) -> bytes:
        lines = [a.value for a in conn.actions if a.kind is ActionKind.PREPEND]
        return b"".join(line.encode("utf-8") + b"\r\n" for line in lines)

    def _origin(self, session: SmtpSession, conn: _Conn) -> Origin:
        ctx = conn.ctx
        attributes = [("client_name", ctx.client_name), ("client_address", ctx.client_address),
                      ("helo_name", ctx.helo_name or ""), ("protocol_name", ctx.protocol)]  # fmt: skip
        if ctx.sasl_username:
            attributes.append(("sasl_username", ctx.sasl_username))
        for action in conn.actions:
            if action.kind in (ActionKind.HOLD, ActionKind.DISCARD, ActionKind.REDIRECT, ActionKind.FILTER):
                attributes.append((action.kind.value, action.value))
        return Origin(self.service, ctx.client_name, ctx.client_address, ctx.helo_name or "", ctx.protocol,
                      ctx.sasl_username, self.clients.rewrites(ctx), attributes)  # fmt: skip

    def _emit(self, event: str, **fields: Any) -> None:
        self.host.sim.trace.emit(self.host.name, "smtpd", event, **fields)


def command_stats(tally: CommandTally) -> str:
    """smtpd.c's "disconnect from" counts: ``name=ok`` or ``name=ok/total``, then ``commands=`` likewise.

    Why ``commands=0/0``: Postfix always shows both numbers when no command came (HISTORY 20150118).
    """
    rows = tally.rows()
    ok, total = sum(row[1] for row in rows), sum(row[2] for row in rows)
    words = [f"{name}={good}" if good == sent else f"{name}={good}/{sent}" for name, good, sent in rows]
    words.append(f"commands={ok}" if ok == total and total else f"commands={ok}/{total}")
    return " ".join(words)


def _forbidden(value: str, table: Callable[[str], Any]) -> Callable[[str], bool]:
    """smtpd_forbidden_commands as string_list_match reads it: words in any case, and lookup tables."""
    items = split_list(value)
    words = {item.upper() for item in items if ":" not in item}
    tables = [table(item) for item in items if ":" in item]
    return lambda verb: verb.upper() in words or any(t.lookup(verb) is not None for t in tables)


def _evolve(ctx: SmtpdContext, **changes: Any) -> SmtpdContext:
    """``dataclasses.replace`` for the slotted SmtpdContext (no ``__post_init__``) at half the cost.

    Why: smtpd moves the context on at several commands of every session.
    """
    new = object.__new__(type(ctx))
    for name in _CONTEXT_FIELDS:
        object.__setattr__(new, name, changes.pop(name) if name in changes else getattr(ctx, name))
    if changes:
        raise TypeError(f"SmtpdContext has no field {sorted(changes)[0]!r}")
    return new


def _knob(main: Any, name: str, parse: Any, expected: str) -> float:
    """A mailsim model knob in main.cf (not a Postfix parameter); 0 when unset."""  # throttle
    text = main.lookup(name)
    try:
        return float(parse(text)) if text else 0.0
    except ValueError:
        raise ConfigError("bad model knob", key=name, expected=expected, found=text) from None
