"""smtp(8): what the client does when the destination is unknown or unreachable."""

from __future__ import annotations

import mailbox

from mailsim.api import run
from tests.mta.worlds import RECEIVER_MAIN, two_hosts

MESSAGE = """
[[messages]]
at = "1s"
from = "alice@example.org"
to = ["carol@nowhere.invalid"]
via = "sendmail"
server = "mail.example.org"
"""


def smtp_records(result):
    return [r for r in result.trace.select("delivery", host="mail.example.org") if r.service == "smtp"]


def test_an_unknown_domain_bounces_with_5_4_4(tmp_path):
    result = run(two_hosts(tmp_path, MESSAGE))
    [record] = smtp_records(result)
    assert record.get("status") == "bounced" and record.get("dsn") == "5.4.4"
    assert "Host or domain name not found. Name service error for name=nowhere.invalid type=MX" in record.get("text")


def test_smtp_fallback_relay_takes_what_cannot_be_found(tmp_path):
    spec = two_hosts(
        tmp_path, MESSAGE, sender_extra="smtp_fallback_relay = [mx.example.net]",
        receiver_main=RECEIVER_MAIN + "mynetworks = 192.0.2.0/24\n",
    )  # fmt: skip
    [record] = smtp_records(run(spec))
    assert record.get("status") == "sent" and record.get("relay") == "mx.example.net[203.0.113.25]:25"


REFUSING = RECEIVER_MAIN + "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject\n"


def test_a_5xx_greeting_is_skipped_like_a_4xx_so_the_last_mx_defers(tmp_path):
    """smtp_skip_5xx_greeting = yes (default): smtp_helo() turns the status into 4.X.X; the mail stays queued."""
    spec = two_hosts(tmp_path, MESSAGE.replace("carol@nowhere.invalid", "bob@example.net"), until="2m",
                     receiver_main=REFUSING)  # fmt: skip
    [record] = smtp_records(run(spec))
    assert record.get("status") == "deferred" and record.get("dsn") == "4.7.1"
    assert record.get("text").startswith("host mx.example.net[203.0.113.25] refused to talk to me: 554 5.7.1")


def test_without_smtp_skip_5xx_greeting_a_5xx_greeting_bounces_at_once(tmp_path):
    spec = two_hosts(tmp_path, MESSAGE.replace("carol@nowhere.invalid", "bob@example.net"),
                     sender_extra="smtp_skip_5xx_greeting = no", receiver_main=REFUSING)  # fmt: skip
    [record] = smtp_records(run(spec))
    assert record.get("status") == "bounced" and record.get("dsn") == "5.7.1"
    assert record.get("text").startswith("host mx.example.net[203.0.113.25] refused to talk to me: 554 5.7.1")


def test_a_421_greeting_defers_with_the_replys_status_not_4_4_1(tmp_path):
    busy = RECEIVER_MAIN + "smtpd_client_connection_count_limit = 1\nmailsim_smtpd_greeting_delay = 30s\n"
    body = "".join(MESSAGE.replace("carol@nowhere.invalid", f"bob{i}@example.net").replace('"1s"', f'"{1 + i / 100}s"')
                   for i in range(3))  # fmt: skip
    records = smtp_records(run(two_hosts(tmp_path, body, until="20s", receiver_main=busy)))
    deferred = [r for r in records if r.get("status") == "deferred"]
    assert deferred and all(r.get("dsn") == "4.7.0" for r in deferred)
    assert all("refused to talk to me: 421 4.7.0" in r.get("text") for r in deferred)


def test_lines_over_smtp_line_length_limit_are_folded_as_postfix_sends_them(tmp_path):
    """smtp_text_out(): the first 998 bytes, then continuation lines of a space and up to 997 bytes."""
    long_line = "".join(chr(ord("a") + i % 26) for i in range(2500))
    content = f"From: alice@example.org\nTo: bob@example.net\nSubject: long\n\n{long_line}\nshort\n".encode()
    users = '[[users]]\naddress = "bob@example.net"\npassword = "x"\n'

    def post(world):
        world.sim.env.timeout(1).callbacks.append(
            lambda _: world.hosts["mail.example.org"].sendmail("alice@example.org", ["bob@example.net"], content)
        )

    result = run(two_hosts(tmp_path, users), prepare=post)
    [record] = smtp_records(result)
    assert record.get("status") == "sent"
    [message] = mailbox.mbox(result.world.hosts["mx.example.net"].files / "var/mail/bob", create=False)
    lines = message.get_payload().splitlines()
    assert [len(line) for line in lines] == [998, 998, 506, 5]
    assert lines[1].startswith(" ") and lines[2].startswith(" ") and lines[3] == "short"
    assert lines[0] + lines[1][1:] + lines[2][1:] == long_line
