"""The envelope and its ESMTP parameters; refusals equal what a real Postfix 3.7 said for the same input."""

from __future__ import annotations

import re

import pytest

from mailsim.mail import reply as R
from mailsim.mail.envelope import (
    Body,
    Envelope,
    MailParams,
    Notify,
    RcptDsn,
    Ret,
    parse_mail_options,
    parse_notify,
    parse_rcpt_options,
)
from mailsim.mail.reply import Reply


def test_mail_parameters_are_parsed_and_xtext_decoded():
    params = parse_mail_options(["SIZE=1234", "BODY=8bitmime", "RET=hdrs", "ENVID=QQ+2B314159", "SMTPUTF8"])
    assert params == MailParams(size=1234, body=Body.EIGHT_BIT_MIME, smtputf8=True, ret=Ret.HDRS, envid="QQ+314159")


def test_declared_size_over_the_limit_is_refused_at_mail_time():
    assert parse_mail_options(["SIZE=10240001"], size_limit=10240000) is R.MESSAGE_TOO_BIG
    assert isinstance(parse_mail_options(["SIZE=10240001"], size_limit=0), MailParams)  # 0: no limit


def test_dsn_and_smtputf8_parameters_are_refused_when_not_offered():
    assert parse_mail_options(["RET=FULL"], dsn_enabled=False) == R.unsupported_option("RET=FULL")
    assert parse_mail_options(["SMTPUTF8"], smtputf8_enabled=False) == R.unsupported_option("SMTPUTF8")
    assert parse_rcpt_options(["NOTIFY=NEVER"], dsn_enabled=False) == R.unsupported_option("NOTIFY=NEVER")


def test_a_parameter_given_twice_is_refused():
    assert isinstance(parse_mail_options(["SIZE=1", "SIZE=2"]), Reply)


def test_notify_keywords():
    assert parse_notify("failure,success") == (Notify.SUCCESS, Notify.FAILURE)
    assert parse_notify("NEVER") == (Notify.NEVER,)
    for bad in ["", "NEVER,DELAY", "SOMETIMES", "FAILURE,FAILURE"]:
        with pytest.raises(ValueError):
            parse_notify(bad)


def test_rcpt_parameters_carry_notify_and_the_original_recipient():
    dsn = parse_rcpt_options(["NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;Bob+2BX@example.net"])
    assert dsn == RcptDsn((Notify.SUCCESS, Notify.DELAY), "Bob+X@example.net", "rfc822")
    assert dsn.wants(Notify.DELAY) and not dsn.wants(Notify.FAILURE)
    assert RcptDsn().wants(Notify.FAILURE) and not RcptDsn().wants(Notify.SUCCESS)  # RFC 3461 default
    assert dsn.options() == ["NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;Bob+2BX@example.net"]


def _transcript_pairs(postfix_dir, session: str) -> list[tuple[str, str]]:
    text = (postfix_dir / "smtpd-replies.txt").read_text()
    block = text.split(f"=== {session}\n", 1)[1].split("===", 1)[0]
    return re.findall(r"^C: (.*)\n  S: (.*)$", block, re.MULTILINE)


@pytest.mark.parametrize("session", ["mail params", "mail params2"])
def test_mail_parameter_refusals_match_real_postfix(postfix_dir, session):
    checked = 0
    for command, observed in _transcript_pairs(postfix_dir, session):
        if not command.startswith("MAIL FROM:<a@example.com> "):
            continue
        options = command.split(" ")[2:]
        result = parse_mail_options(options, size_limit=2000)  # the oracle ran with message_size_limit = 2000
        assert str(result) == observed, command
        checked += 1
    assert checked >= 3


def test_rcpt_parameter_refusals_match_real_postfix(postfix_dir):
    checked = 0
    for command, observed in _transcript_pairs(postfix_dir, "rcpt params"):
        if command.startswith("RCPT TO:<x@example.org> "):
            assert str(parse_rcpt_options(command.split(" ")[2:])) == observed, command
            checked += 1
    assert checked == 5


def test_envelope_from_smtp_keeps_per_recipient_dsn():
    envelope = Envelope.from_smtp(
        "alice@example.org",
        ["SIZE=900", "RET=HDRS"],
        [("bob@example.net", ["NOTIFY=NEVER"]), ("carol@Example.NET", [])],
    )
    assert isinstance(envelope, Envelope)
    assert envelope.rcpt_tos == ("bob@example.net", "carol@Example.NET")
    assert envelope.dsn_for("bob@example.net").notify == (Notify.NEVER,)
    assert envelope.dsn_for(1) == RcptDsn()
    assert envelope.recipient_domains == ("example.net",)
    assert envelope.esmtp_mail_options() == ["SIZE=900", "RET=HDRS"]


def test_envelope_from_smtp_returns_the_first_refusal():
    bad = Envelope.from_smtp("a@example.org", [], [("b@example.org", ["NOTIFY=BOGUS"])])
    assert bad is R.BAD_NOTIFY_SYNTAX


def test_null_sender_envelope_is_a_bounce():
    assert Envelope("", ("alice@example.org",)).is_bounce
    assert not Envelope("bob@example.org").is_bounce


def test_envelope_is_immutable_and_checks_alignment():
    envelope = Envelope("a@example.org", ["b@example.org"])
    assert envelope.rcpt_tos == ("b@example.org",)
    with pytest.raises(AttributeError):
        envelope.mail_from = "x"  # type: ignore[misc]
    with pytest.raises(ValueError):
        Envelope("a@example.org", ("b@example.org",), rcpt_dsn=(RcptDsn(), RcptDsn()))
    grown = envelope.add_recipient("c@example.org", ["NOTIFY=DELAY"], RcptDsn((Notify.DELAY,)))
    assert grown.rcpt_tos == ("b@example.org", "c@example.org") and envelope.rcpt_tos == ("b@example.org",)
