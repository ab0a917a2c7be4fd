"""smtp(8): the SMTP client delivery agent (also relay, and lmtp for LMTP destinations).

For a request to ``nexthop`` it looks up MX records (unless the nexthop is ``[bracketed]``), the
addresses of each MX host in preference order (RFC 5321 §5.1; ties shuffled by the host's seeded
stream), and tries them until one session completes: at most smtp_mx_address_limit addresses
and smtp_mx_session_limit sessions. A connection that is refused, times out, breaks, or gets a
4xx/5xx greeting moves on to the next address. Each recipient gets the verdict of the session
that took it (2xx sent, 4xx deferred, 5xx bounced, Postfix's "host X said: ... (in reply to RCPT
TO command)"); when no host could be reached the *site* failed: every recipient is deferred with
the last connection error and qmgr gets negative feedback. A null MX bounces with 5.1.10, an
unknown domain with 5.4.4, a DNS failure defers with 4.4.3, an MX list that loops back to this
host bounces with 5.4.6. Connections are cached as Postfix caches them (:mod:`mailsim.mta.smtp_reuse`):
before connecting, a cached connection to the nexthop or to an MX address is probed with RSET and used; a
delivery over one logs ``conn_use=N``.

Parameters: smtp_helo_name ($myhostname), smtp_mx_address_limit (5), smtp_mx_session_limit (2),
smtp_connect_timeout (30s) and the other smtp_*_timeout values, smtp_tls_security_level (empty =
none), smtp_sasl_auth_enable (no), smtp_sasl_password_maps, smtp_fallback_relay / fallback_relay,
inet_protocols (all), smtp_address_preference (any), smtp_line_length_limit (998: longer lines are
folded as smtp_text_out() does), smtp_skip_5xx_greeting (yes: a 5xx greeting counts as 4xx, so the next
MX is tried and the last one defers; no: the session failure is final and bounces at once, smtp_helo()),
smtp_rset_timeout (20s) and the smtp_connection_* parameters of :mod:`mailsim.mta.smtp_reuse`, lmtp_* for the
lmtp service.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import simpy

from mailsim.dns.mx import MxStatus, addresses_of, mx_plan, order_addresses
from mailsim.dns.zones import Status
from mailsim.engine.bridge import event_from_awaitable
from mailsim.engine.client import (
    ClientTimeouts,
    Credentials,
    Outcome,
    SessionPlan,
    SessionResult,
    StartTls,
    Transaction,
)
from mailsim.engine.fidelity import session as fidelity_session  # fidelity
from mailsim.engine.simloop import host_context
from mailsim.mail.delivery import DeliverRequest, DeliveryStatus, RecipientStatus
from mailsim.mail.message import fold_long_lines
from mailsim.mail.report import DeliveryReport
from mailsim.mta.scache import CachedConnection
from mailsim.mta.smtp_reuse import Reuse, ReuseSettings, reuse_for
from mailsim.policy.rewrite.resolve import parse_nexthop


@dataclass(frozen=True, slots=True)
class Target:
    """One address to try: the MX host's name, its IP, and the port."""

    name: str
    address: str
    port: int
    pref: int = 0  # the MX preference (0 without MX lookup): cached connections to the best ones are looked up first


@dataclass(slots=True)
class _Tally:
    """One request's sessions so far and the last reason a server could not be used."""

    sessions: int = 0
    reason: str = "no mail exchanger could be reached"
    dsn: str = "4.4.1"
    kept: int = 0  # connections saved to the cache (the first is bound to the nexthop)


class Unroutable(Exception):
    """No address to try: carries the status every recipient gets."""

    def __init__(self, status: DeliveryStatus, dsn: str, reason: str, site: bool = False) -> None:
        super().__init__(reason)
        self.status, self.dsn, self.reason, self.site = status, dsn, reason, site


