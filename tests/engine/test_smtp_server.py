"""The server engine answers like Postfix 3.7's smtpd, in virtual time (replies observed on a real Postfix 3.7.11)."""

from __future__ import annotations

from typing import Any

import pytest

from mailsim.engine.hooks import AcceptAll, SmtpSession
from mailsim.engine.server import ServerSettings
from mailsim.engine.tls import TlsAuthority
from mailsim.mail import reply as R
from mailsim.mail.reply import Reply
from tests.engine.smtp_support import EOF, HOST, RelayControl, settings, virtual_converse, world_with_server
from tests.net.worlds import RTT

EHLO = "EHLO client.example"


def _last(commands: list[str | bytes], server: ServerSettings | None = None, hooks: Any = None) -> str:
    world, _ = world_with_server(server or settings(), hooks or RelayControl())
    return virtual_converse(world, commands)[-1]


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        (["FOO bar"], "500 5.5.2 Error: command not recognized"),
        (["HELP"], "500 5.5.2 Error: command not recognized"),
        ([""], "500 5.5.2 Error: bad syntax"),
        ([EHLO, "RCPT TO:<bob@mx.example>"], "503 5.5.1 Error: need MAIL command"),
        ([EHLO, "DATA"], "503 5.5.1 Error: need RCPT command"),
        ([EHLO, "MAIL FROM:<a@b.example>", "MAIL FROM:<a@b.example>"], "503 5.5.1 Error: nested MAIL command"),
        ([EHLO, "MAIL FROM:<a b>"], "501 5.1.7 Bad sender address syntax"),
        ([EHLO, "MAIL FROM:<a@b.example>", "RCPT TO:<bad"], "501 5.1.3 Bad recipient address syntax"),
        ([EHLO, "MAIL FROM:<a@b.example>", "RCPT TO:<>"], "501 5.1.3 Bad recipient address syntax"),
        ([EHLO, "MAIL"], "501 5.5.4 Syntax: MAIL FROM:<address>"),
        ([EHLO, "MAIL FROM:<a@b.example> SIZE=99999999"], "552 5.3.4 Message size exceeds fixed limit"),
        ([EHLO, "MAIL FROM:<a@b.example> SIZE=abc"], "501 5.5.4 Bad message size syntax"),
        ([EHLO, "MAIL FROM:<a@b.example> RET=FOO"], "501 5.5.4 Bad RET parameter syntax"),
        ([EHLO, "MAIL FROM:<a@b.example> BODY=BAD"], "555 5.5.4 Unsupported option: BODY=BAD"),
        ([EHLO, "MAIL FROM:<a@b.example>", "RCPT TO:<x@mx.example> NOTIFY=BOGUS"], R.BAD_NOTIFY_SYNTAX),
        ([EHLO, "MAIL FROM:<a@b.example>", "RCPT TO:<x@mx.example> ORCPT=bad"], R.BAD_ORCPT_SYNTAX),
        ([EHLO, "MAIL FROM:<a@b.example>", "RCPT TO:<x@mx.example> FOO=bar"], "555 5.5.4 Unsupported option: FOO=bar"),
        ([EHLO, "MAIL FROM:<a@b.example>", "RCPT TO:<x@far.example>", "DATA"], R.NO_VALID_RECIPIENTS),
        ([EHLO, b"NOOP " + b"x" * 3000 + b"\r\n"], "500 5.5.2 Error: line too long"),
        ([EHLO, b"MAIL FROM:<\xe4@b.example>\r\n"], "500 5.5.2 Error: bad UTF-8 syntax"),
        ([EHLO, "STARTTLS"], "502 5.5.1 Error: command not implemented"),
        ([EHLO, "AUTH PLAIN AGFiYwBkZWY="], "503 5.5.1 Error: authentication not enabled"),
        ([EHLO, "RSET extra"], "501 5.5.4 Syntax: RSET"),
        ([EHLO, "NOOP"], "250 2.0.0 Ok"),
        ([EHLO, "VRFY root"], "252 2.0.0 root"),
        (["HELO"], "501 Syntax: HELO hostname"),
        (["HELO client.example"], f"250 {HOST}"),
        (["QUIT now"], "221 2.0.0 Bye\n" + EOF),
    ],
)
def test_protocol_errors_get_postfix_replies(commands: list[str | bytes], expected: str | Reply) -> None:
    assert _last(commands, settings(data_size_limit=20000)) == str(expected).replace("\r\n", "\n")


