"""cleanup(8): the hop count limit, automatic BCC recipients, and the grooming of locally posted headers."""

from __future__ import annotations

from mailsim.api import run
from tests.mta.worlds import RECEIVER_MAIN, two_hosts

USERS = "".join(f'[[users]]\naddress = "{name}@example.net"\npassword = "x"\n' for name in ("bob", "carol", "dave"))


def _message(hops: int, to: str = "bob@example.net") -> bytes:
    received = "".join(f"Received: from relay{i}.example by relay{i + 1}.example; 1 Jan 2026 00:00:00 +0000\n"
                       for i in range(hops))  # fmt: skip
    return f"{received}From: alice@example.org\nTo: {to}\nSubject: hops\n\nbody\n".encode()


def _post(content: bytes, rcpts: tuple[str, ...] = ("bob@example.net",), sender: str = "alice@example.org"):
    def prepare(world):
        host = world.hosts["mail.example.org"]
        world.sim.env.timeout(1).callbacks.append(lambda _: host.sendmail(sender, list(rcpts), content))

    return prepare


def _deliveries(result, host: str, service: str | None = None):
    return [r for r in result.trace.select("delivery", host=host) if service is None or r.service == service]


def test_smtpd_refuses_the_message_whose_received_headers_reach_hopcount_limit(tmp_path):
    """49 Received: headers plus smtpd's own make 50: ``554 5.4.0 Error: too many hops`` (cleanup_strerror)."""
    result = run(two_hosts(tmp_path, USERS, until="2m"), prepare=_post(_message(49)))
    [record] = _deliveries(result, "mail.example.org", "smtp")
    assert record.get("status") == "bounced" and record.get("dsn") == "5.4.0"
    assert "said: 554 5.4.0 Error: too many hops (in reply to end of DATA command)" in record.get("text")


def test_one_hop_fewer_is_delivered(tmp_path):
    result = run(two_hosts(tmp_path / "ok", USERS, until="2m"), prepare=_post(_message(48)))
    [record] = _deliveries(result, "mail.example.org", "smtp")
    assert record.get("status") == "sent"


def test_hopcount_limit_is_read_from_main_cf(tmp_path):
    receiver = RECEIVER_MAIN + "hopcount_limit = 5\n"
    result = run(two_hosts(tmp_path, USERS, until="2m", receiver_main=receiver), prepare=_post(_message(4)))
    [record] = _deliveries(result, "mail.example.org", "smtp")
    assert record.get("status") == "bounced" and record.get("dsn") == "5.4.0"


def test_locally_posted_mail_over_the_hop_limit_bounces_to_its_sender(tmp_path):
    result = run(two_hosts(tmp_path, USERS, until="2m"), prepare=_post(_message(50)))
    [record] = _deliveries(result, "mail.example.org", "cleanup")
    assert (record.get("status"), record.get("dsn"), record.get("text")) == ("bounced", "5.4.0", "too many hops")
    [notice] = result.trace.select("notice", host="mail.example.org")
    assert notice.get("kind") == "non-delivery" and notice.get("recipient") == "alice@example.org"
    assert not _deliveries(result, "mail.example.org", "smtp")  # the message itself never left


def test_always_sender_and_recipient_bcc_each_add_one_envelope_recipient(tmp_path):
    extra = (
        "always_bcc = dave@example.net\n"
        "sender_bcc_maps = inline:{alice@example.org=carol@example.net}\n"
        "recipient_bcc_maps = inline:{bob@example.net=carol@example.net, carol@example.net=dave@example.net}\n"
    )
    spec = two_hosts(tmp_path, USERS, until="2m", sender_extra=extra)
    result = run(spec, prepare=_post(_message(0)))
    sent = sorted(r.get("to") for r in _deliveries(result, "mail.example.org", "smtp"))
    assert sent == ["bob@example.net", "carol@example.net", "dave@example.net"]  # each once


def test_automatic_bcc_keys_on_the_sender_and_original_recipients_only(tmp_path):
    extra = "sender_bcc_maps = inline:{someone@example.org=carol@example.net}\n"
    extra += "recipient_bcc_maps = inline:{carol@example.net=dave@example.net}\n"
    result = run(two_hosts(tmp_path, USERS, until="2m", sender_extra=extra), prepare=_post(_message(0)))
    assert [r.get("to") for r in _deliveries(result, "mail.example.org", "smtp")] == ["bob@example.net"]


def test_local_mail_gets_bare_names_qualified_bcc_dropped_and_missing_headers_added(tmp_path):
    queued: list[bytes] = []

    def prepare(world):
        host = world.hosts["mail.example.org"]
        content = b"From: alice\nTo: bob@example.net, carol\nBcc: dave@example.net\nSubject: s\n\nbody\n"

        def post(_):
            queue_id = host.sendmail("alice@example.org", ["bob@example.net"], content)
            queued.append(host.queue.get(queue_id).content)

        world.sim.env.timeout(1).callbacks.append(post)

    run(two_hosts(tmp_path, USERS, until="2m"), prepare=prepare)
    head = queued[0].split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[:3] == [b"From: alice@example.org", b"To: bob@example.net, carol@example.org", b"Subject: s"]
    assert [line.split(b":")[0] for line in head[3:]] == [b"Message-Id", b"Date"]