class SmtpAgent:
    """The smtp (or lmtp) delivery agent of one host."""

    def __init__(self, host: Any, service: str = "smtp", *, lmtp: bool = False) -> None:
        self.host = host
        self.service = service
        self.lmtp = lmtp
        main = host.service_main(service)
        prefix = "lmtp" if lmtp else "smtp"
        self.prefix = prefix
        self.main = main
        self.helo_name = main.get(f"{prefix}_helo_name")
        self.timeouts = ClientTimeouts(
            connect=main.time(f"{prefix}_connect_timeout"), helo=main.time(f"{prefix}_helo_timeout"),
            mail=main.time(f"{prefix}_mail_timeout"), rcpt=main.time(f"{prefix}_rcpt_timeout"),
            data_init=main.time(f"{prefix}_data_init_timeout"), data_xfer=main.time(f"{prefix}_data_xfer_timeout"),
            data_done=main.time(f"{prefix}_data_done_timeout"), quit=main.time(f"{prefix}_quit_timeout"),
            rset=main.time(f"{prefix}_rset_timeout"),
        )  # fmt: skip
        level = main.get(f"{prefix}_tls_security_level") or "none"
        self.starttls = {"encrypt": StartTls.ENCRYPT, "may": StartTls.MAY}.get(level, StartTls.NONE)
        self.rng = host.sim.rng(f"{host.name}.{service}.mx")
        self.reuse = ReuseSettings.from_main(main, prefix, host.table, self.starttls is StartTls.NONE)

    def deliver(self, request: DeliverRequest) -> simpy.Event:
        """qmgr's call: a simpy event whose value is the :class:`DeliveryReport`."""
        return event_from_awaitable(self.host.sim, self._run(request))

    async def _run(self, request: DeliverRequest) -> DeliveryReport:
        with host_context(self.host.name):
            start = self.host.sim.now
            reuse = reuse_for(self.reuse, self.host.scache, self.service, request)
            report = await self._attempt(request, request.nexthop, start, reuse)
            if report.site_failure is None:
                return report
            if reuse is not None and not reuse.resolved:
                reuse = None  # smtp_cache_policy() runs only for a first nexthop that has addresses
            for relay in self.main.list(f"{self.prefix}_fallback_relay"):
                fallback = await self._attempt(request, relay, start, reuse)  # can't be found or unreachable: fall back
                if fallback.site_failure is None:
                    return fallback
            return self._logged(request, report)

    async def _attempt(
        self, request: DeliverRequest, nexthop: str, start: float, reuse: Reuse | None
    ) -> DeliveryReport:
        """Deliver through one nexthop; a destination that cannot be found counts as a site failure here."""
        try:
            targets = await self._targets(nexthop)
        except Unroutable as exc:
            fallback = exc.dsn == "5.4.4" and bool(self.main.list(f"{self.prefix}_fallback_relay"))
            report = self._all(request, exc.status, exc.dsn, exc.reason, start, log=False)
            if exc.site or fallback:  # logged by _run once the fallback relays have had their turn
                return DeliveryReport(report.statuses, exc.reason, exc.dsn)
            return self._logged(request, report)
        if reuse is not None:
            reuse.resolved = True
        return await self._sessions(request, targets, start, reuse)

    def _logged(self, request: DeliverRequest, report: DeliveryReport) -> DeliveryReport:
        for status in report.statuses:
            self._log(request, status)
        return report

    async def _targets(self, nexthop: str) -> list[Target]:
        hop = parse_nexthop(nexthop, default_port=24 if self.lmtp else 25)
        port = hop.port or 25
        if not hop.mx_lookup:
            return [Target(hop.host, a, port) for a in await self._addresses(hop.host)]
        resolver = self.host.resolver
        answer = await resolver.aquery(hop.host, "MX")
        plan = mx_plan(hop.host, answer, self.rng, local_names=self.host.local_names)
        if plan.status is MxStatus.NULL_MX:
            raise Unroutable(DeliveryStatus.BOUNCED, "5.1.10", f"Domain {hop.host} does not accept mail (nullMX)")
        if plan.status is MxStatus.NOT_FOUND:
            raise Unroutable(
                DeliveryStatus.BOUNCED, "5.4.4",
                f"Host or domain name not found. Name service error for name={hop.host} type=MX: Host not found",
            )  # fmt: skip
        if plan.status is MxStatus.TEMPFAIL:
            raise Unroutable(
                DeliveryStatus.DEFERRED, "4.4.3",
                f"Host or domain name not found. Name service error for name={hop.host} type=MX: "
                "Host not found, try again",
                site=True,
            )  # fmt: skip
        if plan.status is MxStatus.LOOP:
            raise Unroutable(DeliveryStatus.BOUNCED, "5.4.6", f"mail for {hop.host} loops back to myself")
        targets: list[Target] = []
        for mx in plan.hosts:
            targets.extend(
                Target(mx.host, a, port, mx.preference) for a in await self._addresses(mx.host, strict=False)
            )
        if not targets:
            raise Unroutable(DeliveryStatus.DEFERRED, "4.4.3", f"Host or domain name not found for {hop.host}", True)
        return targets[: self.main.int(f"{self.prefix}_mx_address_limit") or None]

    async def _addresses(self, name: str, strict: bool = True) -> list[str]:
        if _is_ip(name):  # [192.0.2.1] as a relayhost or transport nexthop: no DNS at all
            return [name]
        resolver = self.host.resolver
        v4 = await resolver.aquery(name, "A")
        v6 = await resolver.aquery(name, "AAAA")
        found = order_addresses(addresses_of(v4), addresses_of(v6), inet_protocols=self.main.get("inet_protocols"),
                                preference=self.main.get(f"{self.prefix}_address_preference"), rng=self.rng)  # fmt: skip
        if not found and strict:
            if Status.NXDOMAIN in (v4.status, v6.status) or v4.status is Status.NODATA:
                raise Unroutable(
                    DeliveryStatus.BOUNCED, "5.4.4",
                    f"Host or domain name not found. Name service error for name={name} type=A: Host not found",
                )  # fmt: skip
            raise Unroutable(DeliveryStatus.DEFERRED, "4.4.3", f"Host or domain name not found for {name}", True)
        return found

    async def _sessions(self, request: DeliverRequest, targets: Sequence[Target], start: float,
                        reuse: Reuse | None) -> DeliveryReport:  # fmt: skip
        """Cached connections first (smtp_reuse_session()), then new ones, until a server answers or limits hit."""
        qf = self.host.queue.get(request.queue_id)
        content = fold_long_lines(
            qf.content if qf is not None else b"", self.main.int(f"{self.prefix}_line_length_limit")
        )
        limit = self.main.int(f"{self.prefix}_mx_session_limit") or len(targets)
        tally, pending = _Tally(), list(targets)
        if reuse is not None and reuse.load and pending:
            pending = [t for t in pending if t.address not in reuse.used]  # smtp_scrub_addr_list()
            best = pending[0].pref if pending else 0
            lookups = [None, *(t for t in pending if t.pref == best)] if pending else []  # nexthop, best MX hosts
            for target in lookups:
                if tally.sessions >= limit:  # checked before a connection is taken: one taken must be used or closed
                    break
                found = reuse.by_destination() if target is None else reuse.by_endpoint(*_where(target))
                result = await self._over(request, content, reuse, found) if found is not None else None
                if found is None or result is None:
                    continue
                pending = [t for t in pending if t.address != found.address] if tally.sessions + 1 < limit else []
                done = self._settle(request, _at(found), result, start, reuse, tally, found, final=False)
                if done is not None:
                    return done
        for index, target in enumerate(pending):
            if tally.sessions >= limit:
                break
            found = reuse.by_endpoint(*_where(target)) if reuse is not None and target.pref != pending[0].pref else None
            result = await self._over(request, content, reuse, found) if found is not None else None
            if result is None:  # nothing cached, or its RSET probe failed: connect
                result, found = await self._connect(request, content, reuse, target)
            done = self._settle(request, target, result, start, reuse, tally, found, final=index == len(pending) - 1)
            if done is not None:
                return done
        return self._all(request, DeliveryStatus.DEFERRED, tally.dsn, tally.reason, start, site=True, log=False)

    async def _over(self, request: DeliverRequest, content: bytes, reuse: Reuse | None,
                    found: CachedConnection | None) -> SessionResult | None:  # fmt: skip
        """The transaction over a cached connection (after its RSET probe); None when the probe failed."""
        assert reuse is not None and found is not None
        transaction = self._plan(request, _at(found), content).transaction
        return await found.session.again(transaction, reuse.until_reused(found, self.host.sim.now))

    async def _connect(self, request: DeliverRequest, content: bytes, reuse: Reuse | None,
                       target: Target) -> tuple[SessionResult, CachedConnection | None]:  # fmt: skip
        """A new connection; kept for the cache when the request stores and the transaction allows."""
        made = self.host.sim.now
        plan = self._plan(request, target, content, reuse.until_new(made) if reuse is not None else None)
        result = await fidelity_session(plan, record=False,  # fidelity
                                        transcripts=self.host.transcripts, host=self.host.name, service=self.service)  # fmt: skip
        kept = result.kept
        return result, CachedConnection(kept, target.name, target.address, target.port, made) if kept else None

    def _settle(self, request: DeliverRequest, target: Target, result: SessionResult, start: float,
                reuse: Reuse | None, tally: _Tally, found: CachedConnection | None,
                final: bool) -> DeliveryReport | None:  # fmt: skip
        """Count the session, cache a kept connection, and report when a server answered (else note why not)."""
        if result.outcome is not Outcome.REFUSED and result.outcome is not Outcome.UNREACHABLE:
            tally.sessions += 1
        if found is not None and reuse is not None and result.kept is not None:
            reuse.keep(found, first=tally.kept == 0)
            tally.kept += 1
        if _answered(result):
            return self._report(request, target, result, start, found.reuse_count if found is not None else 0)
        return self._failed(request, target, result, start, tally, final)

    def _failed(self, request: DeliverRequest, target: Target, result: SessionResult, start: float, tally: _Tally,
                final: bool) -> DeliveryReport | None:  # fmt: skip
        """A server that could not be used: note why; bounce now when that is final (smtp_bulk_fail)."""
        tally.reason, tally.dsn = _connect_reason(target, result), _failure_dsn(result)
        self.host.sim.trace.emit(self.host.name, self.service, "connect_failed", queue_id=request.queue_id,
                                 text=tally.reason)  # fmt: skip
        if result.stage == "greeting" and tally.dsn[0] == "5":  # smtp_helo(): smtp_skip_5xx_greeting
            if not self.main.bool(f"{self.prefix}_skip_5xx_greeting"):
                return self._all(request, DeliveryStatus.BOUNCED, tally.dsn, tally.reason, start)
            tally.dsn = "4" + tally.dsn[1:]
        final = final or tally.sessions >= self.main.int(f"{self.prefix}_mx_session_limit") > 0
        if final and tally.dsn[0] == "5" and not self.main.list(f"{self.prefix}_fallback_relay"):
            return self._all(request, DeliveryStatus.BOUNCED, tally.dsn, tally.reason, start)  # smtp_bulk_fail
        return None

    def _plan(self, request: DeliverRequest, target: Target, content: bytes,
              cache_until: float | None = None) -> SessionPlan:  # fmt: skip
        options = [f"SIZE={request.size}"] if not self.lmtp else []
        if request.envid:
            options.append(f"ENVID={request.envid}")
        transaction = Transaction(request.sender, request.addresses, content, tuple(options))
        credentials = self._credentials(request.nexthop)
        return SessionPlan(
            target.address, self.helo_name, transaction, port=target.port,
            source_address=self.host.addresses[0] if self.host.addresses else None,
            starttls=self.starttls, tls_context=self.host.client_tls_context(), server_name=target.name,
            credentials=credentials, timeouts=self.timeouts, cache_until=cache_until,
        )  # fmt: skip

    def _credentials(self, nexthop: str) -> Credentials | None:
        if not self.main.bool(f"{self.prefix}_sasl_auth_enable"):
            return None
        for table in self.host.tables(self.main.get(f"{self.prefix}_sasl_password_maps")):
            hop = parse_nexthop(nexthop)
            for key in (nexthop, hop.host, f"[{hop.host}]"):
                value = table.lookup(key)
                if value:
                    user, _, password = value.partition(":")
                    return Credentials(user, password)
        return None

    def _report(self, request: DeliverRequest, target: Target, result: SessionResult, start: float,
                reused: int = 0) -> DeliveryReport:  # fmt: skip
        by_address = {r.address: r for r in result.recipients}
        statuses = []
        for rcpt in request.recipients:
            got = by_address.get(rcpt.address)
            reply = got.reply if got is not None and got.reply is not None else result.reply
            command = (
                "RCPT TO" if got is not None and got.reply is not None and got.reply.code >= 400 else "end of DATA"
            )
            if reply is None:
                statuses.append(self._status(request, rcpt, DeliveryStatus.DEFERRED, "4.4.2",
                                             f"lost connection with {target.name}[{target.address}]", target, start))  # fmt: skip
                continue
            if reply is result.reply and result.stage in _COMMANDS:
                command = _COMMANDS[result.stage]
            status = RecipientStatus.from_reply(rcpt.address, reply, host=target.name, address=target.address,
                                                command=command, port=target.port)  # fmt: skip
            statuses.append(self._finish(request, rcpt, status, result, start, reused))
        return DeliveryReport(tuple(statuses))

    def _finish(self, request: DeliverRequest, rcpt: Any, status: RecipientStatus, result: SessionResult,
                start: float, reused: int = 0) -> RecipientStatus:  # fmt: skip
        now = self.host.sim.now
        connect = max(0.0, (result.started or start) - start)
        delays = (0.0, max(0.0, start - request.arrival_time), connect, max(0.0, now - start - connect))
        status = RecipientStatus(status.recipient, status.status, status.dsn, status.reason, status.reply,
                                 status.relay, status.remote_mta, now - request.arrival_time, delays,
                                 rcpt.original, rcpt.dsn)  # fmt: skip
        self._log(request, status, reused)
        return status

    def _status(self, request: DeliverRequest, rcpt: Any, kind: DeliveryStatus, dsn: str, reason: str,
                target: Target | None, start: float, *, log: bool = True) -> RecipientStatus:  # fmt: skip
        now = self.host.sim.now
        relay = f"{target.name}[{target.address}]:{target.port}" if target else "none"
        status = RecipientStatus(rcpt.address, kind, dsn, reason, None, relay, target.name if target else None,
                                 now - request.arrival_time, (0.0, max(0.0, start - request.arrival_time), 0.0,
                                 now - start), rcpt.original, rcpt.dsn)  # fmt: skip
        if log:
            self._log(request, status)
        return status

    def _all(self, request: DeliverRequest, kind: DeliveryStatus, dsn: str, reason: str, start: float,
             *, site: bool = False, log: bool = True) -> DeliveryReport:  # fmt: skip
        statuses = tuple(self._status(request, r, kind, dsn, reason, None, start, log=log) for r in request.recipients)
        return DeliveryReport(statuses, site_failure=reason if site else None, site_dsn=dsn)

    def _log(self, request: DeliverRequest, status: RecipientStatus, reused: int = 0) -> None:
        """The delivery record; ``conn_use`` (log_adhoc.c: reuse count + 1) only over a reused connection."""
        qf = self.host.queue.get(request.queue_id)
        more = {"conn_use": reused + 1} if reused else {}
        self.host.sim.trace.emit(
            self.host.name, self.service, "delivery", queue_id=request.queue_id,
            message_id=qf.attribute("message_id") if qf else None, to=status.recipient, orig_to=status.original,
            relay=status.relay, delay=status.delay, delays=status.delays, dsn=status.dsn, status=str(status.status),
            text=status.reason, **more,
        )  # fmt: skip


def _where(target: Target) -> tuple[str, str, int]:
    return target.name, target.address, target.port


def _at(found: CachedConnection) -> Target:
    return Target(found.host, found.address, found.port)


def _is_ip(text: str) -> bool:
    text = text.removeprefix("ipv6:")
    if ":" not in text and text.strip("0123456789."):  # a host name (IPv6 has colons, IPv4 only digits and dots)
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


_TRY_NEXT = ("connect", "greeting", "ehlo", "helo", "starttls", "auth")
_COMMANDS = {"mail": "MAIL FROM", "rcpt": "RCPT TO", "data": "DATA", "done": "end of DATA"}


def _answered(result: SessionResult) -> bool:
    """Did a server take responsibility for the recipients (any verdict past the greeting)?"""
    if result.outcome is Outcome.COMPLETED:
        return True
    return result.outcome is Outcome.REJECTED and result.stage not in _TRY_NEXT


def _failure_dsn(result: SessionResult) -> str:
    """Postfix's status for a server it could not use: 4.4.1 no connection, 4.4.2 lost or timed out, else the reply's."""
    if result.outcome is Outcome.REFUSED or result.outcome is Outcome.UNREACHABLE:
        return "4.4.1"
    if result.reply is None:
        return "4.4.2"
    return result.reply.status


def _connect_reason(target: Target, result: SessionResult) -> str:
    where = f"{target.name}[{target.address}]:{target.port}"
    if result.outcome is Outcome.REFUSED:
        return f"connect to {where}: Connection refused"
    if result.outcome is Outcome.UNREACHABLE:
        return f"connect to {where}: Connection timed out"
    if result.outcome is Outcome.TIMEOUT:
        return f"conversation with {target.name}[{target.address}] timed out while {result.stage}"
    if result.outcome is Outcome.LOST:
        return f"lost connection with {target.name}[{target.address}] while {result.stage}"
    reply = result.reply.oneline() if result.reply else result.detail
    return f"host {target.name}[{target.address}] refused to talk to me: {reply}"
