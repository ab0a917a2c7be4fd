"""Small self-contained demonstrations for notebooks: one phenomenon each, on the real engine.

They build a world of two hosts in a few lines so a class can see a single behaviour in isolation,
e.g. the seed's "If the peers return an error to the EHLO command, the client falls back to HELO".
"""

from __future__ import annotations

from mailsim.core.simulation import Simulation
from mailsim.engine.client import SessionPlan, SessionResult, Transaction, deliver
from mailsim.engine.hooks import AcceptAll, SmtpSession
from mailsim.engine.server import SmtpServerFactory
from mailsim.engine.settings import ServerSettings
from mailsim.engine.simloop import SimLoop, spawn
from mailsim.mail import reply as R
from mailsim.mail.reply import Reply
from mailsim.net.network import Network
from mailsim.net.topology import Topology

CLIENT, SERVER = ("client.example.org", "192.0.2.1"), ("oldmail.example.net", "192.0.2.2")
MESSAGE = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hello\r\n\r\nHello, old server.\r\n"


class NoEsmtp(AcceptAll):
    """A server from before ESMTP (RFC 821 only): it does not know EHLO."""

    async def helo(self, session: SmtpSession, name: str, esmtp: bool) -> Reply:
        if esmtp:
            return Reply(502, "5.5.2", "Error: command not recognized")
        return R.helo_ok(session.hostname)


def helo_fallback_session(latency: float = 0.010) -> SessionResult:
    """One session from a modern client to a server that refuses EHLO; the transcript shows the fallback."""
    sim = Simulation(0, loop_factory=SimLoop)
    topology = Topology()
    topology.add_host(CLIENT[0], [CLIENT[1]])
    topology.add_host(SERVER[0], [SERVER[1]])
    topology.add_link(CLIENT[0], SERVER[0], latency=latency)
    loop: SimLoop = sim.loop  # type: ignore[assignment]
    loop.network = Network(sim, topology)
    factory = SmtpServerFactory(ServerSettings(hostname=SERVER[0]), NoEsmtp(), host=SERVER[0])

    async def listen() -> None:
        await loop.create_server(factory, None, 25)

    loop.run_until_complete(spawn(loop, SERVER[0], listen()))
    plan = SessionPlan(SERVER[1], CLIENT[0], Transaction("alice@example.org", ("bob@example.net",), MESSAGE))
    return loop.run_until_complete(spawn(loop, CLIENT[0], deliver(plan)))  # type: ignore[no-any-return]
