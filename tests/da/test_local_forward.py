"""local(8) beyond aliases: .forward files, their restrictions, owner- lists, luser_relay and transport hand-offs."""

from __future__ import annotations

import mailbox
from pathlib import Path

import simpy

from mailsim.da.local import LocalAgent
from mailsim.mail.delivery import DeliverRequest, DeliveryStatus, RecipientStatus
from mailsim.mail.report import DeliveryReport
from tests.da.fakes import FakeHost


def deliver(host: FakeHost, *recipients: str):  # type: ignore[no-untyped-def]
    return host.deliver(LocalAgent(host), *recipients)


def test_forward_to_another_local_user_is_resubmitted(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, files={"/home/alice/.forward": "bob\n"})
    (status,) = deliver(host, "alice@example.org").statuses
    assert status.reason == "forwarded as NEW0001"
    assert host.submitted[0].recipients == ("bob@mail.example.org",)
    assert not host.path("/var/mail/alice").exists()


def test_forward_to_self_and_a_file_keeps_a_copy(tmp_path: Path) -> None:
    """Observed on Postfix 3.7 (``sys, /file, |/bin/true`` in sys's .forward): three records, all to=<sys@...>."""
    forward = 'alice, ~/archive, "|/bin/true"\n'
    host = FakeHost(tmp_path, files={"/home/alice/.forward": forward})
    deliver(host, "alice@example.org")
    assert [(r["to"], r["text"]) for r in host.records()] == [
        ("alice@example.org", "delivered to mailbox"),
        ("alice@example.org", "delivered to file: /home/alice/archive"),
        ("alice@example.org", "delivered to command: /bin/true"),
    ]
    assert len(mailbox.mbox(host.path("/home/alice/archive"))) == 1


def test_allow_mail_to_files_alias_only_refuses_a_forward_file(tmp_path: Path) -> None:
    host = FakeHost(
        tmp_path,
        main_cf="allow_mail_to_files = alias\n",
        aliases="cron-status: /var/log/cron-status\n",
        files={"/home/alice/.forward": "alice, /home/alice/archive\n"},
    )
    (status,) = deliver(host, "alice@example.org").statuses
    assert status.status is DeliveryStatus.SENT  # the mailbox copy went through
    assert [(r["status"], r["dsn"], r["text"]) for r in host.records()][1] == (
        "bounced",
        "5.7.1",
        "mail to file is restricted",
    )
    assert not host.path("/home/alice/archive").exists()
    assert deliver(host, "cron-status@example.org").statuses[0].reason == "delivered to file: /var/log/cron-status"


def test_forward_file_with_the_address_extension_wins(tmp_path: Path) -> None:
    files = {"/home/alice/.forward+lists": "/home/alice/lists\n", "/home/alice/.forward": "bob\n"}
    host = FakeHost(tmp_path, main_cf="recipient_delimiter = +\n", files=files)
    assert deliver(host, "alice+lists@example.org").statuses[0].reason == "delivered to file: /home/alice/lists"
    assert deliver(host, "alice@example.org").statuses[0].reason == "forwarded as NEW0001"


def test_owner_alias_makes_members_forwarded_with_the_owner_as_sender(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, aliases="list: alice, bob\nowner-list: alice\n")
    deliver(host, "list@example.org")
    (new,) = host.submitted
    assert (new.sender, new.recipients) == (
        "owner-list@mail.example.org",
        ("alice@mail.example.org", "bob@mail.example.org"),
    )


def test_luser_relay_catches_unknown_users(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="luser_relay = root\n")
    (status,) = deliver(host, "nosuch@example.org").statuses
    assert status.reason == "delivered to mailbox"
    (record,) = host.records()
    assert (record["to"], record["orig_to"]) == ("root@mail.example.org", "nosuch@example.org")  # as Postfix logs it


def test_luser_relay_to_a_remote_address_with_the_user_expanded(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="luser_relay = $user@catchall.example.net\n")
    deliver(host, "nosuch@example.org")
    assert host.submitted[0].recipients == ("nosuch@catchall.example.net",)


def test_deferred_part_cancels_forwarding(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, aliases="mixed: someone@remote.example, \"|/bin/sh -c 'exit 75'\"\n")
    (status,) = deliver(host, "mixed@example.org").statuses
    assert (status.status, status.dsn, status.reason) == (DeliveryStatus.DEFERRED, "4.3.0", "temporary failure")
    assert host.submitted == []


class RecordingAgent:
    """A stand-in for the lmtp or another transport: remembers requests, answers one status."""

    def __init__(self, host: FakeHost, reason: str) -> None:
        self.host, self.reason, self.requests = host, reason, []

    def deliver(self, request: DeliverRequest) -> simpy.Event:
        self.requests.append(request)
        status = RecipientStatus(request.recipients[0].address, DeliveryStatus.SENT, "2.0.0", self.reason, relay="lmtp")
        return self.host.sim.env.timeout(0.01, value=DeliveryReport((status,)))


def test_mailbox_transport_hands_users_to_another_agent(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="mailbox_transport = lmtp:inet:imap.example.org:24\n")
    lmtp = host.agents["lmtp"] = RecordingAgent(host, "250 2.0.0 Ok")
    (status,) = deliver(host, "alice@example.org").statuses
    assert status.reason == "250 2.0.0 Ok"
    assert (lmtp.requests[0].nexthop, lmtp.requests[0].recipients[0].address) == (
        "inet:imap.example.org:24",
        "alice@example.org",
    )


def test_fallback_transport_takes_only_unknown_users(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="fallback_transport = lmtp:unix:private/dovecot\n")
    lmtp = host.agents["lmtp"] = RecordingAgent(host, "delivered")
    deliver(host, "alice@example.org", "nosuch@example.org")
    assert [r.recipients[0].address for r in lmtp.requests] == ["nosuch@example.org"]
    assert host.path("/var/mail/alice").exists()


def test_mailbox_command_runs_for_each_user(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="mailbox_command = /usr/local/bin/autologger /var/log/procmail.log\n")
    (status,) = deliver(host, "bob@example.org").statuses
    assert status.reason == "delivered to command: /usr/local/bin/autologger /var/log/procmail.log"
    assert "to=<bob@example.org>" in host.path("/var/log/procmail.log").read_text()
