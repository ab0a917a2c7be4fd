"""The seam between simpy processes and asyncio coroutines, both directions, values and failures."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest

from mailsim.core import Simulation
from mailsim.engine.bridge import event_from_awaitable, future_from_event
from mailsim.engine.simloop import SimLoop


@pytest.fixture
def sim() -> Simulation:
    return Simulation(1, loop_factory=lambda s: SimLoop(s))


def test_a_coroutine_awaits_a_simpy_event(sim: Simulation) -> None:
    async def waiter() -> tuple[Any, float]:
        value = await future_from_event(sim.loop, sim.env.timeout(5, value="queued"))
        return value, sim.loop.time()

    assert sim.loop.run_until_complete(waiter()) == ("queued", 5)


def test_a_failed_simpy_event_raises_in_the_coroutine(sim: Simulation) -> None:
    event = sim.env.event()
    sim.env.process(_fail_later(sim, event))

    async def waiter() -> str:
        try:
            await future_from_event(sim.loop, event)
        except LookupError as exc:
            return f"{exc} at {sim.loop.time()}"
        return "no error"

    assert sim.loop.run_until_complete(waiter()) == "no mailbox at 2"


def _fail_later(sim: Simulation, event: Any) -> Generator[Any, Any, None]:
    yield sim.env.timeout(2)
    event.fail(LookupError("no mailbox"))


def test_an_already_processed_event_resolves_at_once(sim: Simulation) -> None:
    event = sim.env.timeout(1, value=7)
    sim.run(until=2)
    assert sim.loop.run_until_complete(future_from_event(sim.loop, event)) == 7


def test_a_simpy_process_waits_for_a_coroutine(sim: Simulation) -> None:
    seen: list[Any] = []

    async def deliver() -> str:
        await asyncio.sleep(3)
        return "250 ok"

    def daemon() -> Generator[Any, Any, None]:
        reply = yield event_from_awaitable(sim, deliver())
        seen.append((reply, sim.env.now))

    sim.env.process(daemon())
    sim.run(until=10)
    assert seen == [("250 ok", 3)]


def test_a_failing_coroutine_raises_in_the_simpy_process(sim: Simulation) -> None:
    seen: list[Any] = []

    async def deliver() -> None:
        await asyncio.sleep(1)
        raise ConnectionRefusedError("mx down")

    def daemon() -> Generator[Any, Any, None]:
        try:
            yield event_from_awaitable(sim, deliver())
        except ConnectionRefusedError as exc:
            seen.append((str(exc), sim.env.now))

    sim.env.process(daemon())
    sim.run(until=10)
    assert seen == [("mx down", 1)]


def test_an_unwatched_failure_is_not_lost(sim: Simulation) -> None:
    async def deliver() -> None:
        raise RuntimeError("nobody waits for me")

    event_from_awaitable(sim, deliver())
    with pytest.raises(RuntimeError, match="nobody waits"):
        sim.run(until=1)
