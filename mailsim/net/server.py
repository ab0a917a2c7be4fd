"""What ``loop.create_server`` returns on the simulated network: an ``asyncio.AbstractServer`` over listeners.

It behaves like ``asyncio.Server`` except that ``sockets`` is empty (there are no OS sockets; the bound port is
``server.port``) and ``wait_closed()`` returns once ``close()`` was called, without waiting for the connections
it accepted (as ``asyncio.Server.wait_closed`` does in Python 3.11 once closed).

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mailsim.net.network import Listener, Network, ProtocolFactory


class SimServer(asyncio.AbstractServer):
    """Listening sockets of one ``create_server`` call: ``(host, address or None)`` pairs on one port."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        network: Network,
        binds: list[tuple[str, str | None]],
        port: int,
        factory: ProtocolFactory,
    ) -> None:
        self._loop = loop
        self._network = network
        self._binds = binds
        self.port = port
        self._factory = factory
        self._listeners: list[Listener] = []
        self._closed = False
        self._closed_waiters: list[asyncio.Future[Any]] = []
        self._serving_forever: asyncio.Future[Any] | None = None

    def __repr__(self) -> str:
        return f"<SimServer {self._binds} port={self.port} serving={self.is_serving()}>"

    @property
    def sockets(self) -> tuple[()]:
        return ()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return bool(self._listeners)

    def listen(self) -> None:
        """Bind every address now (synchronously); port 0 is resolved by the first bind."""
        if self._listeners or self._closed:
            return
        try:
            for host, address in self._binds:
                listener = self._network.listen(host, self.port, self._factory, address=address)
                self.port = listener.port
                self._listeners.append(listener)
        except OSError:
            self._close_listeners()
            raise

    async def start_serving(self) -> None:
        self.listen()

    async def serve_forever(self) -> None:
        if self._serving_forever is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._closed:
            raise RuntimeError(f"server {self!r} is closed")
        self.listen()
        self._serving_forever = self._loop.create_future()
        try:
            await self._serving_forever
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_listeners()
        if self._serving_forever is not None and not self._serving_forever.done():
            self._serving_forever.cancel()
        for waiter in self._closed_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._closed_waiters.clear()

    def _close_listeners(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners = []

    async def wait_closed(self) -> None:
        if self._closed:
            return
        waiter = self._loop.create_future()
        self._closed_waiters.append(waiter)
        await waiter
