"""The connection under a ``fast`` session: TCP handshake, the two pipes, and the ``net`` records of the wire run.

Why apart from :mod:`mailsim.engine.fast`: this is the transport (when the SYNs go, when each write arrives,
when each end learns the other is gone); the SMTP dialogue on top of it does not care how a write is timed.
The timing model is described in :mod:`mailsim.engine.fast`'s docstring.

Postfix parameters read: none (the client's timeouts come in the plan).
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
from collections.abc import Callable
from typing import Any

from mailsim.engine.fast_net import TLS_CLOSE_NOTIFY, TLS_OVERHEAD, TLS_RECORD, Pipe
from mailsim.engine.fast_server import FastServer as _Server
from mailsim.engine.hooks import SmtpSession
from mailsim.engine.plan import Outcome, SessionFailure, SessionPlan, StartTls

HooksAt = Callable[[str, int], "tuple[Any, ...] | None"]
"""``(hooks, settings)`` or ``(hooks, settings, factory)`` of what listens on ``(ip, port)``; None: nothing SMTP."""


class FastConnection:
    """One client-server connection in virtual time; :class:`~mailsim.engine.fast.FastSession` speaks SMTP on it."""

    def __init__(self, plan: SessionPlan, network: Any, hooks_at: HooksAt, host: str, service: str) -> None:
        if plan.starttls is not StartTls.NONE and plan.tls_context is None:
            raise ValueError("SessionPlan.starttls needs a prebuilt tls_context (see mailsim.engine.tls)")
        self.plan, self.net, self.hooks_at, self.service = plan, network, hooks_at, service
        self.loop = asyncio.get_running_loop()
        topo = network.topology
        self.src_host = topo.host_of_address(plan.source_address) if plan.source_address else host
        self.server: _Server | None = None
        self.up: Pipe | None = None
        self.down: Pipe | None = None
        self.route: Any = None
        self.overhead = False
        self.t0 = 0.0
        self.ends: dict[str, Any] = {}
        self.client_closed = False
        self._sleep = getattr(self.loop, "sleep_future", None)  # SimLoop's: asyncio.sleep without a TimerHandle
        self._idle: Callable[[], bool] | None = getattr(self.loop, "idle_now", None)

    def now(self) -> float:
        return self.loop.time()

    async def until(self, when: float) -> None:
        delay = when - self.loop.time()
        if delay > 0:
            await (self._sleep(delay) if self._sleep is not None else asyncio.sleep(delay))

    def _fin_arrival(self) -> float:
        """When the server learns the client is gone: the FIN (or close_notify under TLS) behind the data."""
        assert self.up is not None
        return self.up.send(TLS_CLOSE_NOTIFY if self.overhead else 0, self.now())

    # -- connecting ------------------------------------------------------------------------------------------

    async def _open(self) -> float:
        """The handshake of :mod:`mailsim.net.handshake`; returns when the client's end was established."""
        net, plan = self.net, self.plan
        t0 = self.t0 = self.now()
        giveup = t0 + min(plan.timeouts.connect, net.syn_giveup)
        dst_host = net.topology.host_of_address(plan.host)
        for k in range(net.syn_retries + 1):
            at = t0 + 2.0**k - 1.0
            if at >= giveup:
                break
            await self.until(at)
            route = None if dst_host is None else net.topology.route(self.src_host, dst_host, at)
            if route is None:
                continue
            arrived = at + net.delay(route, 0)
            back = arrived + net.delay(route, 0)
            if route.breaks_at <= arrived or route.breaks_at <= back or back > giveup:
                continue
            await self.until(arrived)
            listener = net.listener_at(plan.host, plan.port)
            found = None if listener is None else self.hooks_at(plan.host, plan.port)
            await self.until(back)
            if listener is None or found is None:
                self.net.sim.emit(self.src_host, "net", "refused", local=self._source_ip(), peer=plan.host,
                                  peer_port=plan.port)  # fmt: skip
                raise SessionFailure(
                    Outcome.REFUSED, "connect", detail=f"Connect call failed {(plan.host, plan.port)!r}"
                )
            return await self._established(route, found)
        await self.until(giveup)
        if plan.timeouts.connect >= net.syn_giveup:  # else the client gave up first and the SYNs just stop
            net.sim.emit(self.src_host, "net", "timeout", local=self._source_ip(), peer=plan.host, peer_port=plan.port)
        raise SessionFailure(Outcome.UNREACHABLE, "connect", detail="connection timed out")

    async def _established(self, route: Any, found: tuple[Any, ...]) -> float:
        net, plan = self.net, self.plan
        now = self.now()
        self.route = route
        rng = getattr(net, "_rng", None)  # noqa: SLF001 - loss_model="random": the same stream as the wire
        self.up, self.down = Pipe(route, now, net.segment, rng), Pipe(route, now, net.segment, rng)
        accept = now + net.delay(route, 0)
        self.up.last = accept
        sport = net._ephemeral(self.src_host)  # noqa: SLF001 - the same client port the wire run takes
        local_ip = plan.source_address or self._source_ip()
        net._connections += 1  # noqa: SLF001 - one connection numbering for both fidelities
        self.ends = {"conn": net._connections, "local": local_ip, "local_port": sport, "peer": plan.host,
                     "peer_port": plan.port}  # fmt: skip
        net.sim.emit(self.src_host, "net", "connect", **self.ends, handshake=now - self.t0)
        hooks, settings = found[0], found[1]
        factory = found[2] if len(found) > 2 else None
        await self.until(accept)  # the server's end exists from the final ACK on (its session id is taken then)
        session_id = factory.new_session_id() if factory is not None else ""
        view = SmtpSession(session_id, getattr(factory, "service", self.service), settings.hostname,
                           local_ip, sport, plan.host, plan.port)  # fmt: skip
        self.server = _Server(hooks, settings, view, factory)
        net.sim.emit(self.server_host, "net", "accept", **self._server_ends())
        return now

    # -- the net records of the wire run (connect, accept, close), for the views built on them ----------------

    @property
    def server_host(self) -> str:
        return str(self.net.topology.host_of_address(self.plan.host))

    def _server_ends(self) -> dict[str, Any]:
        ends = self.ends
        return {"conn": ends["conn"], "local": ends["peer"], "local_port": ends["peer_port"], "peer": ends["local"],
                "peer_port": ends["local_port"]}  # fmt: skip

    def _client_gone(self, at: float) -> None:
        if not self.client_closed:
            self.client_closed = True
            self._at(at, lambda: self._closed(self.src_host, self.ends, self.up, self.down))

    def _server_gone(self, at: float) -> None:
        assert self.server is not None
        if not self.server.closed:
            self.server.close(at)
            self._at(at, lambda: self._closed(self.server_host, self._server_ends(), self.down, self.up))

    def _closed(self, host: str, ends: dict[str, Any], out: Pipe | None, into: Pipe | None) -> None:
        sent, received = (out.sent if out else 0), (into.sent if into else 0)
        self.net.sim.emit(host, "net", "close", **ends, sent=sent, received=received)

    def _at(self, when: float, function: Callable[[], None]) -> None:
        delay = when - self.now()
        if delay > 0:
            self.loop.call_later(delay, function)
        else:
            function()

    def _source_ip(self) -> str:
        version = ipaddress.ip_address(self.plan.host).version
        for ip in self.net.topology.addresses(self.src_host):
            if ipaddress.ip_address(ip).version == version:
                return str(ip)
        return ""

    def wire_size(self, nbytes: int) -> int:
        """Bytes on the wire for a write of ``nbytes`` (TLS records after STARTTLS)."""
        if not self.overhead:
            return nbytes
        return nbytes + TLS_OVERHEAD * max(1, math.ceil(nbytes / TLS_RECORD))

    def _check_route(self, when: float, stage: str) -> None:
        if self.route is not None and self.route.breaks_at <= when:
            raise SessionFailure(Outcome.LOST, stage, detail="Connection reset: network path went down")
