"""The virtual-time asyncio loop (DESIGN.md §1): unmodified asyncio code runs on simpy's clock.

Theory of operation
-------------------
:class:`SimLoop` implements :class:`asyncio.AbstractEventLoop` directly rather than subclassing
``asyncio.BaseEventLoop``: BaseEventLoop's scheduling is one ``_run_once`` around a selector, its own ready
deque and timer heap, and its network methods assume real sockets, so overriding it would mean fighting most of
it. asyncio's own pieces are reused as they are: ``Handle``/``TimerHandle``, ``Future``, ``Task``, streams and
``sslproto.SSLProtocol`` (for ``start_tls`` and ``ssl=``).

- ``time()`` is ``env.now``.
- ``call_soon`` appends to a ready deque; one zero-delay simpy event drains the callbacks that were ready when
  it fires (FIFO, exactly like one asyncio loop iteration); callbacks they schedule run in the next zero-delay
  event, so simpy processes at the same instant interleave deterministically.
- ``call_at``/``call_later`` are simpy timeouts carrying a ``TimerHandle``; simpy cannot unschedule, so a
  cancelled handle is skipped when its time comes (run with ``until=``: far-away cancelled timers stay queued).
- ``run_in_executor`` runs the function inline and returns a done future (no threads in virtual time).
- Errors are surfaced, never swallowed: ``call_exception_handler`` appends the context to ``loop.errors``,
  emits a ``loop``/``error`` trace record and, unless a handler was installed with
  ``set_exception_handler``, logs it and (``strict=True``, the default) makes ``env.run`` raise
  :class:`~mailsim.core.errors.SimulationError` (chained to the exception) from a simpy event scheduled
  at once, so the run stops at the virtual time of the error and a test fails. Reports made by the garbage
  collector ("Task exception was never retrieved") surface the same way at the run's next step.
- ``run_simulation(until)`` makes this the running loop (``asyncio.events._set_running_loop``, the hook
  uvloop uses) while simpy runs, and restores the previous one afterwards. ``run_until_complete(aw, limit=)``
  steps events one by one until ``aw`` is done, so the clock stops there and nothing is left scheduled;
  it raises ``SimulationError`` after ``limit`` virtual seconds (default one day) or when nothing is left.
- ``run_forever()`` is refused (virtual time needs an end); ``shutdown_asyncgens()`` does nothing.

Network methods go over ``loop.network`` (a :class:`~mailsim.net.network.Network`, which may be attached
after the loop is made). The host a connection or server belongs to comes from ``local_addr``/``host`` when
given, else from the ``current_host`` context variable (see :func:`host_context` and :func:`spawn`).
``create_connection(host=...)`` takes an IP literal or a topology host name (no DNS here: the DNS model is
consulted by the agents, which then connect to addresses). A local port in ``local_addr`` is ignored.

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl as ssl_module
from asyncio import events, sslproto
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import simpy
from simpy.events import Timeout

from mailsim.core.errors import SimulationError
from mailsim.core.simulation import Simulation
from mailsim.net import addressing
from mailsim.net.context import current_host, host_context
from mailsim.net.network import Network, ProtocolFactory
from mailsim.net.server import SimServer

__all__ = ["SimLoop", "current_host", "host_context", "spawn"]

_log = logging.getLogger(__name__)


def spawn(
    loop: asyncio.AbstractEventLoop, host: str, coro: Coroutine[Any, Any, Any], *, name: str | None = None
) -> asyncio.Task:
    """Start ``coro`` as a task running on ``host`` (it and its children see ``current_host == host``)."""
    with host_context(host):
        return loop.create_task(coro, name=name)


def _tls(
    loop: asyncio.AbstractEventLoop,
    app: asyncio.BaseProtocol,
    context: ssl_module.SSLContext,
    waiter: asyncio.Future,
    server_side: bool,
    hostname: str | None,
    handshake: float | None,
    shutdown: float | None,
    *,
    connection_made: bool = True,
) -> sslproto.SSLProtocol:
    """asyncio's own TLS layer, as BaseEventLoop builds it for ``ssl=`` and ``start_tls``."""
    options: dict[str, Any] = {
        "ssl_handshake_timeout": handshake,
        "ssl_shutdown_timeout": shutdown,
        "call_connection_made": connection_made,
    }
    return sslproto.SSLProtocol(loop, app, context, waiter, server_side, hostname, **options)


