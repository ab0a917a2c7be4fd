"""SimLoop: asyncio scheduling on simpy's clock, errors that surface, and asyncio networking over the model."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import pytest

from mailsim.core import Simulation
from mailsim.core.errors import SimulationError
from mailsim.engine.simloop import SimLoop, current_host, host_context, spawn
from tests.engine.conftest import TLS_NAME
from tests.engine.echo import (
    EchoServer,
    port_of,
    protocol_echo,
    start_protocol_server,
    start_stream_server,
    stream_echo,
)
from tests.net.worlds import CLIENT_IP, LATENCY, RTT, SERVER_IP, World, two_link_world

PAYLOAD = b"m" * 1000
VARIANTS = [(start_protocol_server, protocol_echo), (start_stream_server, stream_echo)]


def at(t: float) -> Any:
    return pytest.approx(t, abs=1e-9)


def bare_loop() -> SimLoop:
    sim = Simulation(1, loop_factory=lambda s: SimLoop(s))
    assert isinstance(sim.loop, SimLoop)
    return sim.loop


def run_as(world: World, host: str, coro: Any, limit: float = 100.0) -> Any:
    return world.loop.run_until_complete(spawn(world.loop, host, coro), limit=limit)


# -- scheduling ----------------------------------------------------------------------------------------------


def test_call_soon_is_fifo_and_call_later_fires_at_its_virtual_time() -> None:
    loop = bare_loop()
    seen: list[tuple[str, float]] = []
    loop.call_later(2.5, lambda: seen.append(("later", loop.time())))
    for name in "abc":
        loop.call_soon(lambda n=name: seen.append((n, loop.time())))
    loop.call_at(-1.0, lambda: seen.append(("past", loop.time())))
    loop.sim.run(until=10)
    assert seen == [("a", 0), ("b", 0), ("c", 0), ("past", 0), ("later", 2.5)]


def test_a_cancelled_timer_never_runs() -> None:
    loop = bare_loop()
    seen: list[float] = []
    handle = loop.call_later(1.0, seen.append, "cancelled")
    loop.call_later(2.0, seen.append, "kept")
    handle.cancel()
    loop.sim.run(until=5)
    assert seen == ["kept"] and handle.cancelled() and loop.cancelled_timers == 1


def test_sleep_wait_for_and_timeout_use_virtual_time() -> None:
    loop = bare_loop()

    async def main() -> list[float]:
        marks = [loop.time()]
        await asyncio.sleep(3600)
        marks.append(loop.time())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(10), timeout=1.5)
        marks.append(loop.time())
        async with asyncio.timeout(0.25):
            await asyncio.sleep(0.1)
        marks.append(loop.time())
        return marks

    assert loop.run_until_complete(main(), limit=10_000) == [0, 3600, at(3601.5), at(3601.6)]


def test_the_loop_is_the_running_loop_only_while_the_simulation_runs() -> None:
    loop = bare_loop()
    seen: list[Any] = []
    loop.call_soon(lambda: seen.append((asyncio.get_running_loop(), loop.is_running())))
    loop.sim.run(until=1)
    assert seen == [(loop, True)] and not loop.is_running()
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_run_in_executor_runs_inline_and_to_thread_works() -> None:
    loop = bare_loop()

    async def main() -> tuple[int, float]:
        value = await loop.run_in_executor(None, pow, 2, 10)
        other = await asyncio.to_thread(sum, [1, 2, 3])
        return value + other, loop.time()

    assert loop.run_until_complete(main()) == (1030, 0)
    failed = loop.run_in_executor(None, int, "x")
    assert isinstance(failed.exception(), ValueError)


def test_run_until_complete_has_a_virtual_time_bound() -> None:
    loop = bare_loop()
    with pytest.raises(SimulationError, match="not done after 5"):
        loop.run_until_complete(asyncio.sleep(60), limit=5)
    with pytest.raises(SimulationError, match="nothing left to happen"):
        loop.run_until_complete(loop.create_future())
    assert loop.run_until_complete(asyncio.sleep(1, "slept"), limit=100) == "slept"
    assert loop.time() == 61 and loop.env.peek() == float("inf")  # the clock stops at completion


def test_a_closed_loop_refuses_work() -> None:
    loop = bare_loop()
    loop.close()
    assert loop.is_closed()
    with pytest.raises(RuntimeError):
        loop.call_soon(print)


# -- errors --------------------------------------------------------------------------------------------------


def test_an_exception_in_a_callback_stops_the_run_and_is_traced() -> None:
    loop = bare_loop()

    def broken() -> None:
        raise KeyError("boom")

    loop.call_later(3.0, broken)
    with pytest.raises(SimulationError, match="t=3.0") as caught:
        loop.sim.run(until=10)
    assert isinstance(caught.value.__cause__, KeyError)
    assert loop.sim.now == 3.0
    (record,) = loop.sim.trace.select("error", service="loop")
    assert "KeyError" in record.get("exception") and len(loop.errors) == 1


def test_a_task_failure_nobody_awaits_is_surfaced() -> None:
    loop = bare_loop()

    async def fails() -> None:
        await asyncio.sleep(1)
        raise ValueError("lost in a task")

    task = loop.create_task(fails())
    loop.sim.run(until=2)
    del task  # the "exception was never retrieved" report comes when the task is collected
    import gc

    gc.collect()
    with pytest.raises(SimulationError, match="never retrieved"):
        loop.sim.run(until=3)


def test_an_installed_handler_takes_over_and_nothing_is_raised() -> None:
    loop = bare_loop()
    seen: list[str] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context["message"]))
    loop.call_soon(lambda: 1 / 0)
    loop.sim.run(until=1)
    assert len(seen) == 1 and "Exception in callback" in seen[0]
    assert loop.get_exception_handler() is not None and loop.errors


# -- networking ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "echo"), VARIANTS, ids=["protocol", "streams"])
def test_echo_over_two_links_matches_the_model_to_the_microsecond(start: Any, echo: Any) -> None:
    world = two_link_world()
    spawn(world.loop, "server", start(None, 7))
    result = run_as(world, "client", echo(SERVER_IP, 7, PAYLOAD))
    one_way = world.topology.one_way_delay("client", "server", len(PAYLOAD), 0.0)
    assert one_way == at(LATENCY + len(PAYLOAD) / 1e6)
    assert result["data"] == PAYLOAD
    assert (result["start"], result["made"], result["echoed"]) == (0, at(RTT), at(RTT + 2 * one_way))
    assert result["echoed"] == at(0.062)  # 30 ms handshake + 2 x (15 ms + 1000 B / 1 MB/s)


@pytest.mark.live
@pytest.mark.parametrize(("start", "echo"), VARIANTS, ids=["protocol", "streams"])
def test_the_same_coroutines_echo_over_real_loopback(start: Any, echo: Any) -> None:
    async def main() -> dict[str, Any]:
        server = await start("127.0.0.1", 0)
        try:
            return await echo("127.0.0.1", port_of(server, 0), PAYLOAD)
        finally:
            server.close()
            await server.wait_closed()

    result = asyncio.run(main())
    assert result["data"] == PAYLOAD and result["echoed"] >= result["made"] >= result["start"]


def test_connections_need_a_host_and_known_names() -> None:
    world = two_link_world()

    async def connect(host: str, **kwargs: Any) -> Any:
        return await world.loop.create_connection(asyncio.Protocol, host, 25, **kwargs)

    with pytest.raises(RuntimeError, match="no current host"):
        world.loop.run_until_complete(connect(SERVER_IP))
    with pytest.raises(socket.gaierror):
        run_as(world, "client", connect("nowhere.example"))
    with pytest.raises(ConnectionRefusedError):  # by topology name, source from local_addr
        world.loop.run_until_complete(connect("server", local_addr=(CLIENT_IP, 0), family=socket.AF_INET))
    with pytest.raises(OSError, match="Multiple exceptions"):  # each of the host's addresses was tried
        run_as(world, "client", connect("server"))


def test_getaddrinfo_answers_from_the_topology() -> None:
    world = two_link_world()
    infos = world.loop.run_until_complete(world.loop.getaddrinfo("server", 25, family=socket.AF_INET6))
    assert infos == [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("2001:db8::2", 25, 0, 0))]
    assert world.loop.run_until_complete(world.loop.getnameinfo((SERVER_IP, 25))) == ("server", "25")


def test_callbacks_and_tasks_of_a_connection_run_as_its_host() -> None:
    world = two_link_world()
    hosts: list[str | None] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hosts.append(current_host.get())
        writer.close()

    async def client() -> None:
        _, writer = await asyncio.open_connection(SERVER_IP, 25)
        hosts.append(current_host.get())
        writer.close()

    spawn(world.loop, "server", asyncio.start_server(handle, None, 25))
    run_as(world, "client", client())
    world.sim.run(until=world.sim.now + 1)
    assert hosts == ["client", "server"]
    with host_context("server"):
        assert current_host.get() == "server"
    assert current_host.get() is None


def test_server_object_lifecycle() -> None:
    world = two_link_world()

    async def main() -> tuple[Any, ...]:
        server = await world.loop.create_server(asyncio.Protocol, SERVER_IP, 0)
        state = (server.sockets, server.is_serving(), server.port, server.get_loop() is world.loop)
        forever = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(1)
        forever.cancel()
        with pytest.raises(asyncio.CancelledError):
            await forever
        await server.wait_closed()
        return (*state, server.is_serving())

    assert run_as(world, "server", main()) == ((), True, 32768, True, False)


def test_create_server_and_connection_with_implicit_tls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    world = two_link_world()
    spawn(world.loop, "server", world.loop.create_server(EchoServer, None, 465, ssl=server_tls))

    async def client() -> tuple[bytes, str]:
        reader, writer = await asyncio.open_connection("server", 465, ssl=client_tls, server_hostname=TLS_NAME)
        writer.write(b"over tls")
        data = await reader.read(100)
        version = writer.get_extra_info("ssl_object").version()
        writer.close()
        return data, version

    assert run_as(world, "client", client()) == (b"over tls", "TLSv1.3")


async def starttls_server(server_tls: ssl.SSLContext, host: str | None, port: int) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.readline() == b"STARTTLS\r\n"
        writer.write(b"220 ready\r\n")
        await writer.drain()
        await writer.start_tls(server_tls)
        line = await reader.readline()
        writer.write(b"secure " + line)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, port)


async def starttls_client(client_tls: ssl.SSLContext, host: str, port: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"STARTTLS\r\n")
    assert await reader.readline() == b"220 ready\r\n"
    asked = loop.time()
    await writer.start_tls(client_tls, server_hostname=TLS_NAME)
    secured = loop.time()
    writer.write(b"hello\r\n")
    reply = await reader.readline()
    ssl_object = writer.get_extra_info("ssl_object")
    writer.close()
    return {"reply": reply, "version": ssl_object.version(), "asked": asked, "secured": secured}


def test_starttls_over_the_simulated_transport(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    world = two_link_world()
    spawn(world.loop, "server", starttls_server(server_tls, None, 25))
    result = run_as(world, "client", starttls_client(client_tls, SERVER_IP, 25))
    assert result["reply"] == b"secure hello\r\n" and result["version"] == "TLSv1.3"
    assert result["secured"] - result["asked"] >= RTT  # the TLS 1.3 handshake costs a round trip
    assert world.loop.errors == []


@pytest.mark.live
def test_the_same_starttls_coroutines_over_real_loopback(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    async def main() -> dict[str, Any]:
        server = await starttls_server(server_tls, "127.0.0.1", 0)
        try:
            return await starttls_client(client_tls, "127.0.0.1", port_of(server, 0))
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(main())["reply"] == b"secure hello\r\n"


def test_a_megabyte_through_streams_pauses_the_reader_and_arrives_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailsim.net.transport import SimTransport

    pauses: list[float] = []
    original = SimTransport.pause_reading
    monkeypatch.setattr(SimTransport, "pause_reading", lambda self: (pauses.append(self._env.now), original(self)))
    world = two_link_world()
    payload = bytes(range(256)) * 4096
    received = bytearray()

    async def slow_sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(2048):  # a small reader falls behind the 64 KiB segments
            received.extend(chunk)
            await asyncio.sleep(0.001)
        writer.close()

    async def sender() -> float:
        _, writer = await asyncio.open_connection(SERVER_IP, 25)
        writer.write(payload)
        await writer.drain()  # the write buffer is the bottleneck backlog: this waits ~1 s
        drained = asyncio.get_running_loop().time()
        writer.close()
        return drained

    spawn(world.loop, "server", asyncio.start_server(slow_sink, None, 25, limit=4096))
    drained = run_as(world, "client", sender())
    world.sim.run(until=world.sim.now + 1000)
    assert bytes(received) == payload
    assert len(pauses) > 10
    assert drained == at(RTT + (len(payload) - 16384) / 1e6)


def test_sleep_future_wakes_when_and_in_the_order_asyncio_sleep_would() -> None:
    loop = bare_loop()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, wait: Any) -> None:
        await wait(0.3)
        woke.append((name, loop.time()))

    async def main() -> None:
        first = loop.create_task(sleeper("asyncio", asyncio.sleep))
        second = loop.create_task(sleeper("sleep_future", loop.sleep_future))
        third = loop.create_task(sleeper("asyncio again", asyncio.sleep))
        await asyncio.gather(first, second, third)

    loop.run_until_complete(main())
    assert woke == [("asyncio", 0.3), ("sleep_future", 0.3), ("asyncio again", 0.3)]


def test_idle_now_only_when_nothing_else_is_ready_or_due_at_this_instant() -> None:
    loop = bare_loop()
    assert loop.idle_now()
    handle = loop.call_soon(lambda: None)
    assert not loop.idle_now()
    handle.cancel()
    loop.run_simulation(until=1.0)
    loop.call_later(0.0, lambda: None)
    assert not loop.idle_now()
