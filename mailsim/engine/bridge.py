"""The two adapters between the simpy world (queues, daemons) and the asyncio world (agents, sessions).

Internal daemons (cleanup, qmgr, local, bounce) are simpy processes; network-facing agents are asyncio code
(DESIGN.md §1). A simpy process waits for an agent with ``yield event_from_awaitable(sim, coro)``; a coroutine
waits for a simpy event with ``await future_from_event(loop, event)``. Failures cross the seam as exceptions in
both directions; a failed simpy event that nobody waits for crashes the run, as simpy does, so none is lost.

Two more tools let the fast fidelity run a server hook in place until it really waits: :func:`resumed`
carries on a coroutine whose first step already ran, and :class:`LoopHops` lets the loop turn as many times as
chained future callbacks would have, skipping turns in which nothing else could run.

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator
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


async def resumed(coroutine: Coroutine[Any, Any, str], pending: Any) -> str:
    """Go on with ``coroutine``, whose first step already ran and is waiting for ``pending``."""
    return await _Resume(coroutine, pending)


class LoopHops:
    """``await LoopHops(n, idle)``: give the loop ``n`` iterations (what ``n`` chained future callbacks take).

    An iteration in which nothing but the caller would run (``idle()``: SimLoop's ``idle_now``) is skipped:
    it could change no order, and skipping it saves a loop iteration per reply.
    """

    __slots__ = ("n", "idle")

    def __init__(self, n: int, idle: Callable[[], bool] | None) -> None:
        self.n, self.idle = n, idle

    def __await__(self) -> Generator[None, None, None]:
        idle = self.idle
        for _ in range(self.n):
            if idle is None or not idle():
                yield


class _Resume:
    """``await`` on a coroutine that already yielded ``pending``: the rest of ``yield from`` by hand."""

    __slots__ = ("coroutine", "pending")

    def __init__(self, coroutine: Coroutine[Any, Any, str], pending: Any) -> None:
        self.coroutine, self.pending = coroutine, pending

    def __await__(self) -> Generator[Any, Any, str]:
        coroutine, value = self.coroutine, self.pending
        while True:
            try:
                try:
                    sent = yield value
                except GeneratorExit:  # the task is collected unfinished (the run ended): so is the coroutine
                    coroutine.close()
                    raise
                except BaseException as exc:  # thrown in by the task (cancellation): pass it on
                    value = coroutine.throw(exc)
                else:
                    value = coroutine.send(sent)
            except StopIteration as done:
                return str(done.value)