def _consume(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


class SimLoop(asyncio.AbstractEventLoop):
    """An asyncio event loop whose clock is a simulation's ``env.now``; see the module docstring."""

    def __init__(self, sim: Simulation, network: Network | None = None, *, strict: bool = True) -> None:
        self.sim = sim
        self.env = sim.env
        self.network = network
        self.strict = strict
        self.errors: list[dict[str, Any]] = []
        self.cancelled_timers = 0
        self._ready: deque[asyncio.Handle] = deque()
        self._drain_scheduled = False
        self._unraised: list[dict[str, Any]] = []
        self._running = False
        self._closed = False
        self._debug = False
        self._exception_handler: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None = None
        self._task_factory: Any = None

    def __repr__(self) -> str:
        return f"<SimLoop now={self.env.now} running={self._running} closed={self._closed}>"

    # -- clock and scheduling ---------------------------------------------------------------------------------

    def time(self) -> float:
        return self.env.now

    def call_soon(self, callback: Callable[..., object], *args: Any, context: Any = None) -> asyncio.Handle:  # type: ignore[override]
        if self._closed:
            raise RuntimeError("Event loop is closed")
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        if not self._drain_scheduled:
            self._drain_scheduled = True
            Timeout(self.env, 0).callbacks.append(self._drain)
        return handle

    call_soon_threadsafe = call_soon  # type: ignore[assignment]

    def _drain(self, _event: simpy.Event) -> None:
        self._drain_scheduled = False
        ready = self._ready
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        if self._closed:
            raise RuntimeError("Event loop is closed")
        timer = asyncio.TimerHandle(when, callback, args, self, context)
        now = self.env.now
        Timeout(self.env, when - now if when > now else 0, timer).callbacks.append(self._fire)
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def call_later(  # type: ignore[override]
        self, delay: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        return self.call_at(self.env.now + delay, callback, *args, context=context)

    def idle_now(self) -> bool:
        """Nothing else is ready or due at this instant: one more loop iteration now would run only its caller."""
        return not self._ready and self.env.peek() > self.env.now

    def sleep_future(self, delay: float) -> asyncio.Future:
        """A future done ``delay`` from now, timed exactly as ``asyncio.sleep(delay)``, with one timeout and no handle.

        Why: the fast fidelity waits like this a dozen times a message; awaiting it is ``await asyncio.sleep``.
        """
        future: asyncio.Future[None] = asyncio.Future(loop=self)
        now = self.env.now
        when = now + delay
        Timeout(self.env, when - now if when > now else 0, future).callbacks.append(self._wake)
        return future

    def _wake(self, event: Timeout) -> None:
        future = event._value  # the future this timeout carries (simpy's value slot)
        if future.done():  # a cancelled sleeper leaves it cancelled
            return
        if self._ready or self.env.peek() <= self.env.now:
            future.set_result(None)
            return
        # Nothing else at this instant: the loop iteration that would wake the sleeper next runs right here.
        self._drain_scheduled = True
        future.set_result(None)
        self._drain(event)

    def _fire(self, event: Timeout) -> None:
        timer = event._value  # the TimerHandle this timeout carries (simpy's value slot)
        timer._scheduled = False  # type: ignore[attr-defined]
        if not timer._cancelled:
            timer._run()

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        self.cancelled_timers += 1

    # -- futures, tasks, executor -----------------------------------------------------------------------------

    def create_future(self) -> asyncio.Future:
        return asyncio.Future(loop=self)

    def create_task(self, coro: Any, *, name: str | None = None, context: Any = None) -> asyncio.Task:
        if self._closed:
            raise RuntimeError("Event loop is closed")
        if self._task_factory is None:
            return asyncio.Task(coro, loop=self, name=name, context=context)
        task = self._task_factory(self, coro) if context is None else self._task_factory(self, coro, context=context)
        if name is not None:
            task.set_name(name)
        return task

    def set_task_factory(self, factory: Any) -> None:
        self._task_factory = factory

    def get_task_factory(self) -> Any:
        return self._task_factory

    def run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future:  # type: ignore[override]
        """Run ``func`` now, inline: virtual time has no threads and the call takes no virtual time."""
        future = self.create_future()
        try:
            future.set_result(func(*args))
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            future.set_exception(exc)
        return future

    def set_default_executor(self, executor: Any) -> None:
        """Accepted and ignored: executors run inline."""

    # -- errors -----------------------------------------------------------------------------------------------

    def get_exception_handler(self) -> Any:
        return self._exception_handler

    def set_exception_handler(self, handler: Any) -> None:
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        self._exception_handler = handler

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        """Log the context (asyncio's behaviour); surfacing is done by :meth:`call_exception_handler`."""
        exc = context.get("exception")
        details = "".join(
            f"\n{key}: {value!r}" for key, value in sorted(context.items()) if key not in ("message", "exception")
        )
        exc_info = (type(exc), exc, exc.__traceback__) if isinstance(exc, BaseException) else None
        _log.error("%s%s", context.get("message") or "Unhandled exception in event loop", details, exc_info=exc_info)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        self.errors.append(context)
        exc = context.get("exception")
        self.sim.emit(
            current_host.get() or "-", "loop", "error",
            message=str(context.get("message", "")), exception=None if exc is None else repr(exc),
        )  # fmt: skip
        handler = self._exception_handler
        if handler is None:
            self.default_exception_handler(context)
            if self.strict:
                self._surface(context)
            return
        try:
            handler(self, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self.default_exception_handler({"message": "Unhandled error in exception handler", "exception": error})
            if self.strict:
                self._surface({"message": "exception handler failed", "exception": error})

    def _surface(self, context: dict[str, Any]) -> None:
        self._unraised.append(context)
        if len(self._unraised) == 1:
            event = simpy.Event(self.env)
            event.callbacks.append(self._raise_unraised)
            event.succeed()

    def _raise_unraised(self, _event: simpy.Event) -> None:
        contexts, self._unraised = self._unraised, []
        first = contexts[0]
        more = f" (and {len(contexts) - 1} more)" if len(contexts) > 1 else ""
        exc = first.get("exception")
        raise SimulationError(
            f"unhandled error in simulated asyncio code at t={self.env.now}: {first.get('message')}{more}"
        ) from (exc if isinstance(exc, BaseException) else None)

    # -- running ----------------------------------------------------------------------------------------------

    @contextmanager
    def _as_running_loop(self) -> Iterator[None]:
        if self._closed:
            raise RuntimeError("Event loop is closed")
        if self._running:
            raise RuntimeError("This event loop is already running")
        previous = events._get_running_loop()
        events._set_running_loop(self)
        self._running = True
        try:
            yield
        finally:
            self._running = False
            events._set_running_loop(previous)

    def run_simulation(self, until: float | simpy.Event | None = None) -> Any:
        """``env.run(until)`` with this loop as the running asyncio loop."""
        with self._as_running_loop():
            return self.env.run(until=until)

    def run_until_complete(self, future: Any, *, limit: float = 86400.0) -> Any:
        """Step virtual time until ``future`` is done, at most ``limit`` virtual seconds from now.

        Events are stepped one by one, so nothing is left scheduled and the clock stops at completion.
        """
        task = asyncio.ensure_future(future, loop=self)
        env = self.env
        deadline = env.now + limit
        with self._as_running_loop():
            while not task.done() and env.peek() <= deadline:
                try:
                    env.step()
                except simpy.core.StopSimulation:
                    break
        if not task.done():
            why = "nothing left to happen" if env.peek() == math.inf else f"not done after {limit} s of virtual time"
            raise SimulationError(f"{task!r}: {why}")
        return task.result()

    def run_forever(self) -> None:
        raise RuntimeError("SimLoop runs in virtual time: use sim.run(until=...) or loop.run_until_complete(...)")

    def stop(self) -> None:
        """Stop ``run_simulation`` after the current instant's callbacks."""
        if self._running:
            event = simpy.Event(self.env)
            event.callbacks.append(simpy.core.StopSimulation.callback)
            event.succeed()

    def is_running(self) -> bool:
        return self._running

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._running:
            raise RuntimeError("Cannot close a running event loop")
        self._closed = True
        self._ready.clear()

    async def shutdown_asyncgens(self) -> None:
        """Nothing to do: async generators are not tracked in virtual time."""

    async def shutdown_default_executor(self) -> None:
        """Nothing to do: there is no executor."""

    def get_debug(self) -> bool:
        return self._debug

    def set_debug(self, enabled: bool) -> None:
        self._debug = enabled

    # -- the simulated network --------------------------------------------------------------------------------

    def _net(self) -> Network:
        if self.network is None:
            raise RuntimeError("this SimLoop has no network: set loop.network = Network(sim, topology)")
        return self.network

    async def getaddrinfo(
        self, host: Any, port: Any, *, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        return addressing.addrinfo(self._net().topology, host, port, family, type, proto)

    async def getnameinfo(self, sockaddr: tuple[Any, ...], flags: int = 0) -> tuple[str, str]:
        name = self._net().topology.host_of_address(sockaddr[0])
        return (name or sockaddr[0], str(sockaddr[1]))

    async def create_connection(  # type: ignore[override]
        self,
        protocol_factory: ProtocolFactory,
        host: str | None = None,
        port: int | None = None,
        *,
        ssl: Any = None,
        family: int = 0,
        proto: int = 0,
        flags: int = 0,
        sock: Any = None,
        local_addr: tuple[Any, ...] | None = None,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        happy_eyeballs_delay: float | None = None,
        interleave: int | None = None,
        all_errors: bool = False,
    ) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
        """Connect over the simulated network, trying each address of ``host`` in order."""
        if sock is not None:
            raise ValueError("SimLoop.create_connection: sock= is not supported; pass host and port")
        if server_hostname is not None and not ssl:
            raise ValueError("server_hostname is only meaningful with ssl")
        if ssl and server_hostname is None:
            server_hostname = host
        src_host, src_ip = addressing.source(self._net().topology, local_addr)
        errors: list[OSError] = []
        for address in addressing.resolve(self._net().topology, host, family):
            made: list[Any] = []
            factory, waiter = protocol_factory, None
            if ssl:
                factory, waiter = self._client_tls(
                    protocol_factory, ssl, server_hostname, ssl_handshake_timeout, ssl_shutdown_timeout, made
                )
            try:
                transport, protocol = await self._net().connect(
                    src_host, address, int(port or 0), factory, src_address=src_ip
                )
            except OSError as exc:
                errors.append(exc)
                continue
            if waiter is None:
                return transport, protocol
            try:
                await waiter
            except BaseException:
                transport.close()
                raise
            return made[0]._app_transport, made[0]._app_protocol
        if len(errors) == 1 or len({str(e) for e in errors}) == 1:
            raise errors[0]
        raise OSError(f"Multiple exceptions: {', '.join(str(e) for e in errors)}")

    def _client_tls(
        self,
        factory: ProtocolFactory,
        context: Any,
        hostname: str | None,
        handshake: float | None,
        shutdown: float | None,
        made: list[Any],
    ) -> tuple[ProtocolFactory, asyncio.Future]:
        """A factory wrapping the app protocol in TLS; the SSLProtocol it makes is appended to ``made``."""
        sslcontext = ssl_module.create_default_context() if context is True else context
        waiter = self.create_future()

        def tls_factory() -> sslproto.SSLProtocol:
            tls = _tls(self, factory(), sslcontext, waiter, False, hostname, handshake, shutdown)
            made.append(tls)
            return tls

        return tls_factory, waiter

    def _server_tls(
        self, factory: ProtocolFactory, sslcontext: Any, handshake: float | None, shutdown: float | None
    ) -> ProtocolFactory:
        def tls_factory() -> sslproto.SSLProtocol:
            waiter = self.create_future()
            waiter.add_done_callback(_consume)  # a failed handshake ends that connection, not the server
            return _tls(self, factory(), sslcontext, waiter, True, None, handshake, shutdown)

        return tls_factory

    async def create_server(  # type: ignore[override]
        self,
        protocol_factory: ProtocolFactory,
        host: Any = None,
        port: int | None = None,
        *,
        family: int = 0,
        flags: int = 0,
        sock: Any = None,
        backlog: int = 100,
        ssl: Any = None,
        reuse_address: bool | None = None,
        reuse_port: bool | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        start_serving: bool = True,
    ) -> SimServer:
        """Listen on the simulated network: all addresses of the current host, or the given address/host."""
        if sock is not None:
            raise ValueError("SimLoop.create_server: sock= is not supported; pass host and port")
        factory = protocol_factory
        if ssl is not None:
            factory = self._server_tls(protocol_factory, ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        net = self._net()
        server = SimServer(self, net, addressing.binds(net.topology, host), int(port or 0), factory)
        if start_serving:
            server.listen()
        return server

    async def start_tls(
        self,
        transport: asyncio.BaseTransport,
        protocol: asyncio.BaseProtocol,
        sslcontext: ssl_module.SSLContext,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> asyncio.Transport:
        """Upgrade a connection: asyncio's SSLProtocol between the transport and ``protocol``."""
        if not isinstance(sslcontext, ssl_module.SSLContext):
            raise TypeError(f"sslcontext is expected to be an instance of ssl.SSLContext, got {sslcontext!r}")
        waiter = self.create_future()
        tls = _tls(
            self, protocol, sslcontext, waiter, server_side, server_hostname,
            ssl_handshake_timeout, ssl_shutdown_timeout, connection_made=False,
        )  # fmt: skip
        # Reading stays paused until SSLProtocol.connection_made has run, so no record reaches it earlier.
        transport.pause_reading()  # type: ignore[attr-defined]
        transport.set_protocol(tls)
        made = self.call_soon(tls.connection_made, transport)
        resumed = self.call_soon(transport.resume_reading)  # type: ignore[attr-defined]
        try:
            await waiter
        except BaseException:
            transport.close()
            made.cancel()
            resumed.cancel()
            raise
        return tls._app_transport
