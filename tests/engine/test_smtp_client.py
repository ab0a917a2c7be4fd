"""The client engine: per-recipient verdicts, HELO fallback, STARTTLS/AUTH policy, failures as outcomes."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mailsim.engine.client import ClientTimeouts, Credentials, Outcome, StartTls, Transaction, deliver, to_reply
from mailsim.engine.hooks import AcceptAll, SmtpSession
from mailsim.engine.simloop import spawn
from mailsim.engine.tls import TlsAuthority
from mailsim.engine.transcript import render_transcript
from mailsim.mail import reply as R
from mailsim.mail.reply import Reply
from tests.engine.smtp_support import HOST, RelayControl, plan, run_client, settings, virtual_deliver, world_with_server
from tests.net.worlds import RTT, SERVER_IP, two_link_world


def test_some_recipients_accepted_some_refused_each_reported() -> None:
    hooks = RelayControl()
    world, _ = world_with_server(settings(), hooks)
    result = virtual_deliver(
        world, plan(["x@far.example", "y@mx.example"], host="2001:db8::2", source_address="2001:db8::1")
    )
    assert result.outcome is Outcome.COMPLETED and result.esmtp
    assert hooks.messages[0].session.peer_ip == "2001:db8::1"
    refused, accepted = result.recipients
    assert (refused.status, refused.reply, refused.final) == ("bounced", R.relay_denied("x@far.example"), True)
    assert (accepted.status, accepted.reply) == ("sent", R.queued("0000000001"))


def test_4xx_is_kept_apart_from_5xx() -> None:
    class Picky(AcceptAll):
        async def rcpt(self, session: SmtpSession, address: str, options: tuple[str, ...]) -> Reply:
            if address.startswith("full"):
                return R.INSUFFICIENT_STORAGE
            return R.user_unknown(address) if address.startswith("nobody") else R.RCPT_OK

        async def data(self, session: SmtpSession, envelope: object, content: bytes) -> Reply:
            return R.QUEUE_FILE_WRITE_ERROR

    world, _ = world_with_server(settings(), Picky())
    result = virtual_deliver(world, plan(["full@mx.example", "nobody@mx.example", "ok@mx.example"]))
    assert [(r.status, r.reply.code if r.reply else None) for r in result.recipients] == [
        ("deferred", 452),
        ("bounced", 550),
        ("deferred", 451),
    ]


def test_a_refused_sender_decides_every_recipient() -> None:
    class NoSender(AcceptAll):
        async def mail(self, session: SmtpSession, address: str, options: tuple[str, ...]) -> Reply:
            return R.rejected(address, "Access denied", role="Sender address", code=553)

    world, _ = world_with_server(settings(), NoSender())
    result = virtual_deliver(world, plan(["a@mx.example", "b@mx.example"]))
    assert (result.outcome, result.stage, result.reply.code) == (Outcome.REJECTED, "mail", 553)
    assert [r.status for r in result.recipients] == ["bounced", "bounced"]


def test_ehlo_rejected_falls_back_to_helo_and_the_transcript_shows_it() -> None:
    class OldServer(AcceptAll):
        async def helo(self, session: SmtpSession, name: str, esmtp: bool) -> Reply:
            return R.COMMAND_NOT_RECOGNIZED if esmtp else R.helo_ok(session.hostname)

    world, _ = world_with_server(settings(), OldServer())
    result = virtual_deliver(world, plan())
    assert result.outcome is Outcome.COMPLETED and not result.esmtp
    dialogue = [f"{line.direction}: {line.text}" for line in result.transcript]
    assert dialogue[1:5] == [
        "C: EHLO client.example",
        "S: 500 5.5.2 Error: command not recognized",
        "C: HELO client.example",
        f"S: 250 {HOST}",
    ]
    assert "C: MAIL FROM:<alice@client.example>" in dialogue  # no ESMTP parameters after HELO
    assert "S: 500 5.5.2 Error: command not recognized" in render_transcript(result.transcript)


def test_esmtp_parameters_follow_what_the_server_offers() -> None:
    hooks = RelayControl()
    world, _ = world_with_server(settings(), hooks)
    tx = Transaction(
        "a@client.example", ("y@mx.example",), "Subject: é\r\n\r\nçà\r\n".encode(), ("RET=HDRS",), (("NOTIFY=NEVER",),)
    )
    result = virtual_deliver(world, plan().__class__(SERVER_IP, "client.example", tx))
    assert result.outcome is Outcome.COMPLETED
    assert hooks.seen == [
        ("MAIL", "a@client.example", ("RET=HDRS", "SIZE=21", "BODY=8BITMIME")),
        ("RCPT", "y@mx.example", ("NOTIFY=NEVER",)),
    ]


def test_connection_refused_and_unreachable_are_outcomes() -> None:
    world, _ = world_with_server(settings(), AcceptAll())
    start = world.loop.time()
    refused = virtual_deliver(world, plan(port=2525))
    assert (refused.outcome, refused.stage) == (Outcome.REFUSED, "connect")
    assert refused.ended - start == pytest.approx(RTT, abs=1e-6)
    assert [r.status for r in refused.recipients] == ["deferred"]

    down = two_link_world(server_down=[(0, 1000)])
    result = virtual_deliver(down, plan(timeouts=ClientTimeouts(connect=30.0)))
    assert (result.outcome, result.stage) == (Outcome.UNREACHABLE, "connect")
    assert result.ended - result.started == pytest.approx(30.0)


def test_a_silent_server_times_out_at_the_greeting() -> None:
    world = two_link_world()

    async def mute() -> None:
        await world.loop.create_server(asyncio.Protocol, None, 25)

    world.loop.run_until_complete(spawn(world.loop, "server", mute()))
    result = virtual_deliver(world, plan(timeouts=ClientTimeouts(helo=120.0)))
    assert (result.outcome, result.stage) == (Outcome.TIMEOUT, "greeting")
    assert result.ended - result.started == pytest.approx(120.0 + RTT, abs=1e-3)


def test_a_slow_queue_hits_smtp_data_done_timeout() -> None:
    class Slow(AcceptAll):
        async def data(self, session: SmtpSession, envelope: object, content: bytes) -> Reply:
            await asyncio.sleep(900)
            return R.queued("LATE")

    world, _ = world_with_server(settings(), Slow())
    result = virtual_deliver(world, plan())
    assert (result.outcome, result.stage) == (Outcome.TIMEOUT, "content")
    assert [(r.status, r.reply) for r in result.recipients] == [("deferred", None)]


def test_a_connection_broken_mid_session_is_lost() -> None:
    world = two_link_world(link_down=[(0.1, 50.0)])
    world_with_server(settings(), AcceptAll(), world=world)
    result = virtual_deliver(world, plan())
    assert result.outcome is Outcome.LOST and result.stage in ("ehlo", "mail", "rcpt")


def test_starttls_and_auth_on_a_submission_service() -> None:
    authority = TlsAuthority()
    server = settings(
        tls_context=authority.server_context(HOST), require_starttls=True, auth_enabled=True, auth_require_tls=True
    )
    world, _ = world_with_server(server, RelayControl({"alice": "secret"}), port=587, service="submission")
    common = dict(
        port=587, starttls=StartTls.ENCRYPT, tls_context=authority.client_context(verify=True), server_name=HOST
    )
    good = virtual_deliver(world, plan(["x@far.example"], credentials=Credentials("alice", "secret"), **common))
    assert (good.outcome, good.authenticated, good.tls.protocol) == (Outcome.COMPLETED, True, "TLSv1.3")
    assert [r.status for r in good.recipients] == ["sent"]
    bad = virtual_deliver(world, plan(["x@far.example"], credentials=Credentials("alice", "wrong"), **common))
    assert (bad.outcome, bad.stage, bad.reply) == (Outcome.REJECTED, "auth", R.auth_failed())
    assert [(r.status, r.reply) for r in bad.recipients] == [("deferred", None)]
    login = virtual_deliver(
        world, plan(["x@far.example"], credentials=Credentials("alice", "secret", "LOGIN"), **common)
    )
    assert login.authenticated and "C: AUTH LOGIN ********" in render_transcript(login.transcript, timestamps=False)


def test_starttls_policy_when_the_server_offers_none() -> None:
    world, _ = world_with_server(settings(), AcceptAll())
    context = TlsAuthority().client_context()
    required = virtual_deliver(world, plan(starttls=StartTls.ENCRYPT, tls_context=context))
    assert (required.outcome, required.stage) == (Outcome.TLS_FAILED, "starttls")
    optional = virtual_deliver(world, plan(starttls=StartTls.MAY, tls_context=context))
    assert optional.outcome is Outcome.COMPLETED and optional.tls is None


def test_the_client_never_asks_the_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object) -> str:
        raise AssertionError("real name lookup")

    monkeypatch.setattr(socket, "getfqdn", forbidden)
    monkeypatch.setattr(socket, "gethostname", forbidden)
    world, _ = world_with_server(settings(), AcceptAll())
    assert virtual_deliver(world, plan()).outcome is Outcome.COMPLETED


def test_replies_keep_their_enhanced_codes() -> None:
    class Response:
        code, message = 250, "2.1.5 Ok"

    assert to_reply(Response()) == R.RCPT_OK
    assert run_client(two_link_world(), deliver(plan(port=9))).outcome is Outcome.REFUSED
