"""The wire's arithmetic for the fast fidelity: per-direction pipes and the byte counts of a TLS 1.3 handshake.

Why apart from :mod:`mailsim.engine.fast`: this is the part that must agree with :mod:`mailsim.net.network`
(``_transmit``/``_piece``: bottleneck ``tx_free``, FIFO ``last``, 64 KiB pieces, loss penalty) and with what
asyncio's SSL layer writes; the session logic does not care how a write is timed.

TLS byte counts come from one real in-memory handshake (``ssl.MemoryBIO``) of the very contexts the wire
run would use, cached on the client context per (server context, SNI name): no module state, exact sizes
(certificates differ per host), and a certificate that does not verify fails as it would on the wire.

Postfix parameters read: none.
"""

from __future__ import annotations

import ssl
from typing import Any

from mailsim.engine.hooks import TlsInfo

TLS_RECORD = 16384  # plaintext bytes per TLS record
TLS_OVERHEAD = 22  # 5 header + 1 content type + 16 AEAD tag (TLS 1.3)
TLS_CLOSE_NOTIFY = 24  # the alert each end sends when it closes a TLS connection


class Pipe:
    """One direction of the connection: the same arithmetic as ``Network._transmit``/``_piece``."""

    __slots__ = ("route", "tx_free", "last", "segment", "rng", "sent")

    def __init__(self, route: Any, now: float, segment: int, rng: Any = None) -> None:
        self.route, self.tx_free, self.last, self.segment, self.rng = route, now, now, segment, rng
        self.sent = 0

    def send(self, nbytes: int, now: float) -> float:
        """Arrival time of a write of ``nbytes`` made at ``now``."""
        route = self.route
        self.sent += nbytes
        start = self.tx_free if self.tx_free > now else now
        if nbytes <= self.segment:  # a command line or a reply: one piece
            sizes: tuple[int, ...] = (nbytes,)
        else:
            whole, rest = divmod(nbytes, self.segment)
            sizes = (self.segment,) * whole + ((rest,) if rest else ())
        for size in sizes:
            done = start + size / route.bandwidth
            arrival = done + route.latency
            if route.delivery < 1.0:
                arrival += route.penalty(size, self.rng)  # the network's loss stream, if random
            self.last = arrival = max(arrival, self.last)
            self.tx_free = start = done
        return self.last


def tls_flights(client: ssl.SSLContext, server: ssl.SSLContext, name: str | None) -> tuple[Any, ...]:
    """(hello, server flight, finished, tickets, TlsInfo) byte counts of one real in-memory TLS handshake."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(c_in, c_out, server_hostname=name)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    _step(c)
    hello = c_out.read()
    s_in.write(hello)
    _step(s)
    flight = s_out.read()
    c_in.write(flight)
    _step(c)  # raises ssl.SSLError when the certificate does not verify
    finished = c_out.read()
    s_in.write(finished)
    _step(s)
    s.write(b"x")
    tickets = len(s_out.read()) - (1 + TLS_OVERHEAD)
    cipher = c.cipher()
    info = TlsInfo(str(cipher[1]), str(cipher[0]), int(cipher[2])) if cipher else None
    return len(hello), len(flight), len(finished), max(0, tickets), info


def _step(end: ssl.SSLObject) -> None:
    try:
        end.do_handshake()
    except ssl.SSLWantReadError:
        pass


def cached_flights(client: ssl.SSLContext, server: ssl.SSLContext, name: str | None) -> tuple[Any, ...]:
    """:func:`tls_flights` once per context pair and name (kept on the client context: no module state)."""
    cache = getattr(client, "_mailsim_flights", None)
    if cache is None:
        cache = {}
        client._mailsim_flights = cache  # type: ignore[attr-defined]
    key = (id(server), name)
    if key not in cache:
        cache[key] = tls_flights(client, server, name)
    return cache[key]
