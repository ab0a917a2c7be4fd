"""Shared pieces of the SMTP engine tests: a virtual world with a server, raw conversations, a live server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from mailsim.engine.client import SessionPlan, SessionResult, Transaction, deliver
from mailsim.engine.hooks import AcceptAll, SmtpSession
from mailsim.engine.server import ServerSettings, SmtpServerFactory
from mailsim.engine.simloop import spawn
from mailsim.mail import reply as R
from mailsim.mail.reply import Reply
from tests.net.worlds import SERVER_IP, World, two_link_world

T = TypeVar("T")
HOST = "mx.example"
EOF = "<EOF>"
MESSAGE = b"Subject: test\r\nFrom: alice@client.example\r\n\r\nHello.\r\n.leading dot\r\n"


class RelayControl(AcceptAll):
    """Hooks like Postfix's defaults: relay to foreign domains only for authenticated clients."""

    def __init__(self, users: dict[str, str] | None = None, local: str = HOST, **kwargs: Any) -> None:
        super().__init__(users, **kwargs)
        self.local = local
        self.seen: list[tuple[str, str, tuple[str, ...]]] = []

    async def mail(self, session: SmtpSession, address: str, options: tuple[str, ...]) -> Reply:
        self.seen.append(("MAIL", address, options))
        return await super().mail(session, address, options)

    async def rcpt(self, session: SmtpSession, address: str, options: tuple[str, ...]) -> Reply:
        self.seen.append(("RCPT", address, options))
        if address.endswith("@" + self.local) or session.authenticated:
            return R.RCPT_OK
        return R.relay_denied(address)


def world_with_server(
    settings: ServerSettings,
    hooks: Any,
    *,
    port: int = 25,
    service: str = "smtp",
    world: World | None = None,
    **factory: Any,
) -> tuple[World, SmtpServerFactory]:
    """A two-host world (tests.net.worlds) whose host "server" listens with our engine."""
    world = world or two_link_world()
    smtpd = SmtpServerFactory(settings, hooks, service=service, host="server", **factory)

    async def listen() -> None:
        await world.loop.create_server(smtpd, None, port)

    world.loop.run_until_complete(spawn(world.loop, "server", listen()))
    return world, smtpd


def run_client(world: World, coro: Awaitable[T], limit: float = 3600.0) -> T:
    """Run a coroutine as host "client" until it is done (virtual time)."""
    return world.loop.run_until_complete(spawn(world.loop, "client", coro), limit=limit)  # type: ignore[arg-type]


def plan(
    recipients: Sequence[str] = ("bob@" + HOST,), *, port: int = 25, host: str = SERVER_IP, **kwargs: Any
) -> SessionPlan:
    return SessionPlan(
        host, "client.example", Transaction("alice@client.example", tuple(recipients), MESSAGE), port=port, **kwargs
    )


def virtual_deliver(world: World, session: SessionPlan, **kwargs: Any) -> SessionResult:
    return run_client(world, deliver(session, **kwargs))


async def read_reply(reader: asyncio.StreamReader) -> str:
    """One (multi-line) reply, lines joined by newlines; ``<EOF>`` when the server hung up first."""
    lines: list[str] = []
    while True:
        raw = await reader.readline()
        if not raw:
            return "\n".join([*lines, EOF])
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(text)
        if len(text) < 4 or text[3] != "-":
            if text.startswith(("221", "421")) and not await reader.read():
                lines.append(EOF)  # the server hung up after it, as it must
            return "\n".join(lines)


Command = str | bytes | tuple[bytes, int]


async def converse(host: str, port: int, commands: Sequence[Command]) -> list[str]:
    """Greeting, then each command and its reply; bytes go raw, ``(bytes, n)`` when they earn ``n`` replies."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        answers = [await read_reply(reader)]
        for command in commands:
            if answers[-1].endswith(EOF):
                break
            data, count = command if isinstance(command, tuple) else (command, 1)
            writer.write(data if isinstance(data, bytes) else data.encode() + b"\r\n")
            for _ in range(count):
                answers.append(await read_reply(reader))
    finally:
        writer.close()
    return answers


def virtual_converse(world: World, commands: Sequence[Command]) -> list[str]:
    return run_client(world, converse(SERVER_IP, 25, commands))


def live_run(
    settings: ServerSettings, hooks: Any, body: Callable[[int], Awaitable[T]], *, service: str = "smtp", **factory: Any
) -> T:
    """Serve on 127.0.0.1 (ephemeral port) with a stock asyncio loop and run ``body(port)`` against it."""

    async def main() -> T:
        smtpd = SmtpServerFactory(settings, hooks, service=service, host="server", **factory)
        server = await asyncio.get_running_loop().create_server(smtpd, "127.0.0.1", 0)
        try:
            return await body(int(server.sockets[0].getsockname()[1]))
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


def settings(**overrides: Any) -> ServerSettings:
    return ServerSettings(HOST, **overrides)
