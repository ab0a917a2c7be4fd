"""smtp(8): what the client does when the destination is unknown or unreachable."""

from __future__ import annotations

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
