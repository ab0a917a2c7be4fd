"""DSNs (RFC 3464): Postfix 3.7's exact bytes, round trips, content types, outcomes turned into DSN blocks."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta

import pytest

from mailsim.mail import reply as R
from mailsim.mail.delivery import DeliveryStatus, RecipientStatus
from mailsim.mail.dsn import (
    Action,
    DsnRecipient,
    DsnReport,
    ReportKind,
    build_dsn,
    dsn_recipient,
    parse_dsn,
    render_dsn,
    wrap,
)
from mailsim.mail.envelope import Notify, RcptDsn, Ret
from mailsim.mail.message import as_bytes, parse_message
from mailsim.mail.received import local_received

ARRIVAL = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
ORIGINAL = (
    b"Received: from mua.example.org (mua.example.org [192.0.2.9])\r\n"
    b"\tby mail.example.org (Postfix) with ESMTPSA id 4A1B2C3D4E\r\n"
    b"\tfor <bob@example.net>; Mon,  5 Jan 2026 09:00:00 +0000 (UTC)\r\n"
    b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: lunch\r\n\r\nAt noon?\r\n"
)


def _failed(rcpt: str = "bob@example.net") -> DsnRecipient:
    outcome = RecipientStatus.from_reply(
        rcpt, R.user_unknown(rcpt), host="mx.example.net", address="192.0.2.20", command="RCPT TO"
    )
    return dsn_recipient(outcome)


def _report(kind: ReportKind, *recipients: DsnRecipient, envid: str | None = None) -> DsnReport:
    return DsnReport(kind, "mail.example.org", "4A1B2C3D4E", "alice@example.org", ARRIVAL, recipients, envid)


POSTFIX_CASES = [
    ("dsn-failed-full.eml", None, "3450220C3C0", datetime(2026, 11, 25, 0, 33, 58, tzinfo=UTC), {}),
    ("dsn-failed-hdrs-envid.eml", Ret.HDRS, "3496B20C213", datetime(2026, 11, 25, 0, 34, 5, tzinfo=UTC), {}),
    ("dsn-delayed.eml", None, "447BE20C006", datetime(2026, 11, 25, 0, 34, 47, tzinfo=UTC),
     {"delay_warning_time": 60}),
    ("dsn-success-relayed.eml", Ret.HDRS, "297E220C1F5", datetime(2026, 11, 25, 0, 43, 18, tzinfo=UTC), {}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "ret", "bounce_id", "date", "options"), POSTFIX_CASES)
def test_dsn_bytes_equal_real_postfix(postfix_dir, name, ret, bounce_id, date, options):
    """Parse Postfix's DSN, render ours from the parsed report, and compare every byte."""
    captured = (postfix_dir / name).read_bytes()
    parsed = parse_dsn(captured)
    returned = as_bytes(parsed.returned) if parsed.returned is not None else parsed.returned_headers.encode()
    original = returned.replace(b"\r\n", b"\n").split(b"\n", 1)[1]  # without the Return-Path bounce added
    message_id = f"<{date:%Y%m%d%H%M%S}.{bounce_id}@mail.example.org>"
    ours = render_dsn(parsed.report, original, date=date, myorigin="example.org", ret=ret, message_id=message_id,
                      **options)  # fmt: skip
    received = local_received("mail.example.org", bounce_id, date).replace("\n", "\r\n")
    assert b"Received: " + received.encode() + b"\r\n" + ours == captured


def test_postfix_delay_report_reads_back(postfix_dir):
    report = parse_dsn((postfix_dir / "dsn-delayed.eml").read_bytes()).report
    assert report.kind is ReportKind.DELAY
    (rcpt,) = report.recipients
    assert rcpt.action is Action.DELAYED and rcpt.status == "4.4.1" and rcpt.diagnostic_type == "X-Postfix"
    assert rcpt.will_retry_until == datetime(2026, 11, 30, 0, 33, 47, tzinfo=UTC)


def test_failure_round_trip_with_full_return():
    report = _report(ReportKind.FAILURE, _failed(), _failed("carol@example.net"), envid="QQ+314159")
    msg = build_dsn(report, ORIGINAL, date=ARRIVAL + timedelta(seconds=5), myorigin="example.org")
    parsed = parse_dsn(as_bytes(msg))
    assert parsed.report == report
    assert parsed.returned is not None and parsed.returned["Subject"] == "lunch"
    assert parsed.returned["Return-Path"] == "<alice@example.org>"
    assert "I'm sorry to have to inform you" in parsed.notification


