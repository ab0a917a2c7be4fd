"""One ``connect()`` in virtual time: the SYN, its retransmissions, and the reply that ends the attempt.

Timing (see :mod:`mailsim.net.network` for the whole model): the SYN leaves at ``t0`` when a route exists and
arrives ``d(0)`` later; the SYN-ACK or RST takes ``d(0)`` back. An unrouted SYN is lost and sent again at
``t0 + 2**k - 1`` for k = 1..syn_retries (RFC 6298 §5.5 doubling from the 1 s initial RTO of §2.1, Linux's
``tcp_syn_retries = 6``); the attempt gives up at ``t0 + 2**(syn_retries + 1) - 1`` (127 s) or at
``t0 + timeout``. A reply whose route broke while it travelled is lost too, and the next retransmission
tries again.

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
import errno
from typing import TYPE_CHECKING, Any

from mailsim.net.context import context_for
from mailsim.net.topology import Route

if TYPE_CHECKING:
    from mailsim.net.network import Listener, Network


class Handshake:
    """The state of one connection attempt; its steps are scheduled on the network's clock."""

    __slots__ = ("net", "future", "src_host", "src_ip", "dst_ip", "port", "factory", "ctx", "started", "tries", "done")

    def __init__(
        self, net: Network, future: asyncio.Future, src_host: str, src_ip: str, dst_ip: str, port: int, factory: Any
    ) -> None:
        self.net = net
        self.future = future
        self.src_host = src_host
        self.src_ip = src_ip
        self.dst_ip = dst_ip
        self.port = port
        self.factory = factory
        self.ctx = context_for(src_host)
        self.started = net.env.now
        self.tries = 1
        self.done = False

    def start(self, timeout: float | None) -> None:
        """Send the first SYN; with a ``timeout`` the attempt also ends then."""
        if timeout is not None:
            self.net._call_at(self.started + min(float(timeout), self.net.syn_giveup), self._give_up)
        self._send_syn()

    def _over(self) -> bool:
        return self.done or self.future.done()

    def _send_syn(self, _a: object = None, _b: object = None) -> None:
        if self._over():
            return
        net = self.net
        now = net.env.now
        dst_host = net.topology.host_of_address(self.dst_ip)
        route = None if dst_host is None else net.topology.route(self.src_host, dst_host, now)
        if route is None:
            self._retry()
        else:
            net._call_at(now + net.delay(route, 0), self._syn_arrived, route)

    def _retry(self) -> None:
        """Schedule the next SYN (at started + 2**k - 1), or the give-up when no retransmission is left."""
        net = self.net
        now = net.env.now
        while self.tries <= net.syn_retries:
            at = self.started + 2.0**self.tries - 1.0
            self.tries += 1
            if at > now:
                net._call_at(at, self._send_syn)
                return
        net._call_at(max(now, self.started + net.syn_giveup), self._give_up)

    def _give_up(self, _a: object = None, _b: object = None) -> None:
        if self._over():
            return
        self.done = True
        self.net.sim.emit(self.src_host, "net", "timeout", local=self.src_ip, peer=self.dst_ip, peer_port=self.port)
        where = (self.dst_ip, self.port)
        self.future.set_exception(TimeoutError(errno.ETIMEDOUT, f"Connect call failed {where!r}: timed out"))

    def _syn_arrived(self, route: Route, _b: object = None) -> None:
        if self._over():
            return
        net = self.net
        now = net.env.now
        if route.breaks_at <= now:
            self._retry()
            return
        listener = net.listener_at(self.dst_ip, self.port)
        reply = self._refused if listener is None else self._established
        net._call_at(now + net.delay(route, 0), reply, route, listener)

    def _refused(self, route: Route, _listener: object) -> None:
        if self._over():
            return
        if route.breaks_at <= self.net.env.now:
            self._retry()
            return
        self.done = True
        self.net.sim.emit(self.src_host, "net", "refused", local=self.src_ip, peer=self.dst_ip, peer_port=self.port)
        where = (self.dst_ip, self.port)
        self.future.set_exception(ConnectionRefusedError(errno.ECONNREFUSED, f"Connect call failed {where!r}"))

    def _established(self, route: Route, listener: Listener) -> None:
        if self._over():
            return
        if route.breaks_at <= self.net.env.now:
            self._retry()
            return
        self.done = True
        self.net._open(self, route, listener)
