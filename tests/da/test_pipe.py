"""pipe(8): master.cf attributes, argv macros, flags, and Postfix's status words for the command's exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailsim.core.errors import ConfigError
from mailsim.da.pipe import PipeAgent, parse_pipe_args
from mailsim.da.programs import ProgramRegistry, ProgramResult
from mailsim.mail.delivery import DeliveryStatus
from tests.da.fakes import MESSAGE, FakeHost


class Spy:
    """A program that remembers what it was given and exits with a fixed status and output."""

    def __init__(self, exit_code: int = 0, output: str = "") -> None:
        self.exit_code, self.output, self.calls = exit_code, output, []

    def run(self, message, argv, env, context):  # type: ignore[no-untyped-def]
        self.calls.append((message, tuple(argv)))
        return ProgramResult(self.exit_code, self.output)


def host_with(tmp_path: Path, spy: Spy) -> FakeHost:
    return FakeHost(tmp_path, programs=ProgramRegistry({"/usr/bin/spy": spy}), main_cf="recipient_delimiter = +\n")


def test_master_cf_words_are_parsed_as_pipe8_reads_them() -> None:
    options = parse_pipe_args(["flags=DRhu", "user=filter", "eol=\\r\\n", "argv=/usr/bin/spy", "{ a b }", "${sender}"])
    assert (options.flags, options.user, options.eol, options.argv) == (
        "DRhu",
        "filter",
        "\r\n",
        ("/usr/bin/spy", "a b", "${sender}"),
    )
    with pytest.raises(ConfigError, match="missing argv="):
        parse_pipe_args(["user=x"])


def test_per_recipient_macros_repeat_and_the_command_runs_once(tmp_path: Path) -> None:
    spy = Spy()
    host = host_with(tmp_path, spy)
    agent = PipeAgent.from_args(
        host,
        "spy",
        [
            "user=nobody",
            "argv=/usr/bin/spy",
            "-f",
            "${sender}",
            "-n",
            "$nexthop",
            "--",
            "${user}+${extension}",
            "$queue_id",
        ],
    )
    statuses = host.deliver(agent, "Ann+x@Pipe.example", "bob+y@pipe.example", transport="spy").statuses
    assert [s.reason for s in statuses] == ["delivered via spy service"] * 2
    ((_, argv),) = spy.calls
    assert argv == (
        "/usr/bin/spy",
        "-f",
        "sender@example.net",
        "-n",
        "mail.example.org",
        "--",
        "Ann+x",
        "bob+y",
        "Q0001",
    )
    assert [r["relay"] for r in host.records("spy")] == ["spy", "spy"]


def test_flags_prepend_envelope_lines_and_fold_case(tmp_path: Path) -> None:
    spy = Spy()
    host = host_with(tmp_path, spy)
    agent = PipeAgent.from_args(host, "spy", ["flags=FRODu>", "user=nobody", "argv=/usr/bin/spy", "${recipient}"])
    host.deliver(agent, "Ann@pipe.example", transport="spy")
    ((message, argv),) = spy.calls
    assert argv[1] == "ann@pipe.example"
    lines = message.split(b"\n")
    assert lines[0].startswith(b"From sender@example.net  ")
    assert lines[1:4] == [
        b"Return-Path: <sender@example.net>",
        b"X-Original-To: Ann@pipe.example",
        b"Delivered-To: Ann@pipe.example",
    ]
    assert b"\n>From the start\n" in message


def test_d_flag_refuses_a_looping_message(tmp_path: Path) -> None:
    spy = Spy()
    host = host_with(tmp_path, spy)
    agent = PipeAgent.from_args(host, "spy", ["flags=D", "user=nobody", "argv=/usr/bin/spy"])
    looping = b"Delivered-To: ann@pipe.example\r\n" + MESSAGE
    (status,) = host.deliver(agent, "ann@pipe.example", content=looping, transport="spy").statuses
    assert (status.dsn, status.reason) == ("5.4.6", "mail forwarding loop for ann@pipe.example")
    assert spy.calls == []


@pytest.mark.parametrize(
    ("exit_code", "output", "expected"),
    [
        (0, "stored\n", (DeliveryStatus.SENT, "2.0.0", "delivered via spy service (stored)")),
        (75, "", (DeliveryStatus.DEFERRED, "4.3.0", "temporary failure")),
        (69, "down\n", (DeliveryStatus.BOUNCED, "5.3.0", "service unavailable. Command output: down ")),
        (1, "5.1.1 no such mailbox\n", (DeliveryStatus.BOUNCED, "5.1.1", "no such mailbox ")),
        (3, "", (DeliveryStatus.BOUNCED, "5.3.0", 'Command died with status 3: "/usr/bin/spy"')),
    ],
)
def test_exit_status_mapping(tmp_path: Path, exit_code: int, output: str, expected: tuple) -> None:
    host = host_with(tmp_path, Spy(exit_code, output))
    agent = PipeAgent.from_args(host, "spy", ["user=nobody", "argv=/usr/bin/spy"])
    (status,) = host.deliver(agent, "ann@pipe.example", transport="spy").statuses
    assert (status.status, status.dsn, status.reason) == expected


def test_missing_program_defers_as_postfix_does(tmp_path: Path) -> None:
    """Observed on Postfix 3.7.11: ``argv=/usr/local/bin/nothere`` is deferred, not bounced."""
    host = FakeHost(tmp_path)
    agent = PipeAgent.from_args(host, "missing", ["user=nobody", "argv=/usr/local/bin/nothere", "${sender}"])
    (status,) = host.deliver(agent, "y@missing.example", transport="missing").statuses
    assert (status.status, status.dsn) == (DeliveryStatus.DEFERRED, "4.3.0")
    assert status.reason == (
        "temporary failure. Command output: pipe: fatal: pipe_command: execvp /usr/local/bin/nothere: "
        "No such file or directory "
    )


def test_size_limit_bounces_large_messages(tmp_path: Path) -> None:
    spy = Spy()
    host = host_with(tmp_path, spy)
    agent = PipeAgent.from_args(host, "spy", ["size=10", "user=nobody", "argv=/usr/bin/spy"])
    (status,) = host.deliver(agent, "ann@pipe.example", transport="spy").statuses
    assert (status.dsn, status.reason) == ("5.2.3", "message too large") and spy.calls == []


def test_content_filter_reinjects_with_spam_headers(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    args = [
        "flags=Rq",
        "user=filter",
        "null_sender=",
        "argv=/usr/local/bin/spamfilter",
        "-f",
        "${sender}",
        "--",
        "${recipient}",
    ]
    agent = PipeAgent.from_args(host, "filter", args)
    host.deliver(agent, "ann@example.org", "bob@example.org", transport="filter")
    (post,) = host.submitted
    assert (post.sender, post.recipients) == ("sender@example.net", ("ann@example.org", "bob@example.org"))
    assert post.content.startswith(b"X-Spam-Flag: NO\r\nX-Spam-Score: 0.0\r\n")


def test_bad_attributes_are_config_errors(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    with pytest.raises(ConfigError, match="unknown command-line macro: \\$recipent"):
        PipeAgent.from_args(host, "x", ["user=nobody", "argv=/bin/true", "${recipent}"])
    with pytest.raises(ConfigError, match="missing user="):
        PipeAgent.from_args(host, "x", ["argv=/bin/true"])
