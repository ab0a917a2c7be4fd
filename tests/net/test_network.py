"""Simulated TCP: handshake costs, byte timing and FIFO, refusals, timeouts, outages, flow control, ends."""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import pytest

from mailsim.core.errors import SimulationError
from tests.net.worlds import BANDWIDTH, CLIENT_IP, LATENCY, RTT, SERVER_IP, World, two_link_world


def at(t: float) -> Any:
    """Virtual times must equal the model's formula (well below a microsecond)."""
    return pytest.approx(t, abs=1e-9)


class Recorder(asyncio.Protocol):
    """Remembers every callback with its virtual time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, keep_open: bool = False) -> None:
        self.loop = loop
        self.keep_open = keep_open
        self.events: list[tuple[Any, ...]] = []
        self.data = bytearray()
        self.transport: Any = None
        self.lost_exc: BaseException | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.events.append(("made", self.loop.time()))

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.events.append(("data", self.loop.time(), len(data)))

    def eof_received(self) -> bool:
        self.events.append(("eof", self.loop.time()))
        return self.keep_open

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost_exc = exc
        self.events.append(("lost", self.loop.time(), type(exc).__name__ if exc else None))

    def times(self, kind: str) -> list[float]:
        return [e[1] for e in self.events if e[0] == kind]


def serve(world: World, port: int = 25, **kwargs: Any) -> list[Recorder]:
    made: list[Recorder] = []

    def factory() -> Recorder:
        made.append(Recorder(world.loop, **kwargs))
        return made[-1]

    world.network.listen("server", port, factory)
    return made


def dial(
    world: World, address: str = SERVER_IP, port: int = 25, timeout: float | None = None
) -> tuple[Recorder, asyncio.Future]:
    client = Recorder(world.loop)
    return client, world.network.connect("client", address, port, lambda: client, timeout)


def outcome_time(world: World, future: asyncio.Future) -> list[float]:
    when: list[float] = []
    future.add_done_callback(lambda _f: when.append(world.loop.time()))
    return when


def test_connect_costs_one_rtt_and_the_server_accepts_one_rtt_after_the_syn() -> None:
    world = two_link_world()
    servers = serve(world)
    client, future = dial(world)
    world.sim.run(until=1)
    transport, protocol = future.result()
    assert protocol is client and client.events == [("made", at(RTT))]
    assert servers[0].events == [("made", at(RTT + LATENCY))]
    assert transport.get_extra_info("sockname") == (CLIENT_IP, 32768)
    assert transport.get_extra_info("peername") == (SERVER_IP, 25)
    assert servers[0].transport.get_extra_info("peername") == (CLIENT_IP, 32768)
    assert transport.get_extra_info("socket") is None and transport.get_extra_info("sslcontext") is None
    (connect,) = world.sim.trace.select("connect", host="client")
    (accept,) = world.sim.trace.select("accept", host="server")
    assert connect.time == at(RTT) and accept.time == at(RTT + LATENCY) and connect.get("conn") == accept.get("conn")


def test_ipv6_connection_has_four_tuple_names() -> None:
    world = two_link_world()
    serve(world)
    _, future = dial(world, "2001:db8::2")
    world.sim.run(until=1)
    transport, _ = future.result()
    assert transport.get_extra_info("peername") == ("2001:db8::2", 25, 0, 0)
    assert transport.get_extra_info("sockname")[0] == "2001:db8::1"


def test_bytes_arrive_after_latency_plus_size_over_bottleneck_and_writes_serialise() -> None:
    world = two_link_world()
    servers = serve(world)
    _, future = dial(world)
    future.add_done_callback(
        lambda f: (f.result()[0].write(b"a" * 3000), f.result()[0].write(b"b" * 1000), f.result()[0].write_eof())
    )
    world.sim.run(until=1)
    server = servers[0]
    assert server.events[1:4] == [
        ("data", at(RTT + 3000 / BANDWIDTH + LATENCY), 3000),
        ("data", at(RTT + 4000 / BANDWIDTH + LATENCY), 1000),  # waited for the first to leave the bottleneck
        ("eof", at(RTT + 4000 / BANDWIDTH + LATENCY)),  # the FIN never overtakes data
    ]
    assert world.topology.one_way_delay("client", "server", 3000, RTT) == at(3000 / BANDWIDTH + LATENCY)
    assert bytes(server.data) == b"a" * 3000 + b"b" * 1000


def test_large_writes_are_split_into_segments_timed_in_turn() -> None:
    world = two_link_world()
    servers = serve(world)
    _, future = dial(world)
    future.add_done_callback(lambda f: f.result()[0].write(bytes(200_000)))
    world.sim.run(until=1)
    pieces = [(e[1], e[2]) for e in servers[0].events if e[0] == "data"]
    assert [size for _, size in pieces] == [65536, 65536, 65536, 3392]
    assert pieces[0][0] == at(RTT + 65536 / BANDWIDTH + LATENCY)
    assert pieces[-1][0] == at(RTT + 200_000 / BANDWIDTH + LATENCY)


def test_random_loss_never_reorders_a_direction() -> None:
    world = two_link_world(seed=3, loss=0.05, loss_model="random")
    servers = serve(world)
    _, future = dial(world)
    chunks = [bytes([i]) * (500 + 700 * (i % 5)) for i in range(40)]
    future.add_done_callback(lambda f: [f.result()[0].write(c) for c in chunks])
    world.sim.run(until=60)
    times = servers[0].times("data")
    assert bytes(servers[0].data) == b"".join(chunks)
    assert times == sorted(times) and len(set(times)) > 1


def test_refused_after_one_round_trip_when_nothing_listens() -> None:
    world = two_link_world()
    _, future = dial(world, port=587)
    when = outcome_time(world, future)
    world.sim.run(until=1)
    with pytest.raises(ConnectionRefusedError):
        future.result()
    assert when == [at(RTT)]
    assert [r.time for r in world.sim.trace.select("refused")] == [at(RTT)]


def test_connect_times_out_on_a_down_link() -> None:
    world = two_link_world(link_down=[(0, 1000)])
    serve(world)
    _, future = dial(world, timeout=5.0)
    when = outcome_time(world, future)
    world.sim.run(until=10)
    with pytest.raises(TimeoutError):
        future.result()
    assert when == [at(5.0)]
    assert world.sim.trace.select("timeout", host="client")[0].time == at(5.0)


def test_without_a_timeout_syn_retries_give_up_after_127_seconds() -> None:
    world = two_link_world(server_down=[(0, 1000)])
    serve(world)
    _, future = dial(world)
    when = outcome_time(world, future)
    world.sim.run(until=200)
    assert isinstance(future.exception(), TimeoutError) and future.exception().errno == errno.ETIMEDOUT
    assert when == [at(127.0)]


def test_a_retransmitted_syn_connects_once_the_link_is_back() -> None:
    world = two_link_world(link_down=[(0, 2.5)])
    servers = serve(world)
    client, future = dial(world)
    world.sim.run(until=10)
    assert future.done() and not future.exception()
    assert client.times("made") == [at(3.0 + RTT)]  # SYNs at 0, 1, 3 s
    assert servers[0].times("made") == [at(3.0 + RTT + LATENCY)]


def test_a_link_going_down_breaks_the_connection_on_both_sides() -> None:
    world = two_link_world(link_down=[(0.5, 0.6)])
    servers = serve(world)
    client, future = dial(world)
    world.loop.call_at(0.45, lambda: servers[0].transport.write(bytes(200_000)))  # in flight at 0.5
    world.sim.run(until=0.55)
    server = servers[0]
    assert isinstance(client.lost_exc, ConnectionResetError) and isinstance(server.lost_exc, ConnectionResetError)
    assert client.times("lost") == [at(0.5)] and server.times("lost") == [at(0.5)]
    assert len(client.data) < 200_000
    resets = world.sim.trace.select("reset")
    assert {r.host for r in resets} == {"client", "server"} and {r.get("reason") for r in resets} == {"link-down"}
    again, second = dial(world)  # the link is back at 0.6; the SYN sent at 0.55 is retried at 1.55
    world.sim.run(until=3)
    assert second.done() and again.times("made") == [at(1.55 + RTT)]


def test_pause_reading_holds_chunks_and_the_fin_until_resumed() -> None:
    world = two_link_world()
    payload = bytes(range(256)) * 4096  # 1 MiB, position-dependent so order is checked

    class SlowReader(Recorder):
        paused = False
        violations = 0
        pauses = 0

        def data_received(self, data: bytes) -> None:
            self.violations += self.paused
            super().data_received(data)
            self.paused = True
            self.pauses += 1
            self.transport.pause_reading()
            self.loop.call_later(0.1, self.resume)

        def resume(self) -> None:
            self.paused = False
            self.transport.resume_reading()

        def eof_received(self) -> bool:
            self.violations += self.paused
            return super().eof_received()

    readers: list[SlowReader] = []
    world.network.listen("server", 25, lambda: readers.append(SlowReader(world.loop)) or readers[-1])
    _, future = dial(world)
    future.add_done_callback(lambda f: (f.result()[0].write(payload), f.result()[0].write_eof()))
    world.sim.run(until=10)
    reader = readers[0]
    assert bytes(reader.data) == payload
    assert reader.violations == 0 and reader.pauses == 16
    assert not reader.transport.is_reading() or reader.transport.is_closing()
    last_arrival = RTT + len(payload) / BANDWIDTH + LATENCY
    assert reader.times("eof")[0] > last_arrival  # the pending queue delayed delivery, not the network


def test_write_flow_control_follows_the_bottleneck_backlog() -> None:
    world = two_link_world()
    serve(world)
    calls: list[tuple[str, float]] = []

    class Writer(Recorder):
        def pause_writing(self) -> None:
            calls.append(("pause", self.loop.time()))

        def resume_writing(self) -> None:
            calls.append(("resume", self.loop.time()))

    writer = Writer(world.loop)
    future = world.network.connect("client", SERVER_IP, 25, lambda: writer)
    sizes: list[int] = []
    future.add_done_callback(
        lambda f: (f.result()[0].write(bytes(200_000)), sizes.append(f.result()[0].get_write_buffer_size()))
    )
    world.sim.run(until=1)
    assert sizes == [200_000]
    assert calls == [("pause", at(RTT)), ("resume", at(RTT + (200_000 - 16384) / BANDWIDTH))]
    assert writer.transport.get_write_buffer_size() == 0


def test_eof_keeps_the_connection_open_only_when_eof_received_says_so() -> None:
    world = two_link_world()
    servers = serve(world, keep_open=True)
    client, future = dial(world)
    future.add_done_callback(lambda f: (f.result()[0].write(b"hello"), f.result()[0].write_eof()))
    world.loop.call_at(1.0, lambda: (servers[0].transport.write(b"bye"), servers[0].transport.close()))
    world.sim.run(until=2)
    server = servers[0]
    assert server.times("eof") == [at(RTT + 5 / BANDWIDTH + LATENCY)]
    assert server.times("lost") == [at(1.0)]  # stayed open after the EOF until it closed itself
    assert bytes(client.data) == b"bye" and client.times("eof") == [at(1.0 + 3 / BANDWIDTH + LATENCY)]
    assert client.times("lost") == client.times("eof")  # eof_received() returned None: closed at once
    closes = {r.host: r for r in world.sim.trace.select("close")}
    assert (closes["client"].get("sent"), closes["client"].get("received")) == (5, 3)


def test_abort_resets_the_peer() -> None:
    world = two_link_world()
    servers = serve(world)
    client, future = dial(world)
    world.loop.call_at(0.5, lambda: client.transport.abort())
    world.sim.run(until=1)
    assert client.events[-1] == ("lost", at(0.5), None)
    assert servers[0].events[-1] == ("lost", at(0.5 + LATENCY), "ConnectionResetError")
    reasons = {r.host: r.get("reason") for r in world.sim.trace.select("reset")}
    assert reasons == {"client": "abort", "server": "rst"}


def test_buffered_protocols_get_every_byte_through_small_buffers() -> None:
    world = two_link_world()

    class Small(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.buffer = bytearray(100)
            self.data = bytearray()
            self.updates = 0

        def connection_made(self, transport: Any) -> None:
            pass

        def get_buffer(self, sizehint: int) -> bytearray:
            return self.buffer

        def buffer_updated(self, nbytes: int) -> None:
            self.data += self.buffer[:nbytes]
            self.updates += 1

    made: list[Small] = []
    world.network.listen("server", 25, lambda: made.append(Small()) or made[-1])
    _, future = dial(world)
    future.add_done_callback(lambda f: f.result()[0].write(bytes(range(250)) * 4))
    world.sim.run(until=1)
    assert bytes(made[0].data) == bytes(range(250)) * 4 and made[0].updates == 10


def test_listening_twice_is_refused_and_a_closed_listener_refuses() -> None:
    world = two_link_world()
    listener = world.network.listen("server", 25, asyncio.Protocol)
    with pytest.raises(OSError) as caught:
        world.network.listen("server", 25, asyncio.Protocol)
    assert caught.value.errno == errno.EADDRINUSE
    listener.close()
    _, future = dial(world)
    world.sim.run(until=1)
    assert isinstance(future.exception(), ConnectionRefusedError)


def test_a_failing_protocol_callback_surfaces_and_resets_the_peer() -> None:
    world = two_link_world()

    class Broken(Recorder):
        def data_received(self, data: bytes) -> None:
            raise ValueError("bug in a protocol")

    world.network.listen("server", 25, lambda: Broken(world.loop))
    client, future = dial(world)
    future.add_done_callback(lambda f: f.result()[0].write(b"x"))
    with pytest.raises(SimulationError) as caught:
        world.sim.run(until=1)
    assert isinstance(caught.value.__cause__, ValueError)
    assert world.sim.trace.select("error", service="loop")
    world.loop.set_exception_handler(lambda loop, context: None)
    world.sim.run(until=2)
    assert isinstance(client.lost_exc, ConnectionResetError)


def _session_digest(seed: int) -> str:
    world = two_link_world(seed, loss=0.02, loss_model="random")
    serve(world, keep_open=False)
    for i in range(5):
        world.loop.call_at(
            i * 0.01,
            lambda: dial(world)[1].add_done_callback(
                lambda f: (f.result()[0].write(bytes(30_000)), f.result()[0].close())
            ),
        )
    world.sim.run(until=30)
    return world.sim.trace.digest()


def test_same_seed_same_trace_and_random_loss_differs_by_seed() -> None:
    assert _session_digest(7) == _session_digest(7)
    assert _session_digest(7) != _session_digest(8)


def test_chunk_tracing_is_off_by_default_and_can_be_turned_on() -> None:
    for flag, expected in ((False, 0), (True, 2)):
        world = two_link_world(trace_chunks=flag)
        serve(world)
        _, future = dial(world)
        future.add_done_callback(lambda f: (f.result()[0].write(b"x" * 10), f.result()[0].write(b"y")))
        world.sim.run(until=1)
        assert len(world.sim.trace.select("segment")) == expected
