"""mailsim.live: services bound on loopback with the engine's factories, and simpy driven by the wall clock."""

from __future__ import annotations

import asyncio

import pytest

from mailsim.core import ScenarioError, Simulation
from mailsim.engine.hooks import AcceptAll
from mailsim.engine.server import ServerSettings, SmtpServerFactory
from mailsim.live import LiveService, RealtimeDriver, serve
from tests.engine.smtp_support import converse

pytestmark = pytest.mark.live


def _factory(service: str = "smtp") -> SmtpServerFactory:
    return SmtpServerFactory(ServerSettings("mx.example"), AcceptAll(), service=service)


def test_serve_binds_ephemeral_ports_and_reports_them() -> None:
    async def main() -> tuple[list[tuple[str, str, str, int]], str]:
        services = [
            LiveService("mx.example", "smtp", _factory()),
            LiveService("mx.example", "submission", _factory("submission")),
        ]
        async with await serve(services) as bound:
            greeting = (await converse("127.0.0.1", bound.port("mx.example", "submission"), ["QUIT"]))[0]
            return [tuple(b) for b in bound], greeting

    bound, greeting = asyncio.run(main())
    assert [(h, s, a) for h, s, a, _ in bound] == [
        ("mx.example", "smtp", "127.0.0.1"),
        ("mx.example", "submission", "127.0.0.1"),
    ]
    assert all(port > 0 for *_, port in bound) and bound[0][3] != bound[1][3]
    assert greeting == "220 mx.example ESMTP Postfix"


def test_serve_refuses_other_addresses_and_busy_ports() -> None:
    async def main() -> None:
        with pytest.raises(ScenarioError, match="loopback"):
            await serve([LiveService("mx.example", "smtp", _factory())], address="192.0.2.1")
        async with await serve([LiveService("mx.example", "smtp", _factory())]) as first:
            taken = first.port("mx.example", "smtp")
            with pytest.raises(ScenarioError, match=f"mx.example.smtp: .*found {taken}"):
                await serve([LiveService("mx.example", "smtp", _factory(), port=taken)])

    asyncio.run(main())


def test_the_realtime_driver_keeps_simpy_behind_the_wall_clock() -> None:
    sim = Simulation(1)
    seen: list[tuple[float, float]] = []
    handoff = sim.env.event()

    def daemon(env):  # a simpy process, as cleanup or qmgr are
        for _ in range(3):
            yield env.timeout(2.0)
            seen.append((env.now, asyncio.get_running_loop().time()))
        value = yield handoff
        seen.append((env.now, value))

    sim.env.process(daemon(sim.env))

    async def main() -> float:
        driver = RealtimeDriver(sim, factor=0.01)  # 1 virtual second = 10 ms
        task = driver.start(until=20.0)
        start = asyncio.get_running_loop().time()
        await asyncio.sleep(0.08)
        driver.sync()  # an asyncio agent hands work to simpy: stamp it now, then wake the driver
        handoff.succeed("from asyncio")
        driver.wake()
        await task
        return start

    start = asyncio.run(main())
    assert [virtual for virtual, _ in seen[:3]] == [2.0, 4.0, 6.0]
    assert all(wall - start >= virtual * 0.01 - 0.002 for virtual, wall in seen[:3])  # never early
    assert seen[3][1] == "from asyncio" and 8.0 <= seen[3][0] < 20.0
    assert sim.now == 20.0
