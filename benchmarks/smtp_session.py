"""Wall time per virtual SMTP session (wire fidelity) and its ratio to bare simpy doing as many events.

Each session is a full aiosmtplib → aiosmtpd dialogue over the simulated network: EHLO, MAIL, RCPT, DATA
(2 KB), QUIT, optionally STARTTLS and AUTH, no transcripts. The same run then times a bare simpy process that
schedules exactly as many events as the sessions did, so the ratio says how much the engine costs over the
kernel's floor on this machine. Not a test: it prints and exits.

    .venv/bin/python benchmarks/smtp_session.py [--sessions 2000] [--concurrency 20] [--tls]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time

import simpy

from mailsim.core import Simulation
from mailsim.engine.client import Credentials, SessionPlan, StartTls, Transaction, deliver
from mailsim.engine.hooks import AcceptAll
from mailsim.engine.server import ServerSettings, SmtpServerFactory
from mailsim.engine.simloop import SimLoop, spawn
from mailsim.engine.tls import TlsAuthority
from mailsim.net.network import Network
from mailsim.net.topology import Topology

MESSAGE = b"Subject: benchmark\r\nFrom: a@client.example\r\n\r\n" + b"0123456789abcdef" * 126 + b"\r\n"


def _world() -> tuple[Simulation, SimLoop]:
    sim = Simulation(1, loop_factory=lambda s: SimLoop(s), keep_trace=False)
    topology = Topology()
    topology.add_host("client", ["192.0.2.1"])
    topology.add_host("server", ["192.0.2.2"])
    topology.add_link("client", "server", latency="5ms", bandwidth="100Mbit")
    loop = sim.loop
    assert isinstance(loop, SimLoop)
    loop.network = Network(sim, topology)
    return sim, loop


def _events(env: simpy.Environment) -> int:
    """Events scheduled so far (simpy numbers them; reading the counter costs one number)."""
    return next(env._eid)  # noqa: SLF001 - the only way to count without slowing every event


def run_sessions(sessions: int, concurrency: int, tls: bool) -> tuple[float, float, int]:
    """Wall seconds, virtual seconds and simpy events for ``sessions`` SMTP sessions."""
    sim, loop = _world()
    authority = TlsAuthority() if tls else None
    settings = ServerSettings(
        "mx.example",
        tls_context=authority.server_context("mx.example") if authority else None,
        auth_enabled=tls,
    )
    hooks = AcceptAll({"alice": "pw"}, keep=False)
    plan = SessionPlan(
        "192.0.2.2", "client.example", Transaction("a@client.example", ("b@mx.example",), MESSAGE),
        starttls=StartTls.ENCRYPT if tls else StartTls.NONE,
        tls_context=authority.client_context() if authority else None,
        credentials=Credentials("alice", "pw") if tls else None,
    )  # fmt: skip

    async def serve() -> None:
        await loop.create_server(SmtpServerFactory(settings, hooks), None, 25)

    async def worker(count: int) -> None:
        for _ in range(count):
            result = await deliver(plan, record=False)
            assert result.recipients[0].status == "sent", result

    loop.run_until_complete(spawn(loop, "server", serve()))
    share = [sessions // concurrency + (1 if i < sessions % concurrency else 0) for i in range(concurrency)]

    async def main() -> None:
        await asyncio.gather(*(worker(n) for n in share if n))

    gc.collect()
    gc.freeze()
    first_event, start_virtual = _events(sim.env), sim.now
    started = time.perf_counter()
    loop.run_until_complete(spawn(loop, "client", main()), limit=10 * 86400)
    wall = time.perf_counter() - started
    return wall, sim.now - start_virtual, _events(sim.env) - first_event - 1


def run_bare(events: int) -> float:
    """Wall seconds for one simpy process scheduling ``events`` timeouts."""
    env = simpy.Environment()

    def ticker(env: simpy.Environment, n: int):
        for _ in range(n):
            yield env.timeout(0.001)

    env.process(ticker(env, events))
    started = time.perf_counter()
    env.run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--tls", action="store_true", help="STARTTLS and AUTH PLAIN in every session")
    args = parser.parse_args()
    wall, virtual, events = run_sessions(args.sessions, args.concurrency, args.tls)
    bare = run_bare(events)
    kind = "STARTTLS+AUTH " if args.tls else ""
    print(
        f"{args.sessions} {kind}SMTP sessions ({args.concurrency} at a time): {wall:.3f} s wall, {virtual:.3f} s virtual"
    )
    print(f"  per session: {wall / args.sessions * 1e3:.3f} ms wall, {events / args.sessions:.0f} simpy events")
    print(f"bare simpy, {events} events: {bare:.3f} s wall ({events / bare / 1e6:.2f} M events/s)")
    print(f"ratio engine/bare simpy: {wall / bare:.1f}")


if __name__ == "__main__":
    main()
