"""Message content: builders, parsing, damage, Message-ID, dates, line ends, header prepending."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from mailsim.core import Simulation
from mailsim.mail.message import (
    as_bytes,
    build_message,
    fold_long_lines,
    format_date,
    make_message_id,
    message_defects,
    message_size,
    parse_date,
    parse_message,
    postfix_date,
    prepend_header,
    raw_header_values,
    split_header_body,
)

WHEN = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


def test_plain_message_is_rfc5322_with_crlf():
    msg = build_message("alice@example.org", ["bob@example.net", "carol@example.net"], "Hi", "Hello Bob.\n", date=WHEN)
    wire = as_bytes(msg)
    assert wire.startswith(b"From: alice@example.org\r\nTo: bob@example.net, carol@example.net\r\nSubject: Hi\r\n")
    assert b"Date: Mon, 05 Jan 2026 09:00:00 +0000\r\n" in wire
    assert b"\n" not in wire.replace(b"\r\n", b"")
    assert message_size(msg) == len(wire)


def test_unix_line_ends_on_request():
    msg = build_message("a@example.org", "b@example.org", "s", "body\n")
    assert b"\r" not in as_bytes(msg, linesep="\n")


def test_date_and_message_id_are_left_to_cleanup_unless_given():
    msg = build_message("a@example.org", "b@example.org", "s", "body\n")
    assert msg["Date"] is None and msg["Message-ID"] is None


def test_mime_message_with_html_and_attachment():
    msg = build_message(
        "a@example.org", "b@example.org", "report", "see attached\n",
        html="<p>see attached</p>", attachments=[("data.csv", b"x,y\n1,2\n", "text/csv"),
                                                 ("blob.bin", bytes(range(256)), "application/octet-stream")],
        cc="c@example.org", headers=[("X-Mailer", "mailsim")],
    )  # fmt: skip
    again = parse_message(as_bytes(msg))
    assert again.get_content_type() == "multipart/mixed"
    types = [part.get_content_type() for part in again.walk()]
    assert types == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/csv",
                     "application/octet-stream"]  # fmt: skip
    blob = next(p for p in again.iter_attachments() if p.get_filename() == "blob.bin")
    assert blob.get_content() == bytes(range(256))
    assert again["Cc"] == "c@example.org" and again["X-Mailer"] == "mailsim"
    assert message_defects(again) == []


def test_the_stdlib_agrees_the_built_message_is_sound():
    msg = build_message("Jörg <joerg@example.org>", "b@example.org", "Grüße", "Schöne Grüße\n", date=WHEN)
    reparsed = email.message_from_bytes(as_bytes(msg), policy=email.policy.default)
    assert str(reparsed["Subject"]) == "Grüße"
    assert reparsed.get_content().strip() == "Schöne Grüße"


def test_damaged_message_is_reported():
    damaged = (
        b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=XYZ\r\n\r\n"
        b"--XYZ\r\nContent-Type: text/plain\r\n\r\nno closing boundary\r\n"
    )
    defects = message_defects(parse_message(damaged))
    assert any("CloseBoundaryNotFound" in defect for defect in defects)
    assert message_defects(parse_message(b"From: a@example.org\r\n\r\nfine\r\n")) == []


def test_broken_address_header_is_reported():
    defects = message_defects(parse_message(b"From: <<<@@@\r\nTo: b@example.org\r\n\r\nbody\r\n"))
    assert any("header From" in defect for defect in defects)


def test_message_id_like_postfix_cleanup():
    assert make_message_id(7, "mail.example.org", when=WHEN, queue_id="3450220C3C0") == (
        "<20260105090000.3450220C3C0@mail.example.org>"
    )


def test_message_id_is_deterministic_from_the_simulation_and_unique_within_a_run():
    first, second = Simulation(seed=1), Simulation(seed=1)
    ids = [make_message_id(first, "example.org") for _ in range(3)]
    assert ids == [make_message_id(second, "example.org") for _ in range(3)]
    assert len(set(ids)) == 3 and ids[0].startswith("<20260105090000.")


def test_message_id_from_a_random_stream_needs_a_time():
    rng = np.random.default_rng(3)
    assert make_message_id(rng, "example.org", when=WHEN).endswith("@example.org>")
    with pytest.raises(ValueError):
        make_message_id(rng, "example.org")


def test_dates_rfc5322_and_postfix_forms():
    assert format_date(WHEN) == "Mon, 05 Jan 2026 09:00:00 +0000"
    assert postfix_date(WHEN) == "Mon,  5 Jan 2026 09:00:00 +0000 (UTC)"  # Postfix 3.7 mail_date(): %e
    cet = WHEN.astimezone(timezone(timedelta(hours=1)))
    assert postfix_date(cet) == "Mon,  5 Jan 2026 10:00:00 +0100 (+0100)"
    assert parse_date(postfix_date(WHEN)) == WHEN
    assert parse_date("not a date") is None


def test_prepended_header_keeps_postfix_folding_and_other_headers_stay_byte_identical():
    original = b"Received: from x (y [192.0.2.1])\r\n\tby z (Postfix) with ESMTP id A1;\r\n\tMon, 5 Jan 2026\r\nSubject: s\r\n\r\nbody\r\n"  # noqa: E501
    msg = parse_message(original)
    prepend_header(msg, "Received", "from a (b [192.0.2.2])\n\tby c (Postfix) with ESMTP id B2;\n\tMon, 5 Jan 2026")
    wire = as_bytes(msg)
    assert wire.endswith(original)
    assert wire.startswith(b"Received: from a (b [192.0.2.2])\r\n\tby c (Postfix) with ESMTP id B2;\r\n\tMon, 5 Jan")
    assert len(raw_header_values(msg, "received")) == 2


def test_split_header_body():
    assert split_header_body(b"A: 1\r\nB: 2\r\n\r\nbody\r\n") == (b"A: 1\r\nB: 2\r\n", b"body\r\n")
    assert split_header_body(b"A: 1\n\nbody") == (b"A: 1\n", b"body")
    assert split_header_body(b"\r\nbody") == (b"", b"body")


def test_fold_long_lines_follows_smtp_text_out():
    assert fold_long_lines(b"abcdefghij\r\nxy\r\n", 4) == b"abcd\r\n efg\r\n hij\r\nxy\r\n"
    assert fold_long_lines(b"abcd\r\n", 4) == b"abcd\r\n"  # exactly the limit: unchanged
    assert fold_long_lines(b"abcde\n", 4) == b"abcd\n e\n"  # the file's own line ending is kept
    assert fold_long_lines(b"abcdefghij\r\n", 0) == b"abcdefghij\r\n"  # 0: no limit


def test_fold_long_lines_finds_one_long_line_among_many_short_ones():
    short = b"x" * 9 + b"\r\n"
    content = short * 50 + b"y" * 12 + b"\r\n" + short * 50
    assert fold_long_lines(content, 10) == short * 50 + b"y" * 10 + b"\r\n yy\r\n" + short * 50
    at_limit = b"x" * 10 + b"\r" + b"x" * 10 + b"\n"  # a bare CR ends a line too: two lines of 10
    assert fold_long_lines(at_limit, 10) is at_limit