def test_greeting_and_ehlo_keywords_follow_postfix() -> None:
    authority = TlsAuthority()
    server = settings(banner=f"{HOST} ESMTP mailsim", tls_context=authority.server_context(HOST), auth_enabled=True)
    greeting, ehlo = virtual_converse(world_with_server(server, AcceptAll())[0], [EHLO])
    assert greeting == f"220 {HOST} ESMTP mailsim"
    assert ehlo.split("\n") == [
        f"250-{HOST}",
        "250-PIPELINING",
        "250-SIZE 10240000",
        "250-VRFY",
        "250-STARTTLS",
        "250-AUTH PLAIN LOGIN",
        "250-ENHANCEDSTATUSCODES",
        "250-8BITMIME",
        "250-DSN",
        "250 SMTPUTF8",
    ]


def test_disable_vrfy_command_refuses_vrfy_and_stops_announcing_it() -> None:
    """smtpd.c vrfy_cmd refuses before looking at the argument; ehlo_cmd leaves VRFY out."""
    off = ServerSettings.from_main_cf({"myhostname": HOST, "disable_vrfy_command": "yes"})
    assert _last([EHLO, "VRFY root"], off) == "502 5.5.1 VRFY command is disabled"
    assert _last([EHLO, "VRFY"], off) == str(R.VRFY_DISABLED)
    _, ehlo = virtual_converse(world_with_server(off, AcceptAll())[0], [EHLO])
    assert "250-VRFY" not in ehlo.split("\n") and "250-SIZE 10240000" in ehlo.split("\n")


def test_mail_before_helo_is_fine_unless_smtpd_helo_required() -> None:
    assert _last(["MAIL FROM:<a@b.example>"]) == "250 2.1.0 Ok"
    assert _last(["MAIL FROM:<a@b.example>"], settings(helo_required=True)) == str(R.NEED_HELO)


def test_dsn_parameters_reach_the_hooks_as_sent() -> None:
    hooks = RelayControl()
    world, _ = world_with_server(settings(), hooks)
    replies = virtual_converse(
        world,
        [
            EHLO,
            "MAIL FROM:<a@b.example> RET=HDRS ENVID=Q+2B1",
            "RCPT TO:<x@mx.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;X@MX.example",
        ],
    )
    assert replies[-2:] == ["250 2.1.0 Ok", "250 2.1.5 Ok"]
    assert hooks.seen == [
        ("MAIL", "a@b.example", ("RET=HDRS", "ENVID=Q+2B1")),
        ("RCPT", "x@mx.example", ("NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;X@MX.example")),
    ]


def test_the_data_hook_gets_the_envelope_of_accepted_recipients_only() -> None:
    hooks = RelayControl()
    world, _ = world_with_server(settings(), hooks)
    commands = [EHLO, "MAIL FROM:<> RET=FULL", "RCPT TO:<x@far.example>", "RCPT TO:<y@mx.example> NOTIFY=NEVER", "DATA"]
    replies = virtual_converse(world, [*commands, b"Subject: s\r\n\r\n..dot\r\n.\r\n"])
    assert replies[-1] == "250 2.0.0 Ok: queued as 0000000001"
    (received,) = hooks.messages
    envelope = received.envelope
    assert (envelope.mail_from, envelope.rcpt_tos, envelope.ret, envelope.is_bounce) == (
        "",
        ("y@mx.example",),
        "FULL",
        True,
    )
    assert envelope.dsn_for(0).notify == ("NEVER",)
    assert received.content == b"Subject: s\r\n\r\n.dot\r\n"


def test_a_client_that_disconnects_mid_data_queues_nothing() -> None:
    hooks = RelayControl()
    world, _ = world_with_server(settings(), hooks)
    commands = [EHLO, "MAIL FROM:<a@b.example>", "RCPT TO:<x@mx.example>", "DATA", b"Subject: half\r\n\r\nno end"]
    virtual_converse(world, commands[:-1] + [(commands[-1], 0)])
    world.sim.run(until=world.sim.now + 10)
    assert hooks.messages == [] and hooks.disconnects == 1


def test_an_oversize_message_is_refused_after_the_dot() -> None:
    hooks = RelayControl()
    world, _ = world_with_server(settings(data_size_limit=1000), hooks)
    body = b"Subject: big\r\n\r\n" + b"x" * 60 + b"\r\n"
    commands = [EHLO, "MAIL FROM:<a@b.example>", "RCPT TO:<x@mx.example>", "DATA", body * 30 + b".\r\n"]
    assert virtual_converse(world, commands)[-1] == str(R.MESSAGE_FILE_TOO_BIG)
    assert hooks.messages == []


