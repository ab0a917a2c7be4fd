"""The fidelity switch: one SMTP client session in ``wire`` (aiosmtplib ↔ aiosmtpd) or ``fast`` (hooks direct).

Why one function: the delivery agents (mta/smtp.py, ua/submit.py) must not know which engine runs; the
world sets ``loop.fidelity`` on its :class:`~mailsim.engine.simloop.SimLoop` (scenario ``fidelity`` or
``mailsim run --fidelity``) and :func:`session` reads it. ``fast`` needs the simulated network and an SMTP
listener made by :class:`~mailsim.engine.server.SmtpServerFactory`; anything else (a live run, a listener
with implicit TLS, a foreign protocol) is served by ``wire``, so ``fast`` never changes what can be reached.

Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mailsim.engine.client import deliver
from mailsim.engine.fast import fast_deliver
from mailsim.engine.plan import SessionPlan, SessionResult
from mailsim.engine.transcript import TranscriptSink

FIDELITIES = ("wire", "fast")


def smtp_listener(network: Any, address: str, port: int) -> tuple[Any, ...] | None:
    """``(hooks, settings, factory)`` of the SMTP server factory listening on ``address:port``, if any."""
    listener = network.listener_at(address, port)
    factory = getattr(listener, "factory", None)
    if factory is None or not hasattr(factory, "hooks") or not hasattr(factory, "settings"):
        return None
    return factory.hooks, factory.settings, factory


async def session(
    plan: SessionPlan,
    *,
    fidelity: str | None = None,
    record: bool = True,
    transcripts: TranscriptSink | None = None,
    host: str = "",
    service: str = "smtp",
) -> SessionResult:
    """One client session in the running loop's fidelity (or ``fidelity`` when given)."""
    loop = asyncio.get_running_loop()
    chosen = fidelity or getattr(loop, "fidelity", "wire")
    network = getattr(loop, "network", None)
    if chosen == "fast" and network is not None and _fast_can_serve(network, plan):
        return await fast_deliver(
            plan, network=network, hooks_at=lambda ip, port: smtp_listener(network, ip, port),
            host=host, service=service, transcripts=transcripts,
        )  # fmt: skip
    sim = getattr(loop, "sim", None)  # a run-local id, so a client transcript can be named like a server's
    session_id = f"{host}/{service}-client/{sim.counter(f'client-session:{host}')}" if sim is not None and host else ""
    return await deliver(plan, record=record, transcripts=transcripts, host=host, service=service,
                         session_id=session_id)  # fmt: skip


def _fast_can_serve(network: Any, plan: SessionPlan) -> bool:
    """Nothing listening (fast models the RST/timeout) or an SMTP factory; not a foreign listener."""
    return network.listener_at(plan.host, plan.port) is None or smtp_listener(network, plan.host, plan.port) is not None
