"""``|command`` deliveries: exit statuses as Postfix maps them, the simulated programs, and the real-command switch."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailsim.da.local import LocalAgent
from mailsim.da.programs import ProgramContext, ProgramRegistry, ProgramResult, command_status, run_shell
from mailsim.mail.delivery import DeliveryStatus
from mailsim.mail.message import parse_message
from tests.da.fakes import MESSAGE, FakeHost

S, D, B = DeliveryStatus.SENT, DeliveryStatus.DEFERRED, DeliveryStatus.BOUNCED


def run_alias(tmp_path: Path, command: str, **host_options: object):  # type: ignore[no-untyped-def]
    host = FakeHost(tmp_path, aliases=f'cmd: "|{command}"\n', **host_options)  # type: ignore[arg-type]
    (status,) = host.deliver(LocalAgent(host), "cmd@example.org").statuses
    return host, status


@pytest.mark.parametrize(
    ("command", "expected"),
    [  # each as a real Postfix 3.7.11 logged it on this machine
        ("/bin/true", (S, "2.0.0", "delivered to command: /bin/true")),
        ("/bin/false", (B, "5.3.0", 'Command died with status 1: "/bin/false"')),
        ("cat > /dev/null", (S, "2.0.0", "delivered to command: cat > /dev/null")),
        ("/bin/sh -c 'exit 75'", (D, "4.3.0", "temporary failure")),
        ("/bin/sh -c 'exit 67'", (B, "5.1.1", "user unknown")),
        ("/bin/sh -c 'echo 4.7.1 try later; exit 1'", (D, "4.7.1", "try later ")),
        (
            "nosuchprog --x > /dev/null",
            (
                B,
                "5.3.0",
                'Command died with status 127: "nosuchprog --x > /dev/null". Command output: sh: 1: nosuchprog: not found ',
            ),
        ),
        (
            "/usr/local/bin/nothere",
            (
                D,
                "4.3.0",
                "temporary failure. Command output: local: fatal: execvp /usr/local/bin/nothere: No such file or directory ",
            ),
        ),
    ],
)
def test_command_exit_status_mapping(tmp_path: Path, command: str, expected: tuple) -> None:
    _, status = run_alias(tmp_path, command)
    assert (status.status, status.dsn, status.reason) == expected


def test_real_commands_run_only_when_allowed(tmp_path: Path) -> None:
    refused = run_alias(tmp_path / "a", "/usr/bin/head -c 0")[1]
    assert refused.status is D and "execvp /usr/bin/head" in refused.reason
    allowed = run_alias(tmp_path / "b", "/usr/bin/head -c 0", programs=ProgramRegistry(allow_real_commands=True))[1]
    assert allowed.reason == "delivered to command: /usr/bin/head -c 0"


def test_command_sees_the_envelope_as_local8_pipes_it(tmp_path: Path) -> None:
    seen = []

    class Spy:
        def run(self, message, argv, env, context):  # type: ignore[no-untyped-def]
            seen.append((message, dict(env)))
            return ProgramResult(0)

    registry = ProgramRegistry({"/usr/bin/spy": Spy()})
    run_alias(tmp_path, "/usr/bin/spy", programs=registry)
    message, env = seen[0]
    assert message.startswith(b"From sender@example.net  Mon Jan  5 09:00:00 2026\nReturn-Path: <sender@example.net>\n")
    assert b"\nX-Original-To: cmd@example.org\nDelivered-To: cmd@example.org\nFrom: Sender" in message
    assert b"\r\n" not in message
    assert {k: env[k] for k in ("USER", "SENDER", "RECIPIENT", "LOCAL", "DOMAIN")} == {
        "USER": "cmd",
        "SENDER": "sender@example.net",
        "RECIPIENT": "cmd@example.org",
        "LOCAL": "cmd",
        "DOMAIN": "example.org",
    }


def test_vacation_replies_once_per_sender(tmp_path: Path) -> None:
    files = {"/home/alice/.forward": 'alice, "|/usr/bin/vacation alice"\n'}
    host = FakeHost(tmp_path, files=files)
    agent = LocalAgent(host)
    host.deliver(agent, "alice@example.org")
    host.deliver(agent, "alice@example.org")
    host.deliver(agent, "alice@example.org", sender="")  # a bounce is never answered
    (reply,) = host.submitted
    assert (reply.sender, reply.recipients, reply.service) == ("", ("sender@example.net",), "pickup")
    parsed = parse_message(reply.content)
    assert (parsed["To"], parsed["Subject"], parsed["Auto-Submitted"]) == (
        "sender@example.net",
        "Re: hello",
        "auto-replied",
    )
    assert parsed["In-Reply-To"] == "<m1@example.net>"


def test_list_exploder_reposts_to_the_members(tmp_path: Path) -> None:
    aliases = 'team: "|/usr/local/bin/explode /etc/mail/team.members"\n'
    host = FakeHost(tmp_path, aliases=aliases, files={"/etc/mail/team.members": "# team\nalice\nbob@remote.example\n"})
    host.deliver(LocalAgent(host), "team@example.org")
    (post,) = host.submitted
    assert (post.sender, post.recipients) == ("owner-team@example.org", ("alice", "bob@remote.example"))
    assert post.content.startswith(b"List-Id: <team.example.org>\r\nPrecedence: list\r\n")
    assert b"Return-Path" not in post.content and not post.content.startswith(b"From ")


def test_list_exploder_without_its_member_file_bounces(tmp_path: Path) -> None:
    _, status = run_alias(tmp_path, "/usr/local/bin/explode /etc/mail/gone")
    assert (status.status, status.dsn) == (B, "5.3.0")
    assert status.reason == "cannot open input. Command output: explode: cannot open /etc/mail/gone "


def test_spam_filter_can_reject_spam_with_its_own_status(tmp_path: Path) -> None:
    spam = MESSAGE.replace(b"Subject: hello", b"Subject: You have WON the lottery, click here")
    host = FakeHost(tmp_path, aliases='guarded: "|/usr/local/bin/spamfilter -r"\n')
    (status,) = host.deliver(LocalAgent(host), "guarded@example.org", content=spam).statuses
    assert (status.status, status.dsn, status.reason) == (B, "5.7.1", "message content rejected as spam ")


def test_shell_supports_pipelines_lists_and_redirections(tmp_path: Path) -> None:
    context = ProgramContext(tmp_path, "h.example", datetime(2026, 1, 5, tzinfo=UTC))
    registry = ProgramRegistry()
    result = run_shell(registry, "cat | cat >> /var/spool/out; echo $USER done", b"data\n", {"USER": "u"}, context)
    assert (result.exit_code, result.output) == (0, "u done\n")
    assert (tmp_path / "var/spool/out").read_bytes() == b"data\n"
    broken = run_shell(registry, "true && (false)", b"", {}, context)
    assert broken.exit_code == 2 and command_status(broken, "x")[0] is B


def test_registry_finds_bare_names_along_the_path() -> None:
    registry = ProgramRegistry()
    assert registry.find("vacation") is registry["/usr/bin/vacation"]
    assert registry.find("no-such-program") is None
