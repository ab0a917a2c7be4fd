"""Echo server and client written once, as plain asyncio code: the tests run them on SimLoop and on a stock loop."""

from __future__ import annotations

import asyncio
from typing import Any


class EchoServer(asyncio.Protocol):
    """Writes back whatever arrives; closes when the client has finished sending."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool:
        return False


class EchoClient(asyncio.Protocol):
    """Sends a payload, half-closes, and collects the echo with the loop times of each step."""

    def __init__(self, payload: bytes, done: asyncio.Future) -> None:
        self.payload = payload
        self.done = done
        self.received = bytearray()
        self.times: dict[str, float] = {}

    def connection_made(self, transport: Any) -> None:
        self.loop = asyncio.get_running_loop()
        self.times["made"] = self.loop.time()
        transport.write(self.payload)
        transport.write_eof()

    def data_received(self, data: bytes) -> None:
        self.received += data
        if len(self.received) == len(self.payload):
            self.times["echoed"] = self.loop.time()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.done.done():
            self.done.set_result(bytes(self.received))


async def start_protocol_server(host: str | None, port: int) -> asyncio.AbstractServer:
    return await asyncio.get_running_loop().create_server(EchoServer, host, port)


async def protocol_echo(host: str, port: int, payload: bytes) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    done = loop.create_future()
    _, client = await loop.create_connection(lambda: EchoClient(payload, done), host, port)
    data = await done
    return {"data": data, "start": start, **client.times}


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def start_stream_server(host: str | None, port: int) -> asyncio.AbstractServer:
    return await asyncio.start_server(handle_echo, host, port)


async def stream_echo(host: str, port: int, payload: bytes) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    reader, writer = await asyncio.open_connection(host, port)
    made = loop.time()
    writer.write(payload)
    await writer.drain()
    data = await reader.readexactly(len(payload))
    echoed = loop.time()
    writer.close()
    await writer.wait_closed()
    return {"data": data, "start": start, "made": made, "echoed": echoed}


def port_of(server: Any, requested: int) -> int:
    """The bound port: a real server reports it through its sockets, a simulated one as ``port``."""
    if requested:
        return requested
    return server.sockets[0].getsockname()[1] if server.sockets else server.port
