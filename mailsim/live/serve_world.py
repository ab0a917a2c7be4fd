"""``mailsim serve``: a scenario's world in real time, its mail services on 127.0.0.1 for real clients.

Virtual time 0 is the moment the server starts, so Date and Received headers show the wall clock.

The world is built exactly as for a virtual run (the same hosts, the same smtpd hooks); each
chosen service's factory is bound on a free loopback port of the stock asyncio loop, and a
:class:`~mailsim.live.realtime.RealtimeDriver` keeps the simulated world in step with the wall
clock. A message a real client (swaks, mutt, smtplib) submits goes through the same smtpd and
cleanup into the simulated queues, and on through the simulated network.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailsim.core.errors import ScenarioError
from mailsim.live.realtime import RealtimeDriver
from mailsim.live.serve import LiveService, serve
from mailsim.scenario.access import stream_factory
from mailsim.scenario.loader import load
from mailsim.scenario.runner import role_builders
from mailsim.scenario.world import World, build_world
from mailsim.ua.serve_state import ServeState, ServeUser, bound_services, remove_state, write_state


def live_services(world: World, hosts: Sequence[str] | None, services: Sequence[str] | None) -> list[LiveService]:
    """The services to bind: every smtpd service of every mail host, filtered by the user's choices."""
    found = []
    for name, host in world.hosts.items():
        if hosts and name not in hosts:
            continue
        for service, _port, factory in host.smtpd_factories():
            if services and service not in services:
                continue
            found.append(LiveService(name, service, factory))
        for service, server in getattr(host, "access", {}).items():
            if not services or service in services:
                found.append(LiveService(name, service, stream_factory(server.handle)))
    if not found:
        raise ScenarioError(key="serve", expected="at least one host with an smtpd service to bind",
                            found=f"hosts={list(hosts or [])} services={list(services or [])}")  # fmt: skip
    return found


def _client_address(world: World, client: str | None) -> str | None:
    """The address a live client stands for: ``--client HOST``, else the scenario's first user-agent host."""
    hosts = world.spec.hosts
    if client is not None:
        found = next((h for h in hosts if h.name == client), None)
        if found is None:
            raise ScenarioError(key="--client", expected="the name of a host of the scenario", found=client)
        return found.addresses[0]
    return next((h.addresses[0] for h in hosts if "ua" in h.roles), None)


async def serve_world(
    scenario: str | Path | None,
    *,
    hosts: Sequence[str] | None = None,
    services: Sequence[str] | None = None,
    until: float | None = None,
    client: str | None = None,
    announce: Callable[[str], Any] = lambda line: None,
    log: Callable[[Any, datetime], Any] | None = None,
    ready: asyncio.Future[Any] | None = None,
    publish: bool = True,
) -> World:
    """Bind, announce ``HOST SERVICE 127.0.0.1:PORT`` per service, and drive the world until ``until``.

    With ``publish`` the bound services are also written to the state file ``mailsim mail`` reads
    (:mod:`mailsim.ua.serve_state`) and removed again when serving ends.
    """
    from mailsim.cli import default_scenario

    spec = load(scenario or default_scenario())
    world = build_world(spec, builders=role_builders(), epoch=datetime.now(UTC).replace(microsecond=0))
    if log is not None:
        epoch = world.sim.epoch
        world.sim.trace.subscribe(lambda record: log(record, epoch))
    stand_in = _client_address(world, client)
    for host in world.hosts.values():
        host.live_client = stand_in
    driver = RealtimeDriver(world.sim, asyncio.get_running_loop())
    try:  # SIGTERM ends the run as cleanly as reaching --until (state file removed, sockets closed)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, driver.stop)
    except (NotImplementedError, RuntimeError):
        pass
    async with await serve(live_services(world, hosts, services), address="127.0.0.1") as bound:
        for item in bound:
            announce(f"{item.host} {item.service} {item.address}:{item.port}")
        published = publish_state(world, bound, client) if publish else None  # mailsim-ua-reader
        try:
            if ready is not None and not ready.done():
                ready.set_result((world, bound, driver))
            await driver.run(until)
        finally:
            if published is not None:  # mailsim-ua-reader
                remove_state(published, os.getpid())
    return world


# -- mailsim-ua-reader: the bound services in a state file, so `mailsim mail` finds them (mailsim.ua.serve_state)
def publish_state(world: World, bound: Sequence[Any], client: str | None) -> Path | None:
    """Write the state file `mailsim mail` reads: bound services, users, the scenario CA (None: not writable)."""
    stand_in = client or next((h.name for h in world.spec.hosts if "ua" in h.roles), None)
    state = ServeState(
        os.getpid(), str(world.spec.folder.resolve()), stand_in, bound_services(bound),
        tuple(ServeUser(u.address, u.password, u.host) for u in world.spec.users),
        world.tls.ca_pem if world.tls is not None else None,
    )  # fmt: skip
    try:
        return write_state(state)
    except OSError:  # serving goes on; `mailsim mail --server` still works
        return None