def test_content_types_and_headers_seen_by_the_stdlib():
    report = _report(ReportKind.FAILURE, _failed())
    wire = render_dsn(report, ORIGINAL, date=ARRIVAL, myorigin="example.org", ret=Ret.HDRS)
    msg = email.message_from_bytes(wire, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert [p.get_content_type() for p in msg.iter_parts()] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers",
    ]  # fmt: skip
    assert msg["From"] == "Mail Delivery System <MAILER-DAEMON@example.org>"
    assert msg["Subject"] == "Undelivered Mail Returned to Sender" and msg["To"] == "alice@example.org"
    assert msg["Auto-Submitted"] == "auto-replied"
    status = list(msg.iter_parts())[1].get_payload()
    assert status[0]["Reporting-MTA"] == "dns; mail.example.org"
    assert status[1]["Diagnostic-Code"].startswith("smtp; 550 5.1.1 <bob@example.net>:")
    assert b"At noon?" not in wire  # headers only


def test_delay_warning_returns_headers_and_says_when_retries_end():
    outcome = RecipientStatus("bob@example.net", DeliveryStatus.DEFERRED, "4.4.1",
                              "connect to mx.example.net[192.0.2.20]:25: Connection timed out")  # fmt: skip
    retry_until = ARRIVAL + timedelta(days=5)
    report = _report(ReportKind.DELAY, dsn_recipient(outcome, will_retry_until=retry_until))
    msg = build_dsn(report, ORIGINAL, date=ARRIVAL + timedelta(hours=4), myorigin="example.org", ret=Ret.FULL)
    parsed = parse_dsn(msg)
    assert parsed.report == report and parsed.returned is None and parsed.returned_headers is not None
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    assert "for more than 4 hour(s)" in parsed.notification and "until it is 5 day(s) old" in parsed.notification


def test_success_of_a_relayed_message():
    outcome = RecipientStatus.from_reply(
        "bob@example.net", R.queued("9F1E2D3C4B"), host="mx.example.net", address="192.0.2.20", command="end of DATA"
    )
    block = dsn_recipient(outcome)
    assert block.action is Action.RELAYED and block.remote_mta == "mx.example.net"
    assert block.reason == "delivery via mx.example.net[192.0.2.20]:25: 250 2.0.0 Ok: queued as 9F1E2D3C4B"
    msg = build_dsn(_report(ReportKind.SUCCESS, block), ORIGINAL, date=ARRIVAL, myorigin="example.org")
    assert msg["Subject"] == "Successful Mail Delivery Report"
    assert "Message Headers" in msg.as_string()


def test_local_delivery_and_alias_expansion_are_shown():
    outcome = RecipientStatus("bob@example.org", DeliveryStatus.SENT, "2.0.0", "delivered to mailbox",
                              relay="local", original="team@example.org",
                              rcpt_dsn=RcptDsn((Notify.SUCCESS,)))  # fmt: skip
    block = dsn_recipient(outcome)
    assert block.action is Action.DELIVERED and block.remote_mta is None
    assert block.original_recipient == "rfc822;team@example.org" and block.expanded_from == "team@example.org"
    text = render_dsn(_report(ReportKind.SUCCESS, block), ORIGINAL, date=ARRIVAL, myorigin="example.org")
    assert b"<bob@example.org> (expanded from <team@example.org>): delivered to mailbox" in text


def test_orcpt_is_reported_as_the_original_recipient():
    outcome = RecipientStatus("bob@example.net", DeliveryStatus.BOUNCED, "5.1.1", "unknown user",
                              rcpt_dsn=RcptDsn(None, "Bob+X@example.net"))  # fmt: skip
    assert dsn_recipient(outcome).original_recipient == "rfc822;Bob+X@example.net"


def test_postfix_line_wrap():
    text = "Diagnostic-Code: X-Postfix; connect to 127.0.0.1[127.0.0.1]:10027: Connection refused"
    assert wrap(text) == "Diagnostic-Code: X-Postfix; connect to 127.0.0.1[127.0.0.1]:10027: Connection\n    refused"
    assert all(len(line) <= 79 for line in wrap("word " * 60).split("\n"))
    assert wrap("x" * 100) == "x" * 100


def test_non_dsn_is_refused():
    with pytest.raises(ValueError):
        parse_dsn(parse_message(b"From: a@example.org\r\n\r\nhello\r\n"))


def test_a_foreign_minimal_dsn_is_read():
    """A DSN from another MTA (no X-Postfix fields, no notification paragraphs) still parses."""
    foreign = (
        b"From: mailer-daemon@mx.example.net\r\nTo: alice@example.org\r\nSubject: failure notice\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b1\r\n\r\n"
        b"--b1\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n"
        b"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
        b"Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        b"Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n\r\n--b1--\r\n"
    )
    report = parse_dsn(foreign).report
    assert report.kind is ReportKind.FAILURE and report.reporting_mta == "mx.example.net"
    (rcpt,) = report.recipients
    assert (rcpt.final_recipient, rcpt.status, rcpt.diagnostic) == (
        "bob@example.net",
        "5.2.2",
        "552 5.2.2 Mailbox full",
    )
    assert report.arrival_date is None and rcpt.reason == "552 5.2.2 Mailbox full"
