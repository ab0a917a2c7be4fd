"""local(8): the seed's /etc/aliases examples end to end, mailboxes read back with Python's mailbox, loops."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from mailsim.da.local import LocalAgent
from mailsim.mail.delivery import DeliveryStatus
from tests.da.fakes import MESSAGE, FakeHost

SEED_ALIASES = """\
mailer-daemon: "/dev/null"
postmaster: root
cron-status: /usr/local/admin/cron-status-messages
autolog: "|/usr/local/bin/autologger"
abdou: abdou@otherhost.example.net
staff: :include:/etc/mail/staff
a: b
b: a
self: self, bob
dup: alice, alice, alice@example.org
"""
FILES = {"/etc/mail/staff": "# the staff\nalice\nbob, carol@elsewhere.example\n"}


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path, aliases=SEED_ALIASES, files=FILES)


def deliver(host: FakeHost, *recipients: str, **options: object):  # type: ignore[no-untyped-def]
    return host.deliver(LocalAgent(host), *recipients, **options)  # type: ignore[arg-type]


def mbox(host: FakeHost, path: str) -> list[mailbox.mboxMessage]:
    return list(mailbox.mbox(host.path(path), create=False))


def test_mailer_daemon_to_dev_null_counts_as_delivered(host: FakeHost) -> None:
    (status,) = deliver(host, "mailer-daemon@example.org").statuses
    assert (status.status, status.reason) == (DeliveryStatus.SENT, "delivered to file: /dev/null")
    assert not host.path("/dev/null").exists()


def test_postmaster_reaches_roots_mbox_with_delivery_headers(host: FakeHost) -> None:
    deliver(host, "postmaster@example.org")
    (message,) = mbox(host, "/var/mail/root")
    assert message["Delivered-To"] == "postmaster@example.org"  # frozen_delivered_to: the request recipient
    assert message["X-Original-To"] == "postmaster@example.org"
    assert message["Return-Path"] == "<sender@example.net>"
    assert message.get_from().startswith("sender@example.net ")
    assert message.get_payload().startswith(">From the start")  # mboxo quoting, as mail_copy() does
    (record,) = host.records()
    assert (record["to"], record["orig_to"], record["text"]) == (
        "root@mail.example.org",
        "postmaster@example.org",
        "delivered to mailbox",
    )


def test_cron_status_file_lands_under_the_hosts_folder(host: FakeHost) -> None:
    (status,) = deliver(host, "cron-status@example.org").statuses
    assert status.reason == "delivered to file: /usr/local/admin/cron-status-messages"
    (message,) = mbox(host, "/usr/local/admin/cron-status-messages")
    assert message["Subject"] == "hello"


def test_autolog_pipes_the_message_into_the_logger(host: FakeHost) -> None:
    (status,) = deliver(host, "autolog@example.org").statuses
    assert status.reason == "delivered to command: /usr/local/bin/autologger"
    line = host.path("/var/log/autologger.log").read_text()
    assert "from=<sender@example.net>" in line and "to=<autolog@example.org>" in line and "<m1@example.net>" in line


def test_include_list_members_are_forwarded_in_one_new_message(host: FakeHost) -> None:
    (status,) = deliver(host, "staff@example.org").statuses
    assert status.reason == "forwarded as NEW0001"
    (new,) = host.submitted
    assert new.recipients == ("alice@mail.example.org", "bob@mail.example.org", "carol@elsewhere.example")
    assert new.sender == "sender@example.net"
    assert new.content.startswith(b"Received: by mail.example.org (Postfix); ")
    assert b"\r\nDelivered-To: staff@example.org\r\nFrom: Sender" in new.content
    assert not host.path("/var/mail/alice").exists()


def test_alias_shadows_the_real_user_abdou(host: FakeHost) -> None:
    """The seed: ``abdou: abdou@otherhost`` keeps the local user abdou from ever receiving mail."""
    deliver(host, "abdou@example.org")
    assert not host.path("/var/mail/abdou").exists()
    assert [(s.recipients, s.content.count(b"Delivered-To: abdou@example.org")) for s in host.submitted] == [
        (("abdou@otherhost.example.net",), 1)
    ]


def test_alias_loop_bounces_as_postfix_logs_it(host: FakeHost) -> None:
    (status,) = deliver(host, "a@example.org").statuses
    assert (status.status, status.dsn, status.reason) == (DeliveryStatus.BOUNCED, "5.4.6", "alias database loop for b")
    (record,) = host.records()
    assert (record["to"], record["orig_to"]) == ("b@mail.example.org", "a@example.org")


def test_alias_naming_itself_goes_to_the_user_of_that_name(host: FakeHost) -> None:
    """Postfix 3.7: ``self: self, bob`` with no account "self" bounces self and delivers bob (observed)."""
    (status,) = deliver(host, "self@example.org").statuses
    assert status.status is DeliveryStatus.SENT  # partial failure: done, the bounced part is logged on its own
    assert [(r["to"], r["status"], r["text"]) for r in host.records()] == [
        ("self@mail.example.org", "bounced", 'unknown user: "self"'),  # "self" resolved: @$myorigin
        ("bob@mail.example.org", "sent", "delivered to mailbox"),
    ]


def test_unknown_user_bounces_with_local8s_words(host: FakeHost) -> None:
    (status,) = deliver(host, "nosuch@example.org").statuses
    assert (status.status, status.dsn, status.reason) == (DeliveryStatus.BOUNCED, "5.1.1", 'unknown user: "nosuch"')


def test_required_alias_missing_is_discarded_with_a_warning(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    (status,) = deliver(host, "postmaster@example.org").statuses
    assert (status.status, status.reason) == (DeliveryStatus.SENT, "discarded")
    (warning,) = host.sim.trace.select("warning")
    assert warning.fields["text"] == "required alias not found: postmaster"


def test_delivered_to_header_breaks_a_forwarding_loop(host: FakeHost) -> None:
    looping = b"Delivered-To: Alice@Example.ORG\r\n" + MESSAGE
    (status,) = deliver(host, "alice@example.org", content=looping).statuses
    assert (status.dsn, status.reason) == ("5.4.6", "mail forwarding loop for alice@example.org")
    assert not host.path("/var/mail/alice").exists()


def test_delivered_to_loop_is_found_below_an_alias(host: FakeHost) -> None:
    looping = b"Delivered-To: root@mail.example.org\r\n" + MESSAGE
    (status,) = deliver(host, "postmaster@example.org", content=looping).statuses
    assert status.reason == "mail forwarding loop for root@mail.example.org"


def test_duplicates_are_delivered_once(host: FakeHost) -> None:
    deliver(host, "dup@example.org")
    assert len(mbox(host, "/var/mail/alice")) == 1


def test_recipient_delimiter_delivers_to_the_users_mailbox(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="recipient_delimiter = +\n")
    (status,) = deliver(host, "alice+news@example.org").statuses
    assert status.reason == "delivered to mailbox"
    (message,) = mbox(host, "/var/mail/alice")
    assert message["Delivered-To"] == "alice+news@example.org"
    assert host.records()[0]["to"] == "alice+news@example.org"


def test_home_mailbox_with_a_slash_is_a_maildir(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="home_mailbox = Maildir/\n")
    (status,) = deliver(host, "alice@example.org").statuses
    assert status.reason == "delivered to maildir"
    (message,) = mailbox.Maildir(host.path("/home/alice/Maildir"), create=False)
    assert message["Delivered-To"] == "alice@example.org" and message["Subject"] == "hello"


def test_home_mailbox_without_a_slash_is_an_mbox_in_the_home(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="home_mailbox = Mailbox\n")
    deliver(host, "alice@example.org")
    assert len(mbox(host, "/home/alice/Mailbox")) == 1


def test_alias_to_a_maildir_folder(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, aliases="archive: /srv/archive/\n")
    (status,) = deliver(host, "archive@example.org").statuses
    assert status.reason == "delivered to maildir"
    assert len(mailbox.Maildir(host.path("/srv/archive"), create=False)) == 1


def test_mailbox_size_limit_bounces_with_file_too_large(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="mailbox_size_limit = 100\nmessage_size_limit = 100\n")
    (status,) = deliver(host, "alice@example.org").statuses
    assert (status.status, status.dsn) == (DeliveryStatus.BOUNCED, "5.2.2")
    assert (
        status.reason == "cannot update mailbox /var/mail/alice for user alice. error writing message: File too large"
    )


def test_busy_mailbox_is_retried_then_deferred(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="deliver_lock_attempts = 3\ndeliver_lock_delay = 2s\n")
    agent = LocalAgent(host)
    assert agent.stores.mbox("/var/mail/alice").lock.acquire("someone else", 0.0)
    (status,) = host.deliver(agent, "alice@example.org").statuses
    assert (status.status, status.dsn) == (DeliveryStatus.DEFERRED, "4.2.0")
    assert status.reason.endswith("unable to lock for exclusive access: Resource temporarily unavailable")
    assert status.delays[3] == pytest.approx(4.0)  # two waits of deliver_lock_delay between three attempts


def test_concurrent_deliveries_to_one_mbox_wait_for_the_lock(host: FakeHost) -> None:
    agent = LocalAgent(host)
    first = agent.deliver(_request(host, "alice@example.org", "Q1"))
    second = agent.deliver(_request(host, "alice@example.org", "Q2"))
    host.sim.run(until=60)
    assert [e.value.statuses[0].status for e in (first, second)] == [DeliveryStatus.SENT] * 2
    first_done, second_done = (r.time for r in host.sim.trace.select("delivery"))
    assert second_done >= first_done + 1.0  # the second found the lock taken and came back a second later
    assert len(mbox(host, "/var/mail/alice")) == 2


def test_missing_aliases_file_defers_like_a_dead_local_daemon(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="alias_maps = hash:/etc/no-such-aliases\n")
    (status,) = deliver(host, "alice@example.org").statuses
    assert (status.status, status.reason) == (DeliveryStatus.DEFERRED, "unknown mail transport error")
    assert host.sim.trace.select("fatal")


def _request(host: FakeHost, rcpt: str, queue_id: str):  # type: ignore[no-untyped-def]
    from mailsim.mail.delivery import DeliverRequest
    from mailsim.mail.queuefile import QueueFile, QueueRecipient, QueueState

    qf = QueueFile(queue_id, QueueState.ACTIVE, "s@example.net", (QueueRecipient(rcpt),), MESSAGE, 0.0)
    host.queue.files[queue_id] = qf
    return DeliverRequest(queue_id, QueueState.ACTIVE, "local", host.name, qf.sender, qf.recipients, 0.0, qf.size)
