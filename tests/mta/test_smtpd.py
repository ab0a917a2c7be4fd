"""smtpd(8): the per-transaction recipient limit and anvil's per-client message and recipient rates."""

from __future__ import annotations

from mailsim.api import run
from tests.mta.worlds import RECEIVER_MAIN, two_hosts

NAMES = ("bob", "carol", "dave")
USERS = "".join(f'[[users]]\naddress = "{name}@example.net"\npassword = "x"\n' for name in NAMES)


def _messages(count: int, recipients: tuple[str, ...] = ("bob",)) -> str:
    to = ", ".join(f'"{name}@example.net"' for name in recipients)
    return "".join(
        f'[[messages]]\nat = "{1 + i}s"\nfrom = "alice@example.org"\nto = [{to}]\nvia = "sendmail"\n'
        f'server = "mail.example.org"\n'
        for i in range(count)
    )


def _attempts(tmp_path, body: str, receiver_extra: str):
    result = run(two_hosts(tmp_path, USERS + body, until="2m", receiver_main=RECEIVER_MAIN + receiver_extra))
    records = [r for r in result.trace.select("delivery", host="mail.example.org") if r.service == "smtp"]
    return result, sorted((r.get("to"), r.get("status"), r.get("dsn"), r.get("text")) for r in records)


def test_rcpt_beyond_smtpd_recipient_limit_gets_452_and_is_deferred(tmp_path):
    _, attempts = _attempts(tmp_path, _messages(1, NAMES), "smtpd_recipient_limit = 2\n")
    assert [a[:3] for a in attempts] == [
        ("bob@example.net", "sent", "2.0.0"),
        ("carol@example.net", "sent", "2.0.0"),
        ("dave@example.net", "deferred", "4.5.3"),
    ]
    assert "said: 452 4.5.3 Error: too many recipients (in reply to RCPT TO command)" in attempts[2][3]


def test_smtpd_client_message_rate_limit_answers_mail_from_with_450(tmp_path):
    result, attempts = _attempts(tmp_path, _messages(3), "smtpd_client_message_rate_limit = 1\n")
    assert [a[1] for a in attempts] == ["deferred", "deferred", "sent"]
    assert all("450 4.7.1 Error: too much mail from 192.0.2.10 (in reply to MAIL FROM command)" in a[3]
               for a in attempts[:2])  # fmt: skip
    warnings = [r.get("problem") for r in result.trace.select("warning", host="mx.example.net")]
    assert warnings == ["Message delivery request rate limit exceeded"] * 2


def test_smtpd_client_recipient_rate_limit_answers_rcpt_to_with_450(tmp_path):
    _, attempts = _attempts(tmp_path, _messages(1, NAMES), "smtpd_client_recipient_rate_limit = 2\n")
    assert [a[1] for a in attempts] == ["sent", "sent", "deferred"]
    assert "450 4.7.1 Error: too many recipients from 192.0.2.10 (in reply to RCPT TO command)" in attempts[2][3]


def test_rate_limits_spare_smtpd_client_event_limit_exceptions(tmp_path):
    limits = "smtpd_client_message_rate_limit = 1\nsmtpd_client_recipient_rate_limit = 1\n"
    excepted = limits + "smtpd_client_event_limit_exceptions = 192.0.2.0/24\n"
    _, attempts = _attempts(tmp_path, _messages(2, ("bob", "carol")), excepted)
    assert [a[1] for a in attempts] == ["sent"] * 4
