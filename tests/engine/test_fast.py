"""The fast fidelity gives what the wire gives: outcomes, reply codes and times, session by session and per run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mailsim.api as api
from mailsim.engine.client import ClientTimeouts, Credentials, Outcome, SessionResult, StartTls, Transaction, deliver
from mailsim.engine.fidelity import session
from mailsim.engine.hooks import AcceptAll, SmtpSession
from mailsim.engine.tls import TlsAuthority
from mailsim.mail import reply as R
from mailsim.mail.reply import Reply
from tests.engine.smtp_support import HOST, RelayControl, plan, run_client, settings, world_with_server
from tests.net.worlds import two_link_world

ROOT = Path(__file__).resolve().parents[2]
AUTHORITY = TlsAuthority()


class Picky(AcceptAll):
    async def rcpt(self, session: SmtpSession, address: str, options: tuple[str, ...]) -> Reply:
        if address.startswith("full"):
            return R.INSUFFICIENT_STORAGE
        return R.user_unknown(address) if address.startswith("nobody") else R.RCPT_OK


class OldServer(AcceptAll):
    async def helo(self, session: SmtpSession, name: str, esmtp: bool) -> Reply:
        return R.COMMAND_NOT_RECOGNIZED if esmtp else R.helo_ok(session.hostname)


class Slow(AcceptAll):
    async def data(self, session: SmtpSession, envelope: object, content: bytes) -> Reply:
        await asyncio.sleep(900)
        return R.queued("LATE")


class Thinking(RelayControl):
    """Hooks that take virtual time (a DNS lookup, a milter): that time is charged in both fidelities."""

    async def connect(self, session: SmtpSession) -> Reply | None:
        await asyncio.sleep(0.004)
        return None

    async def rcpt(self, session: SmtpSession, address: str, options: tuple[str, ...]) -> Reply:
        await asyncio.sleep(0.0013)
        return await super().rcpt(session, address, options)


def _tls(**server: Any) -> dict[str, Any]:
    return {"tls_context": AUTHORITY.server_context(HOST), **server}


def _client_tls(**kwargs: Any) -> dict[str, Any]:
    return dict(starttls=StartTls.MAY, tls_context=AUTHORITY.client_context(verify=True), server_name=HOST, **kwargs)


BIG = Transaction("alice@client.example", ("bob@" + HOST,), b"Subject: big\r\n\r\n" + b".x" * 70000 + b"\r\n")
CASES: dict[str, tuple[Callable[[], Any], dict[str, Any], dict[str, Any]]] = {
    "mixed-recipients": (RelayControl, {}, {"recipients": ["x@far.example", "y@mx.example"]}),
    "4xx-and-5xx": (Picky, {}, {"recipients": ["full@mx.example", "nobody@mx.example", "ok@mx.example"]}),
    "helo-fallback": (OldServer, {}, {}),
    "hooks-take-time": (Thinking, {}, {"recipients": ["a@mx.example", "x@far.example"]}),
    "refused-port": (AcceptAll, {}, {"port": 2525}),
    "data-done-timeout": (Slow, {}, {}),
    "starttls-auth-plain": (
        lambda: RelayControl({"alice": "secret"}), _tls(auth_enabled=True, auth_require_tls=True),
        _client_tls(recipients=["x@far.example"], credentials=Credentials("alice", "secret")),
    ),
    "starttls-auth-login-wrong": (
        lambda: RelayControl({"alice": "secret"}), _tls(auth_enabled=True),
        _client_tls(credentials=Credentials("alice", "wrong", "LOGIN")),
    ),
    "starttls-required-not-offered": (AcceptAll, {}, {**_client_tls(), "starttls": StartTls.ENCRYPT}),
    "big-message-over-tls": (AcceptAll, _tls(), _client_tls()),
    "big-message": (AcceptAll, {}, {}),
}  # fmt: skip


def _essence(result: SessionResult) -> tuple[Any, ...]:
    return (
        result.outcome, result.stage, result.reply, result.recipients, result.esmtp, result.tls,
        result.authenticated, result.started, result.ended,
    )  # fmt: skip


def _run(name: str, fidelity: str) -> tuple[SessionResult, Any]:
    make_hooks, server, client = CASES[name]
    hooks = make_hooks()
    world, _ = world_with_server(settings(**server), hooks)
    client = dict(client)
    the_plan = plan(client.pop("recipients", ("bob@" + HOST,)), **client)
    if name.startswith("big"):
        the_plan = replace(the_plan, transaction=BIG)
    if fidelity == "wire":
        return run_client(world, deliver(the_plan, record=False)), hooks
    return run_client(world, session(the_plan, fidelity="fast", host="client")), hooks


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_session_ends_the_same_in_both_fidelities(name: str) -> None:
    wire, wire_hooks = _run(name, "wire")
    fast, fast_hooks = _run(name, "fast")
    assert _essence(fast) == _essence(wire)
    assert [(m.envelope, m.content) for m in fast_hooks.messages] == [
        (m.envelope, m.content) for m in wire_hooks.messages
    ]
    assert [m.session for m in fast_hooks.messages] == [m.session for m in wire_hooks.messages]


def test_an_unreachable_host_costs_the_connect_timeout() -> None:
    results = []
    for fidelity in ("wire", "fast"):
        world = two_link_world(server_down=[(0, 1000)])
        the_plan = plan(timeouts=ClientTimeouts(connect=30.0))
        results.append(run_client(world, session(the_plan, fidelity=fidelity, host="client")))
    assert _essence(results[0])[:5] == _essence(results[1])[:5]
    assert results[1].outcome is Outcome.UNREACHABLE and results[1].ended - results[1].started == 30.0


def test_a_path_that_breaks_mid_session_loses_the_session_in_both() -> None:
    outcomes = []
    for fidelity in ("wire", "fast"):
        world = two_link_world(link_down=[(0.1, 50.0)])
        world_with_server(settings(), AcceptAll(), world=world)
        outcomes.append(run_client(world, session(plan(), fidelity=fidelity, host="client")).outcome)
    assert outcomes == [Outcome.LOST, Outcome.LOST]


DELIVERY_COLUMNS = ["time", "host", "service", "queue_id", "to", "orig_to", "relay", "status", "dsn", "delay", "text"]
MESSAGE_COLUMNS = ["recipient", "status", "dsn", "submitted", "finished", "final_host", "hops"]


def _frames(scenario: str, fidelity: str) -> dict[str, pd.DataFrame]:
    return api.run(ROOT / "scenarios" / scenario, fidelity=fidelity).frames()


def _decisions(trace: pd.DataFrame) -> pd.DataFrame:
    """Every trace record but the transcripts (fast moves no bytes), fields included: net records too."""
    kept = trace[trace["event"] != "transcript"]
    return kept.assign(fields=kept["fields"].astype(str)).reset_index(drop=True)


@pytest.mark.parametrize("scenario", ["default", "seed-null-client"])
def test_a_scenario_gives_identical_outcomes_replies_and_times(scenario: str) -> None:
    wire, fast = _frames(scenario, "wire"), _frames(scenario, "fast")
    assert len(wire["deliveries"]) > 0
    pd.testing.assert_frame_equal(fast["deliveries"][DELIVERY_COLUMNS], wire["deliveries"][DELIVERY_COLUMNS])
    pd.testing.assert_frame_equal(fast["messages"][MESSAGE_COLUMNS], wire["messages"][MESSAGE_COLUMNS])
    pd.testing.assert_frame_equal(_decisions(fast["trace"]), _decisions(wire["trace"]))
    assert fast["trace"][fast["trace"]["event"] == "transcript"].empty  # fast moves no bytes
