"""The two adapters between the simpy world (queues, daemons) and the asyncio world (agents, sessions).

Internal daemons (cleanup, qmgr, local, bounce) are simpy processes; network-facing agents are asyncio code
(DESIGN.md §1). A simpy process waits for an agent with ``yield event_from_awaitable(sim, coro)``; a coroutine
waits for a simpy event with ``await future_from_event(loop, event)``. Failures cross the seam as exceptions in
both directions; a failed simpy event that nobody waits for crashes the run, as simpy does, so none is lost.

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import simpy

from mailsim.core.simulation import Simulation


def future_from_event(loop: asyncio.AbstractEventLoop, event: simpy.Event) -> asyncio.Future:
    """An asyncio future resolved with the event's value (or its exception) when simpy processes the event."""
    future = loop.create_future()

    def resolve(done: simpy.Event) -> None:
        if not done.ok:
            done.defused = True
        if future.done():
            return
        if done.ok:
            future.set_result(done.value)
        else:
            future.set_exception(done.value)  # type: ignore[arg-type]

    if event.callbacks is None:  # already processed
        resolve(event)
    else:
        event.callbacks.append(resolve)
    return future


def event_from_awaitable(sim: Simulation, awaitable: Awaitable[Any]) -> simpy.Event:
    """A simpy event that succeeds with the awaitable's result or fails with its exception (run on ``sim.loop``)."""
    if sim.loop is None:
        raise RuntimeError("the simulation has no asyncio loop: pass loop_factory to Simulation")
    task = asyncio.ensure_future(awaitable, loop=sim.loop)
    event = simpy.Event(sim.env)

    def settle(done: asyncio.Future) -> None:
        if done.cancelled():
            event.fail(asyncio.CancelledError())  # type: ignore[arg-type]
        elif done.exception() is not None:
            event.fail(done.exception())  # type: ignore[arg-type]
        else:
            event.succeed(done.result())

    task.add_done_callback(settle)
    return event
