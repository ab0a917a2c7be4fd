"""Submission on 587 and relay control on 25, end to end in the default scenario (the seed's MSA story)."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from mailsim.api import Result, run

DEFAULT = Path(__file__).resolve().parent.parent.parent / "scenarios" / "default"


@pytest.fixture(scope="module")
def result() -> Result:
    return run(DEFAULT, until=300)


def _client_lines(result: Result, host: str) -> list[str]:
    rows = result.frame("transcripts")
    rows = rows[(rows.host == host) & (rows.side == "client")]
    return [f"{d}: {t}" for d, t in zip(rows.direction, rows.text)]


def test_submission_uses_starttls_then_auth_on_587(result):
    lines = _client_lines(result, "laptop.example.org")
    commands = [line for line in lines if line.startswith("C: ")]
    assert commands[:3] == ["C: EHLO laptop.example.org", "C: STARTTLS", "C: EHLO laptop.example.org"]
    assert any(line.startswith("C: AUTH PLAIN") for line in commands)
    assert "S: 235 2.7.0 Authentication successful" in lines


def test_the_msa_grooms_a_bare_message(result):
    box = mailbox.mbox(result.world.files / "hosts/mx.example.net/var/mail/bob")
    [sloppy] = [m for m in box if m["Subject"] == "Sent by a sloppy mail program"]
    assert sloppy["From"] == "alice@example.org"  # unqualified From completed with $myorigin
    assert sloppy["Message-Id"].endswith("@mail.example.org>")  # <YYYYMMDDhhmmss.QUEUEID@myhostname>
    assert sloppy["Date"].endswith("+0000 (UTC)")
    received = sloppy.get_all("Received")
    assert "by mail.example.org (Postfix) with ESMTPSA id" in " ".join(received[-1].split())
    assert "by mx.example.net (Postfix) with ESMTP id" in " ".join(received[0].split())


def test_port_25_refuses_relaying_for_a_foreign_client_but_takes_local_mail(result):
    rejects = result.trace.select("reject", host="mail.example.org")
    relay = [r for r in rejects if r.get("recipient") == "someone@example.net"]
    assert [r.get("reply") for r in relay] == ["454 4.7.1 <someone@example.net>: Relay access denied"]
    alice = mailbox.mbox(result.world.files / "hosts/mail.example.org/var/mail/alice")
    assert any(m["Subject"] == "Relay test" for m in alice)


def test_the_user_agent_records_per_recipient_outcomes(result):
    submits = result.trace.select("submit", service="ua")
    spam = next(r for r in submits if r.get("sender") == "mallory@example.com")
    assert spam.get("refused") == ["someone@example.net"] and spam.get("outcome") == "completed"


def test_a_bounce_reaches_the_sender_as_a_dsn(result):
    alice = mailbox.mbox(result.world.files / "hosts/mail.example.org/var/mail/alice")
    [dsn] = [m for m in alice if m["Subject"] == "Undelivered Mail Returned to Sender"]
    assert dsn.get_content_type() == "multipart/report"
    assert dsn["Return-Path"] == "<>" or dsn.get_unixfrom().startswith("From MAILER-DAEMON")


def test_same_seed_same_trace():
    assert run(DEFAULT, until=120).digest == run(DEFAULT, until=120).digest
