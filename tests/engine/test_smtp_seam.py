"""One engine, two clocks: the same factory gives the same dialogue in virtual time and on loopback sockets."""

from __future__ import annotations

import pytest

from mailsim.engine.client import Credentials, SessionResult, StartTls, deliver
from mailsim.engine.tls import TlsAuthority
from tests.engine.smtp_support import (
    EOF,
    HOST,
    RelayControl,
    converse,
    live_run,
    plan,
    settings,
    virtual_converse,
    virtual_deliver,
    world_with_server,
)

BAD_INPUT = [
    "EHLO client.example",
    "FOO",
    "RCPT TO:<x@mx.example>",
    "DATA",
    "MAIL FROM:<a b>",
    "MAIL FROM:<a@b.example> RET=HDRS ENVID=e1",
    "RCPT TO:<x@far.example> NOTIFY=FAILURE",
    "RCPT TO:<y@mx.example> ORCPT=rfc822;Y@MX.example",
    b"NOOP " + b"n" * 2100 + b"\r\n",
    "RSET",
    "QUIT",
]


def _dialogue(result: SessionResult) -> list[tuple[str, str]]:
    return [(line.direction, line.text) for line in result.transcript]


@pytest.mark.live
def test_virtual_and_live_sessions_give_identical_transcripts() -> None:
    authority = TlsAuthority()
    server = settings(tls_context=authority.server_context(HOST), auth_enabled=True, auth_require_tls=True)
    common = dict(
        starttls=StartTls.ENCRYPT, tls_context=authority.client_context(), credentials=Credentials("alice", "pw")
    )
    recipients = ["x@far.example", "y@mx.example"]
    world, _ = world_with_server(server, RelayControl({"alice": "pw"}))
    virtual = virtual_deliver(world, plan(recipients, **common))

    async def over_loopback(port: int) -> SessionResult:
        return await deliver(plan(recipients, host="127.0.0.1", port=port, **common))

    live = live_run(server, RelayControl({"alice": "pw"}), over_loopback)
    assert virtual.outcome is live.outcome
    assert _dialogue(virtual) == _dialogue(live)
    assert ("C", "AUTH PLAIN ********") in _dialogue(live) and [r.status for r in live.recipients] == ["sent"] * 2


@pytest.mark.live
def test_bad_input_gets_the_same_answers_on_both_clocks() -> None:
    world, _ = world_with_server(settings(), RelayControl())
    virtual = virtual_converse(world, BAD_INPUT)

    async def over_loopback(port: int) -> list[str]:
        return await converse("127.0.0.1", port, BAD_INPUT)

    live = live_run(settings(), RelayControl(), over_loopback)
    assert virtual == live
    assert live[-1] == f"221 2.0.0 Bye\n{EOF}" and live[9] == "500 5.5.2 Error: line too long"
