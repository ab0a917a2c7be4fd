"""Bind simulated hosts' services to real loopback sockets, with the very factories the virtual run uses.

A service here is just a name and a protocol factory (an :class:`~mailsim.engine.server.SmtpServerFactory`, or
later an IMAP/POP3 one): :func:`serve` calls the stock loop's ``create_server`` with it on ``127.0.0.1`` (port 0
picks a free port) and reports what it bound, so ``mailsim serve`` can print ``HOST SERVICE 127.0.0.1:PORT``.
It prints nothing itself. Only loopback addresses are accepted: a live run is a teaching and testing aid, not
an Internet-facing server.

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

from mailsim.core.errors import ScenarioError

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


@dataclass(frozen=True, slots=True)
class LiveService:
    """One service of one host to expose: ``service`` named as in master.cf (smtp, submission, imap, pop3)."""

    host: str
    service: str
    factory: ProtocolFactory
    port: int = 0


class BoundService(NamedTuple):
    """Where a service listens: ``(host, service, address, port)``."""

    host: str
    service: str
    address: str
    port: int


class LiveServers(Sequence[BoundService]):
    """The bound services (a sequence of :class:`BoundService`) and the servers behind them."""

    def __init__(self, bound: list[BoundService], servers: list[asyncio.AbstractServer]) -> None:
        self._bound = bound
        self._servers = servers

    @overload
    def __getitem__(self, index: int) -> BoundService: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[BoundService]: ...

    def __getitem__(self, index: int | slice) -> BoundService | Sequence[BoundService]:
        return self._bound[index]

    def __len__(self) -> int:
        return len(self._bound)

    def __iter__(self) -> Iterator[BoundService]:
        return iter(self._bound)

    def port(self, host: str, service: str) -> int:
        """The port a host's service got (handy with port 0)."""
        for bound in self._bound:
            if (bound.host, bound.service) == (host, service):
                return bound.port
        raise KeyError(f"{host} {service} is not bound")

    def close(self) -> None:
        for server in self._servers:
            server.close()

    async def wait_closed(self) -> None:
        for server in self._servers:
            await server.wait_closed()

    async def __aenter__(self) -> LiveServers:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()


async def serve(services: Iterable[LiveService], *, address: str = "127.0.0.1") -> LiveServers:
    """Listen for every service on ``address`` (loopback only); the result lists ``(host, service, ip, port)``."""
    if not ipaddress.ip_address(address).is_loopback:
        raise ScenarioError(key="live.address", expected="a loopback address (127.0.0.1 or ::1)", found=address)
    loop = asyncio.get_running_loop()
    bound: list[BoundService] = []
    servers: list[asyncio.AbstractServer] = []
    try:
        for service in services:
            try:
                server: asyncio.AbstractServer = await loop.create_server(service.factory, address, service.port)
            except OSError as exc:
                raise ScenarioError(
                    str(exc.strerror or exc),
                    key=f"{service.host}.{service.service}",
                    expected=f"a free port on {address}",
                    found=service.port,
                ) from None
            servers.append(server)
            port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
            bound.append(BoundService(service.host, service.service, address, port))
    except BaseException:
        for server in servers:
            server.close()
        raise
    return LiveServers(bound, servers)
