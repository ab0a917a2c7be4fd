"""One end of a simulated TCP connection, behaving like asyncio's socket transport in virtual time.

Theory of operation
-------------------
A connection is two :class:`Pipe` objects, one per direction. A pipe remembers when its bottleneck is busy
until (``tx_free``) and when its last segment arrives (``last``); the :class:`~mailsim.net.network.Network`
times every chunk, FIN and RST through it, so arrivals in one direction are strictly FIFO: a chunk never
overtakes an earlier chunk and a FIN never overtakes data.

A :class:`SimTransport` is the asyncio face of one end. What it copies from asyncio's selector transport:

- ``close()`` sends a FIN after everything written and calls ``connection_lost(None)`` soon after (the kernel
  keeps sending; the application is done). Data arriving after ``close()`` is dropped.
- ``abort()`` / ``_force_close(exc)`` send a RST (after what was already written); ``connection_lost`` gets
  ``None`` / ``exc``. A RST received gives ``connection_lost(ConnectionResetError)``.
- On a FIN: ``protocol.eof_received()``; the transport closes itself only when that returns a falsy value.
- ``pause_reading()`` really stops delivery: chunks and the FIN wait in a pending queue, and
  ``resume_reading()`` drains it from a ``call_soon`` callback. No receive window is modelled: a paused
  reader never slows the sender.
- Write flow control: the write buffer is the unsent backlog at the bottleneck,
  ``(tx_free - now) * bandwidth``; above the high-water mark (64 KiB) the protocol gets ``pause_writing()``
  and it gets ``resume_writing()`` when the backlog drains to the low-water mark (16 KiB).
- ``BufferedProtocol`` (``get_buffer``/``buffer_updated``, as asyncio's ``SSLProtocol`` is) is fed without
  copying through Python loops; a pause in ``buffer_updated`` puts the rest of the chunk back in the queue.
- Protocol callbacks run in the end's own ``contextvars`` context, where ``current_host`` is the end's host.
  An exception from a protocol callback goes to ``loop.call_exception_handler`` and aborts the connection.

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
from collections import deque
from typing import TYPE_CHECKING, Any

from mailsim.net.topology import Route

if TYPE_CHECKING:
    from mailsim.net.network import Connection, Network

HIGH_WATER = 64 * 1024
_FIN = "fin"
_RST = "rst"


class Pipe:
    """One direction of a connection: bottleneck busy-until time, last arrival time, and the receiving end."""

    __slots__ = ("route", "tx_free", "last", "dst", "src_host")

    def __init__(self, route: Route, now: float, src_host: str) -> None:
        self.route = route
        self.tx_free = now
        self.last = now
        self.dst: SimTransport | None = None
        self.src_host = src_host


class SimTransport(asyncio.Transport):
    """A TCP endpoint over the simulated network; see the module docstring for the exact semantics."""

    __slots__ = (
        "_net",
        "_loop",
        "_env",
        "conn",
        "host",
        "_ctx",
        "_protocol",
        "_buffered",
        "_out",
        "_paused",
        "_pending",
        "_pending_eof",
        "_closing",
        "_eof_sent",
        "_lost",
        "_writing_paused",
        "_high",
        "_low",
        "sent",
        "received",
        "reason",
    )
    _start_tls_compatible = True

    def __init__(
        self,
        network: Network,
        conn: Connection,
        host: str,
        ctx: contextvars.Context,
        out: Pipe,
        sockname: tuple[Any, ...],
        peername: tuple[Any, ...],
    ) -> None:
        super().__init__({"peername": peername, "sockname": sockname, "socket": None})
        self._net = network
        self._loop = network.loop
        self._env = network.env
        self.conn = conn
        self.host = host
        self._ctx = ctx
        self._protocol: asyncio.BaseProtocol | None = None
        self._buffered = False
        self._out = out
        self._paused = False
        self._pending: deque[bytes] = deque()
        self._pending_eof = False
        self._closing = False
        self._eof_sent = False
        self._lost = False
        self._writing_paused = False
        self._high = HIGH_WATER
        self._low = HIGH_WATER // 4
        self.sent = 0
        self.received = 0
        self.reason: str | None = None

    def __repr__(self) -> str:
        state = "closing" if self._closing else "open"
        names = f"{self.get_extra_info('sockname')}->{self.get_extra_info('peername')}"
        return f"<SimTransport {self.host} {names} {state}>"

    # -- BaseTransport --------------------------------------------------------------------------------------

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._terminate(None, _FIN)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol
        self._buffered = isinstance(protocol, asyncio.BufferedProtocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol  # type: ignore[return-value]

    # -- ReadTransport --------------------------------------------------------------------------------------

    def is_reading(self) -> bool:
        return not self._paused and not self._closing

    def pause_reading(self) -> None:
        if not self._closing:
            self._paused = True

    def resume_reading(self) -> None:
        if self._closing or not self._paused:
            return
        self._paused = False
        if self._pending or self._pending_eof:
            self._loop.call_soon(self._drain_pending)

    # -- WriteTransport -------------------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        if self._eof_sent:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data:
            return
        if type(data) is not bytes:
            data = bytes(data)
        self.sent += len(data)
        self._net._transmit(self._out, data)
        if not self._writing_paused and self._out.tx_free > self._env.now:
            self._maybe_pause_writing()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        if self._closing or self._eof_sent:
            return
        self._eof_sent = True
        self._net._send_fin(self._out)

    def can_write_eof(self) -> bool:
        return True

    def abort(self) -> None:
        if not self._closing:
            self.reason = "abort"
        self._terminate(None, _RST)

    def get_write_buffer_size(self) -> int:
        """Unsent bytes at the bottleneck (the fluid backlog of this direction)."""
        backlog = self._out.tx_free - self._env.now
        return round(backlog * self._out.route.bandwidth) if backlog > 0 else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = HIGH_WATER if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        if not self._writing_paused:
            self._maybe_pause_writing()

    def _force_close(self, exc: BaseException | None) -> None:
        """What asyncio's SSLProtocol calls on fatal errors: reset the connection, report ``exc``."""
        if not self._closing:
            self.reason = "abort" if exc is None else type(exc).__name__
        self._terminate(exc, _RST)

    # -- ending -----------------------------------------------------------------------------------------------

    def _terminate(self, exc: BaseException | None, signal: str | None) -> None:
        if self._closing:
            return
        self._closing = True
        self._pending.clear()
        self._pending_eof = False
        if signal is _FIN:
            if not self._eof_sent:
                self._eof_sent = True
                self._net._send_fin(self._out)
        elif signal is _RST:
            self._net._send_rst(self._out)
        self._loop.call_soon(self._call_connection_lost, exc, context=self._ctx)

    def _reset(self, exc: BaseException, reason: str) -> None:
        """The peer or the path is gone: no signal to send, just report ``exc``."""
        if not self._closing:
            self.reason = reason
            self._terminate(exc, None)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        try:
            self._protocol.connection_lost(exc)  # type: ignore[union-attr,arg-type]
        finally:
            self._net._ended(self, exc)
            self._protocol = None  # as asyncio's transports do: break the protocol <-> transport cycle

    def _fatal(self, exc: BaseException, message: str) -> None:
        if not isinstance(exc, OSError):
            self._loop.call_exception_handler(
                {"message": message, "exception": exc, "transport": self, "protocol": self._protocol}
            )
        self._force_close(exc)

    # -- receiving (called by the network at arrival times) ---------------------------------------------------

    def _receive(self, data: bytes) -> None:
        if self._closing:
            return
        self.received += len(data)
        if self._paused or self._pending:
            self._pending.append(data)
        else:
            self._feed(data)

    def _receive_eof(self) -> None:
        if self._closing:
            return
        if self._paused or self._pending:
            self._pending_eof = True
        else:
            self._deliver_eof()

    def _receive_rst(self) -> None:
        self._reset(ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "rst")

    def _feed(self, data: bytes) -> None:
        try:
            if self._buffered:
                self._feed_buffered(data)
            else:
                self._ctx.run(self._protocol.data_received, data)  # type: ignore[union-attr]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal(exc, "Fatal error: protocol.data_received() call failed.")

    def _feed_buffered(self, data: bytes) -> None:
        protocol = self._protocol
        run = self._ctx.run
        view = memoryview(data)
        size = len(data)
        offset = 0
        while offset < size:
            buf = run(protocol.get_buffer, size - offset)  # type: ignore[union-attr]
            count = min(len(buf), size - offset)
            if not count:
                raise RuntimeError("get_buffer() returned an empty buffer")
            buf[:count] = view[offset : offset + count]
            offset += count
            run(protocol.buffer_updated, count)  # type: ignore[union-attr]
            if offset < size and (self._paused or self._closing or self._protocol is not protocol):
                if not self._closing:
                    self._pending.appendleft(bytes(view[offset:]))
                    if not self._paused:
                        self._loop.call_soon(self._drain_pending)
                return

    def _drain_pending(self) -> None:
        pending = self._pending
        while pending and not self._paused and not self._closing:
            self._feed(pending.popleft())
        if self._pending_eof and not pending and not self._paused and not self._closing:
            self._pending_eof = False
            self._deliver_eof()

    def _deliver_eof(self) -> None:
        try:
            keep_open = self._ctx.run(self._protocol.eof_received)  # type: ignore[union-attr]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if not keep_open:
            self.close()

    # -- write flow control -----------------------------------------------------------------------------------

    def _maybe_pause_writing(self) -> None:
        if self.get_write_buffer_size() <= self._high:
            return
        self._writing_paused = True
        self._protocol_call("pause_writing", in_ctx=False)  # called from write(): already in the caller's context
        self._net._call_at(self._resume_time(), self._maybe_resume_writing)

    def _resume_time(self) -> float:
        return self._out.tx_free - self._low / self._out.route.bandwidth

    def _maybe_resume_writing(self, _a: object = None, _b: object = None) -> None:
        if not self._writing_paused or self._closing:
            return
        at = self._resume_time()
        if at > self._env.now + 1e-9:
            self._net._call_at(at, self._maybe_resume_writing)
            return
        self._writing_paused = False
        self._protocol_call("resume_writing", in_ctx=True)

    def _protocol_call(self, name: str, *, in_ctx: bool) -> None:
        try:
            if in_ctx:
                self._ctx.run(getattr(self._protocol, name))
            else:
                getattr(self._protocol, name)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler(
                {
                    "message": f"protocol.{name}() failed",
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )
