"""aiosmtpd (server) and aiosmtplib (client), unmodified, speak SMTP over the simulated network in virtual time."""

from __future__ import annotations

import ssl
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP

from mailsim.engine.simloop import spawn
from tests.net.worlds import BANDWIDTH, RTT, SERVER_IP, two_link_world

BODY = "Subject: smoke\r\n\r\n" + "a line of text that makes the message longer than a reader chunk\r\n" * 800


class Collecting:
    """The only hook needed: keep what DATA delivered."""

    def __init__(self) -> None:
        self.received: list[tuple[Any, ...]] = []

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        self.received.append(
            (session.host_name, session.peer[0], envelope.mail_from, envelope.rcpt_tos, envelope.content)
        )
        return "250 2.0.0 Ok: queued"


def test_aiosmtplib_sends_to_aiosmtpd_over_the_model() -> None:
    world = two_link_world()
    handler = Collecting()

    async def serve() -> None:
        # SMTP() is built inside the factory (it binds to the running loop) and always with a hostname.
        await world.loop.create_server(lambda: SMTP(handler, hostname="mx.example"), None, 25)

    async def send() -> tuple[float, float]:
        start = world.loop.time()
        client = aiosmtplib.SMTP(
            hostname=SERVER_IP, port=25, local_hostname="client.example", start_tls=False, timeout=30
        )
        await client.connect()
        await client.sendmail("alice@client.example", ["bob@mx.example"], BODY)
        await client.quit()
        return start, world.loop.time()

    spawn(world.loop, "server", serve())
    start, end = world.loop.run_until_complete(spawn(world.loop, "client", send()), limit=60)

    assert world.loop.errors == []
    ((helo, peer, mail_from, rcpt_tos, content),) = handler.received
    assert (helo, peer, mail_from, rcpt_tos) == (
        "client.example",
        "192.0.2.1",
        "alice@client.example",
        ["bob@mx.example"],
    )
    assert content.replace(b"\r\n", b"\n") == BODY.encode().replace(b"\r\n", b"\n")
    (closed,) = world.sim.trace.select("close", host="client")
    # Handshake (1 RTT), greeting (1 RTT after the server accepts at 1.5 RTT) and one RTT for each of EHLO, MAIL,
    # RCPT, DATA, the content and QUIT: nobody pipelines, so every byte crosses the 1 MB/s bottleneck in turn.
    wire = (closed.get("sent") + closed.get("received")) / BANDWIDTH
    assert end - start == pytest.approx(8 * RTT + wire, abs=1e-6)


def test_starttls_between_aiosmtplib_and_aiosmtpd(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    world = two_link_world()
    handler = Collecting()

    async def serve() -> None:
        factory = lambda: SMTP(handler, hostname="mx.example", tls_context=server_tls, require_starttls=True)  # noqa: E731
        await world.loop.create_server(factory, None, 25)

    async def send() -> bool:
        client = aiosmtplib.SMTP(
            hostname=SERVER_IP, port=25, local_hostname="client.example", tls_context=client_tls, start_tls=True
        )
        await client.connect()
        await client.sendmail("alice@client.example", ["bob@mx.example"], BODY)
        secure = client.get_transport_info("sslcontext") is not None
        await client.quit()
        return secure

    spawn(world.loop, "server", serve())
    assert world.loop.run_until_complete(spawn(world.loop, "client", send()), limit=60) is True
    assert len(handler.received) == 1 and world.loop.errors == []


def _three_sessions(seed: int) -> str:
    world = two_link_world(seed, loss=0.01, loss_model="random")
    handler = Collecting()

    async def serve() -> None:
        await world.loop.create_server(lambda: SMTP(handler, hostname="mx.example"), None, 25)

    async def send(n: int) -> None:
        client = aiosmtplib.SMTP(hostname=SERVER_IP, port=25, local_hostname=f"c{n}.example", start_tls=False)
        await client.connect()
        await client.sendmail("alice@client.example", [f"user{n}@mx.example"], BODY)
        await client.quit()

    spawn(world.loop, "server", serve())
    for n in range(3):
        spawn(world.loop, "client", send(n))
    world.sim.run(until=600)
    assert len(handler.received) == 3 and world.loop.errors == []
    return world.sim.trace.digest()


def test_smtp_sessions_are_deterministic_per_seed() -> None:
    assert _three_sessions(5) == _three_sessions(5)
    assert _three_sessions(5) != _three_sessions(6)
