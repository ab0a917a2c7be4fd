"""Simulated TCP over a :class:`~mailsim.net.topology.Topology`, in the virtual time of a simulation.

Theory of operation (all times virtual seconds; ``d(n)`` is the route's one-way delay of ``n`` bytes,
``d(0)`` that of a control segment, see :mod:`mailsim.net.topology`)
-------------------------------------------------------------------------------------------------------------
Handshake, for ``connect()`` called at ``t0`` from ``src`` to ``dst:port``:

- The SYN leaves at ``t0`` when a route exists at ``t0`` and reaches ``dst`` at ``ts = t0 + d(0)``.
  Without a route (a link, router or either host down, or an address nobody owns) it is lost and
  retransmitted as Linux does (RFC 6298 §5.5 doubling from 1 s): at ``t0 + 1, 3, 7, 15, 31, 63`` s
  (``syn_retries = 6``); the attempt fails with ``TimeoutError`` at ``t0 + 127`` s, or at ``t0 + timeout``.
- Nothing listening on ``dst:port`` at ``ts``: a RST comes back; ``ConnectionRefusedError`` at ``ts + d(0)``
  (one round trip after the SYN).
- Listening: the SYN-ACK reaches the client at ``tc = ts + d(0)``; the client protocol is made, its
  ``connection_made`` runs and the connect future resolves at ``tc`` (one RTT after the SYN left).
  The final ACK reaches the server at ``tc + d(0)``: the listener's protocol factory runs and the server's
  ``connection_made`` is called then (``ts`` + one RTT). Client data can never arrive before that moment.
- A segment is delivered when its route existed when it was sent; a route that broke before the SYN-ACK or
  RST arrives loses that reply, and the SYN is retransmitted at the next retry time.

Data: a write of ``n`` bytes at ``t`` (split into pieces of at most ``segment`` bytes, 64 KiB by default,
each timed in turn) is transmitted from ``start = max(t, tx_free)``; the bottleneck is busy until
``tx_free = start + n / bandwidth``; the piece arrives at ``max(tx_free + latency + penalty(n), last)``, where
``last`` is the previous arrival in that direction (FIFO). With an idle pipe that is exactly
``t + d(n)``. A FIN follows the queued data: ``max(max(t, tx_free) + d(0), last)``; a RST (``abort()``) leaves
at once but still behind what was already written: ``max(t + d(0), last)``. Bandwidth is per connection:
connections sharing a link do not slow each other. Client ports are taken in turn per host from 32768-60999.

Outages: a connection keeps the route it was opened on. When any link or node of that route goes down
(``route.breaks_at``), both ends get ``connection_lost(ConnectionResetError)`` at that instant and segments
still in flight are dropped. A down host simply stops answering (SYNs time out).

Loss: ``loss_model="expected"`` (default) adds the deterministic expected retransmission penalty;
``loss_model="random"`` draws it from the simulation's ``"net.loss"`` stream (deterministic per seed).

Trace (service ``"net"``, fields ``conn``, ``local``, ``local_port``, ``peer``, ``peer_port``): ``connect``
on the client host (with ``handshake``, seconds since ``connect()``), ``accept`` on the server host,
``refused`` and ``timeout`` on the client host; per end ``close`` (orderly) or ``reset`` (with ``reason``:
``rst`` from the peer, ``link-down``, ``abort``, or an exception name), both with ``sent``/``received`` byte
counts; and ``segment`` per piece only when ``trace_chunks=True`` (off by default: it costs a record per write).

The handshake itself lives in :mod:`mailsim.net.handshake`.

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import math
from collections.abc import Callable
from typing import Any

from simpy.events import Timeout

from mailsim.core.simulation import Simulation
from mailsim.net.context import context_for
from mailsim.net.handshake import Handshake
from mailsim.net.topology import Route, Topology
from mailsim.net.transport import Pipe, SimTransport

ProtocolFactory = Callable[[], asyncio.BaseProtocol]
EPHEMERAL_PORTS = (32768, 60999)  # Linux ip_local_port_range


def _dispatch(event: Timeout) -> None:
    function, first, second = event._value  # simpy keeps a Timeout's value here; read on the hot path
    function(first, second)


def _sockaddr(ip: str, port: int) -> tuple[Any, ...]:
    return (ip, port, 0, 0) if ":" in ip else (ip, port)


class Listener:
    """A listening socket: ``(host, port)`` on some or all of the host's addresses."""

    __slots__ = ("network", "host", "port", "addresses", "factory", "ctx", "closed")

    def __init__(self, network: Network, host: str, port: int, addresses: tuple[str, ...], factory: ProtocolFactory):
        self.network = network
        self.host = host
        self.port = port
        self.addresses = addresses
        self.factory = factory
        self.ctx = context_for(host)
        self.closed = False

    def close(self) -> None:
        """Stop accepting; established connections are not affected (as with a real listening socket)."""
        if not self.closed:
            self.closed = True
            self.network._unlisten(self)

    def is_closing(self) -> bool:
        return self.closed


class Connection:
    """Bookkeeping shared by the two ends of one connection."""

    __slots__ = ("id", "route", "up", "down", "client", "server", "broken")

    def __init__(self, conn_id: int, route: Route, up: Pipe, down: Pipe) -> None:
        self.id = conn_id
        self.route = route
        self.up = up
        self.down = down
        self.client: SimTransport | None = None
        self.server: SimTransport | None = None
        self.broken = False


class Network:
    """Listening sockets and connections over a topology; see the module docstring for the model."""

    def __init__(
        self,
        sim: Simulation,
        topology: Topology,
        *,
        loss_model: str = "expected",
        segment: int = 65536,
        syn_retries: int = 6,
        trace_chunks: bool = False,
    ) -> None:
        if loss_model not in ("expected", "random"):
            raise ValueError(f"loss_model must be 'expected' or 'random', not {loss_model!r}")
        self.sim = sim
        self.env = sim.env
        self.topology = topology
        self.segment = int(segment)
        self.syn_retries = int(syn_retries)
        self.trace_chunks = trace_chunks
        self._rng = sim.rng("net.loss") if loss_model == "random" else None
        self._listeners: dict[tuple[str, int], Listener] = {}
        self._next_port: dict[str, int] = {}
        self._breaks: dict[float, dict[int, Connection]] = {}
        self._connections = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.sim.loop  # type: ignore[return-value]

    @property
    def syn_giveup(self) -> float:
        """Seconds until an unanswered connect fails: 1 + 2 + ... + 2**syn_retries (127 s on Linux)."""
        return 2.0 ** (self.syn_retries + 1) - 1.0

    def delay(self, route: Route, nbytes: int) -> float:
        """One-way delay of ``nbytes`` on an idle route (draws from the loss stream in random mode)."""
        return route.one_way_delay(nbytes, self._rng)

    # -- listening --------------------------------------------------------------------------------------------

    def listen(
        self, host: str, port: int, protocol_factory: ProtocolFactory, *, address: str | None = None
    ) -> Listener:
        """Accept connections to ``host:port`` (all its addresses, or ``address`` only); ``port=0`` picks one."""
        if not self.topology.has_host(host):
            raise OSError(errno.EADDRNOTAVAIL, f"no host {host!r} in the topology")
        if address is None:
            addresses = self.topology.addresses(host)
        else:
            if self.topology.host_of_address(address) != host:
                raise OSError(errno.EADDRNOTAVAIL, f"{address} is not an address of {host}")
            addresses = (str(ipaddress.ip_address(address)),)
        if not port:
            port = self._free_port(host, addresses)
        for ip in addresses:
            if (ip, port) in self._listeners:
                raise OSError(
                    errno.EADDRINUSE,
                    f"error while attempting to bind on address {(ip, port)!r}: address already in use",
                )
        listener = Listener(self, host, port, addresses, protocol_factory)
        for ip in addresses:
            self._listeners[(ip, port)] = listener
        return listener

    def _unlisten(self, listener: Listener) -> None:
        for ip in listener.addresses:
            if self._listeners.get((ip, listener.port)) is listener:
                del self._listeners[(ip, listener.port)]

    def _free_port(self, host: str, addresses: tuple[str, ...]) -> int:
        for _ in range(EPHEMERAL_PORTS[1] - EPHEMERAL_PORTS[0] + 1):
            port = self._ephemeral(host)
            if all((ip, port) not in self._listeners for ip in addresses):
                return port
        raise OSError(errno.EADDRINUSE, f"no free port on {host}")

    def _ephemeral(self, host: str) -> int:
        low, high = EPHEMERAL_PORTS
        port = self._next_port.get(host, low)
        self._next_port[host] = low if port >= high else port + 1
        return port

    # -- connecting -------------------------------------------------------------------------------------------

    def connect(
        self,
        src_host: str,
        dst_address: str,
        port: int,
        protocol_factory: ProtocolFactory,
        timeout: float | None = None,
        *,
        src_address: str | None = None,
    ) -> asyncio.Future:
        """Open a connection; the future gives ``(transport, protocol)`` or raises as a socket connect would."""
        future = self.loop.create_future()
        try:
            src_ip, dst_ip = self._endpoints(src_host, dst_address, src_address)
        except OSError as exc:
            future.set_exception(exc)
            return future
        Handshake(self, future, src_host, src_ip, dst_ip, int(port), protocol_factory).start(timeout)
        return future

    def listener_at(self, address: str, port: int) -> Listener | None:
        """What listens on ``address:port`` now (None: a SYN there is answered with a RST)."""
        return self._listeners.get((address, port))

    def _endpoints(self, src_host: str, dst_address: str, src_address: str | None) -> tuple[str, str]:
        try:
            dst = ipaddress.ip_address(dst_address)
        except ValueError:
            raise OSError(errno.EINVAL, f"not an IP address: {dst_address!r}") from None
        if not self.topology.has_host(src_host):
            raise OSError(errno.EADDRNOTAVAIL, f"no host {src_host!r} in the topology")
        if src_address is not None:
            if self.topology.host_of_address(src_address) != src_host:
                raise OSError(errno.EADDRNOTAVAIL, f"{src_address} is not an address of {src_host}")
            return str(ipaddress.ip_address(src_address)), str(dst)
        for ip in self.topology.addresses(src_host):
            if ipaddress.ip_address(ip).version == dst.version:
                return ip, str(dst)
        raise OSError(errno.ENETUNREACH, f"Network is unreachable: {src_host} has no IPv{dst.version} address")

    def _open(self, attempt: Handshake, route: Route, listener: Listener) -> None:
        """The SYN-ACK reached the client: make its end now; the final ACK reaches the server d(0) later."""
        now = self.env.now
        self._connections += 1
        conn = Connection(self._connections, route, Pipe(route, now, attempt.src_host), Pipe(route, now, listener.host))
        ack = now + self.delay(route, 0)
        conn.up.last = ack  # no client byte can arrive before the ACK that completes the handshake
        sport = self._ephemeral(attempt.src_host)
        client = SimTransport(
            self, conn, attempt.src_host, attempt.ctx, conn.up,
            _sockaddr(attempt.src_ip, sport), _sockaddr(attempt.dst_ip, attempt.port),
        )  # fmt: skip
        try:
            protocol = attempt.ctx.run(attempt.factory)
        except Exception as exc:
            attempt.future.set_exception(exc)
            return
        client.set_protocol(protocol)
        conn.client = conn.down.dst = client
        self._watch(conn)
        self.sim.emit(attempt.src_host, "net", "connect", **self._fields(client), handshake=now - attempt.started)
        self._call_at(ack, self._accept, conn, listener)
        self._made(client, protocol)
        attempt.future.set_result((client, protocol))

    def _accept(self, conn: Connection, listener: Listener) -> None:
        client = conn.client
        if conn.broken or client is None:
            return
        if listener.closed:
            self._send_rst(conn.down)
            return
        ctx = listener.ctx.copy()
        local, peer = client.get_extra_info("peername"), client.get_extra_info("sockname")
        server = SimTransport(self, conn, listener.host, ctx, conn.down, local, peer)
        try:
            protocol = ctx.run(listener.factory)
        except Exception as exc:
            self.loop.call_exception_handler(
                {"message": "protocol factory failed", "exception": exc, "transport": server}
            )
            self._send_rst(conn.down)
            return
        server.set_protocol(protocol)
        conn.server = conn.up.dst = server
        self.sim.emit(listener.host, "net", "accept", **self._fields(server))
        self._made(server, protocol)

    @staticmethod
    def _made(end: SimTransport, protocol: asyncio.BaseProtocol) -> None:
        try:
            end._ctx.run(protocol.connection_made, end)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            end._fatal(exc, "Fatal error: protocol.connection_made() call failed.")

    # -- segments ---------------------------------------------------------------------------------------------

    def _call_at(
        self, when: float, function: Callable[[Any, Any], None], first: Any = None, second: Any = None
    ) -> None:
        """Run ``function(first, second)`` at virtual time ``when`` (a bare simpy timeout; no asyncio handle)."""
        now = self.env.now
        event = Timeout(self.env, when - now if when > now else 0.0, (function, first, second))
        event.callbacks.append(_dispatch)

    def _transmit(self, pipe: Pipe, data: bytes) -> None:
        now = self.env.now
        start = pipe.tx_free if pipe.tx_free > now else now
        size = len(data)
        segment = self.segment
        if size <= segment:
            self._piece(pipe, data, start)
            return
        view = memoryview(data)
        for offset in range(0, size, segment):
            start = self._piece(pipe, bytes(view[offset : offset + segment]), start)

    def _piece(self, pipe: Pipe, piece: bytes, start: float) -> float:
        route = pipe.route
        done = start + len(piece) / route.bandwidth
        arrival = done + route.latency
        if route.delivery < 1.0:
            arrival += route.penalty(len(piece), self._rng)
        if arrival < pipe.last:
            arrival = pipe.last
        pipe.last = arrival
        pipe.tx_free = done
        self._call_at(arrival, self._on_data, pipe, piece)
        if self.trace_chunks:
            self.sim.emit(pipe.src_host, "net", "segment", size=len(piece), arrival=arrival)
        return done

    def _control(self, pipe: Pipe, function: Callable[[Any, Any], None], after_queue: bool) -> None:
        now = self.env.now
        start = pipe.tx_free if after_queue and pipe.tx_free > now else now
        arrival = max(start + self.delay(pipe.route, 0), pipe.last)
        pipe.last = arrival
        self._call_at(arrival, function, pipe)

    def _send_fin(self, pipe: Pipe) -> None:
        self._control(pipe, self._on_fin, True)

    def _send_rst(self, pipe: Pipe) -> None:
        self._control(pipe, self._on_rst, False)

    @staticmethod
    def _on_data(pipe: Pipe, data: bytes) -> None:
        if pipe.dst is not None:
            pipe.dst._receive(data)

    @staticmethod
    def _on_fin(pipe: Pipe, _unused: object) -> None:
        if pipe.dst is not None:
            pipe.dst._receive_eof()

    @staticmethod
    def _on_rst(pipe: Pipe, _unused: object) -> None:
        if pipe.dst is not None:
            pipe.dst._receive_rst()

    # -- outages and endings ----------------------------------------------------------------------------------

    def _watch(self, conn: Connection) -> None:
        """Register the connection to break when its route does (one simpy event per outage instant)."""
        at = conn.route.breaks_at
        if at == math.inf:
            return
        bucket = self._breaks.get(at)
        if bucket is None:
            bucket = self._breaks[at] = {}
            self._call_at(at, self._break, at)
        bucket[conn.id] = conn

    def _break(self, at: float, _unused: object = None) -> None:
        for conn in self._breaks.pop(at, {}).values():
            conn.broken = True
            for end in (conn.client, conn.server):
                if end is not None:
                    end._reset(
                        ConnectionResetError(errno.ECONNRESET, "Connection reset: network path went down"), "link-down"
                    )

    def _ended(self, end: SimTransport, exc: BaseException | None) -> None:
        """An end reported connection_lost: trace it and forget the connection once both ends are done."""
        fields = self._fields(end)
        if exc is None and end.reason is None:
            self.sim.emit(end.host, "net", "close", **fields, sent=end.sent, received=end.received)
        else:
            reason = end.reason or type(exc).__name__
            self.sim.emit(end.host, "net", "reset", **fields, sent=end.sent, received=end.received, reason=reason)
        conn = end.conn
        if (conn.server is not None or conn.broken) and all(e is None or e._lost for e in (conn.client, conn.server)):
            bucket = self._breaks.get(conn.route.breaks_at)
            if bucket is not None:
                bucket.pop(conn.id, None)
            conn.client = conn.server = conn.up.dst = conn.down.dst = None  # no cycles left for the collector

    @staticmethod
    def _fields(end: SimTransport) -> dict[str, Any]:
        local = end.get_extra_info("sockname")
        peer = end.get_extra_info("peername")
        return {"conn": end.conn.id, "local": local[0], "local_port": local[1], "peer": peer[0], "peer_port": peer[1]}