def test_an_idle_client_is_dropped_after_smtpd_timeout_in_virtual_time() -> None:
    world, _ = world_with_server(settings(timeout=30.0), AcceptAll())
    start = world.loop.time()
    replies = virtual_converse(world, [EHLO, b""])  # then say nothing at all
    assert replies[-1] == f"421 4.4.2 {HOST} Error: timeout exceeded\n{EOF}"
    # EHLO reaches the server 2.5 round trips after the SYN; 30 s later it hangs up; the 421 takes half an RTT
    assert world.loop.time() - start == pytest.approx(30.0 + 3 * RTT, abs=2e-4)  # + 1 MB/s serialisation


def test_a_slow_hook_is_not_an_idle_client() -> None:
    class Slow(AcceptAll):
        async def mail(self, session: SmtpSession, address: str, options: tuple[str, ...]) -> Reply:
            import asyncio

            await asyncio.sleep(100)
            return R.SENDER_OK

    world, _ = world_with_server(settings(timeout=30.0), Slow())
    assert virtual_converse(world, [EHLO, "MAIL FROM:<a@b.example>"])[-1] == "250 2.1.0 Ok"


def test_the_connect_hook_can_refuse_a_client() -> None:
    class Busy(AcceptAll):
        async def connect(self, session: SmtpSession) -> Reply | None:
            return R.too_many_connections(session.hostname, session.peer_ip)

    world, _ = world_with_server(settings(), Busy())
    assert virtual_converse(world, [EHLO]) == [f"421 4.7.0 {HOST} Error: too many connections from 192.0.2.1\n{EOF}"]


def test_a_421_from_a_hook_hangs_up_even_with_pipelined_commands_waiting() -> None:
    class Throttle(AcceptAll):
        async def rcpt(self, session: SmtpSession, address: str, options: tuple[str, ...]) -> Reply:
            return Reply(421, "4.7.0", f"{HOST} Error: too many recipients, try later")

    hooks = Throttle()
    world, _ = world_with_server(settings(), hooks)
    batch = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<x@mx.example>\r\nRCPT TO:<y@mx.example>\r\nDATA\r\n"
    replies = virtual_converse(world, [EHLO, (batch, 3)])
    assert replies[2:4] == ["250 2.1.0 Ok", f"421 4.7.0 {HOST} Error: too many recipients, try later\n{EOF}"]


def test_pipelined_commands_are_answered_in_order() -> None:
    world, _ = world_with_server(settings(), RelayControl())
    batch = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<x@far.example>\r\nRCPT TO:<y@mx.example>\r\nDATA\r\n"
    replies = virtual_converse(world, [EHLO, (batch, 4), b"Subject: p\r\n\r\nbody\r\n.\r\n"])
    assert replies[2:] == [
        "250 2.1.0 Ok",
        "554 5.7.1 <x@far.example>: Relay access denied",
        "250 2.1.5 Ok",
        "354 End data with <CR><LF>.<CR><LF>",
        "250 2.0.0 Ok: queued as 0000000001",
    ]


def test_too_many_errors_end_the_session_and_tarpit_first() -> None:
    world, _ = world_with_server(settings(soft_error_limit=2, hard_error_limit=4, error_sleep_time=5.0), AcceptAll())
    start = world.loop.time()
    replies = virtual_converse(world, ["FOO"] * 5)
    assert replies[1:] == [str(R.COMMAND_NOT_RECOGNIZED)] * 4 + [f"{R.too_many_errors(HOST)}\n{EOF}"]
    assert world.loop.time() - start > 10.0  # the 3rd and 4th replies waited smtpd_error_sleep_time each


def test_a_hook_that_raises_ends_the_session_and_is_reported() -> None:
    class Broken(AcceptAll):
        async def mail(self, session: SmtpSession, address: str, options: tuple[str, ...]) -> Reply:
            raise RuntimeError("bug in the MTA")

    world, smtpd = world_with_server(settings(), Broken())
    world.loop.set_exception_handler(lambda loop, context: None)
    assert (
        virtual_converse(world, [EHLO, "MAIL FROM:<a@b.example>"])[-1]
        == f"421 4.3.0 {HOST} Error: internal error\n{EOF}"
    )
    assert [str(e) for e in smtpd.errors] == ["bug in the MTA"]


def test_settings_come_from_main_cf_values() -> None:
    values = {
        "myhostname": "mail.example.org",
        "message_size_limit": "0",
        "smtpd_timeout": "60s",
        "smtpd_sasl_auth_enable": "yes",
    }
    parsed = ServerSettings.from_main_cf(values)
    assert (parsed.hostname, parsed.data_size_limit, parsed.timeout, parsed.auth_enabled) == (
        "mail.example.org",
        0,
        60.0,
        True,
    )
    assert parsed.greeting == "mail.example.org ESMTP Postfix"
