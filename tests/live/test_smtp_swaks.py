"""A real SMTP client (swaks) against the engine bound by mailsim.live.serve: submission and port 25 behave."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from mailsim.engine.server import ServerSettings, SmtpServerFactory
from mailsim.engine.tls import TlsAuthority
from mailsim.live import LiveService, serve
from tests.engine.smtp_support import RelayControl
from tests.peers import require

pytestmark = [pytest.mark.live, pytest.mark.peer]
HOST = "mail.example.org"


async def _swaks(swaks: str, port: int, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        swaks, "--server", f"127.0.0.1:{port}", "--helo", "laptop.example.net", "--from", "alice@example.org",
        "--timeout", "10", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    return int(process.returncode or 0), output.decode("utf-8", "replace")


def _run(args_by_service: Sequence[tuple[str, list[str]]]) -> tuple[list[tuple[int, str]], RelayControl]:
    """Serve smtp and submission of one host on loopback and run swaks once per (service, args)."""
    swaks = require("swaks")
    authority = TlsAuthority()
    hooks = RelayControl({"alice": "secret"}, local="example.org")
    smtp = ServerSettings(HOST, data_size_limit=10_000, tls_context=authority.server_context(HOST))
    submission = ServerSettings(
        HOST,
        tls_context=authority.server_context(HOST),
        require_starttls=True,
        auth_enabled=True,
        auth_require_tls=True,
    )

    async def main() -> list[tuple[int, str]]:
        services = [
            LiveService(HOST, "smtp", SmtpServerFactory(smtp, hooks, service="smtp", host=HOST)),
            LiveService(HOST, "submission", SmtpServerFactory(submission, hooks, service="submission", host=HOST)),
        ]
        async with await serve(services) as bound:
            return [await _swaks(swaks, bound.port(HOST, service), *args) for service, args in args_by_service]

    return asyncio.run(main()), hooks


def test_submission_with_auth_plain_over_starttls_relays() -> None:
    ((status, output),), hooks = _run(
        [
            (
                "submission",
                [
                    "--to",
                    "bob@far.example",
                    "--tls",
                    "--auth",
                    "PLAIN",
                    "--auth-user",
                    "alice",
                    "--auth-password",
                    "secret",
                ],
            )
        ]
    )
    assert status == 0, output
    assert "<~  235 2.7.0 Authentication successful" in output
    (message,) = hooks.messages
    assert (message.session.username, message.session.service, message.envelope.rcpt_tos) == (
        "alice",
        "submission",
        ("bob@far.example",),
    )
    assert message.session.tls is not None


def test_relaying_without_auth_is_refused_with_the_hooks_reply() -> None:
    runs, hooks = _run(
        [
            ("submission", ["--to", "bob@far.example", "--tls"]),
            ("smtp", ["--to", "bob@far.example"]),
            ("submission", ["--to", "bob@far.example"]),
        ]
    )
    (_, tls_no_auth), (_, port25), (_, clear) = runs
    assert "<~* 554 5.7.1 <bob@far.example>: Relay access denied" in tls_no_auth  # swaks marks TLS lines with ~
    assert "<** 554 5.7.1 <bob@far.example>: Relay access denied" in port25
    assert "<** 530 5.7.0 Must issue a STARTTLS command first" in clear
    assert [status for status, _ in runs] == [24, 24, 23]  # swaks: no recipient accepted / MAIL refused
    assert hooks.messages == []


def test_a_message_over_message_size_limit_gets_552_5_3_4() -> None:
    ((status, output),), hooks = _run([("smtp", ["--to", "bob@example.org", "--body", "x" * 20_000])])
    assert status != 0 and "<** 552 5.3.4 Error: message file too big" in output
    assert hooks.messages == []


def test_pipelined_commands_get_their_replies_in_order() -> None:
    ((status, output),), hooks = _run([("smtp", ["--pipeline", "--to", "bob@far.example,carol@example.org"])])
    assert status == 0, output
    replies = [line for line in output.splitlines() if line.startswith(("<- ", "<**"))]
    assert replies[-6:-2] == [
        "<-  250 2.1.0 Ok",
        "<** 554 5.7.1 <bob@far.example>: Relay access denied",
        "<-  250 2.1.5 Ok",
        "<-  354 End data with <CR><LF>.<CR><LF>",
    ]
    assert hooks.messages[0].envelope.rcpt_tos == ("carol@example.org",)
