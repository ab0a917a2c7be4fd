"""SMTP replies: wire form, classes, parsing, and the catalogue checked against a real Postfix 3.7."""

from __future__ import annotations

import re

import pytest

from mailsim.mail import reply as R
from mailsim.mail.enhanced import ENHANCED_MEANING, explain, is_enhanced_code
from mailsim.mail.reply import Reply, classify


def test_single_line_reply_reads_like_postfix():
    assert str(R.SENDER_OK) == "250 2.1.0 Ok"
    assert str(R.RCPT_OK) == "250 2.1.5 Ok"
    assert str(R.queued("4dYF2K0b6R")) == "250 2.0.0 Ok: queued as 4dYF2K0b6R"


def test_multi_line_reply_uses_dash_continuation_and_repeats_the_enhanced_code():
    reply = Reply(550, "5.7.1", "first line\nsecond line")
    assert str(reply) == "550-5.7.1 first line\r\n550 5.7.1 second line"
    assert reply.oneline() == "550-5.7.1 first line 550 5.7.1 second line"


def test_reply_without_enhanced_code():
    assert str(R.START_MAIL_INPUT) == "354 End data with <CR><LF>.<CR><LF>"
    assert str(R.helo_ok("mail.example.org")) == "250 mail.example.org"


@pytest.mark.parametrize(
    ("code", "kind"), [(250, "success"), (354, "intermediate"), (451, "transient"), (554, "permanent")]
)
def test_first_digit_classifies_the_reply(code, kind):
    assert classify(code) == kind


def test_classify_refuses_a_non_reply_code():
    with pytest.raises(ValueError):
        classify(199)


def test_enhanced_class_must_match_the_reply_code():
    with pytest.raises(ValueError):
        Reply(550, "4.1.1", "mismatch")
    with pytest.raises(ValueError):
        Reply(250, "2.x.0", "bad syntax")


def test_parse_reads_a_multi_line_reply_back():
    wire = "550-5.7.26 This mail is unauthenticated,\r\n550 5.7.26 which poses a security risk.\r\n"
    reply = Reply.parse(wire)
    assert reply == Reply(550, "5.7.26", "This mail is unauthenticated,\nwhich poses a security risk.")
    assert Reply.parse(str(reply)) == reply


def test_parse_keeps_text_that_only_looks_like_an_enhanced_code():
    assert Reply.parse("250 4.0.0 odd") == Reply(250, None, "4.0.0 odd")
    with pytest.raises(ValueError):
        Reply.parse("hello")


def test_remote_reason_is_postfix_smtp_wording():
    text = R.remote_reason("mx.example.net", "192.0.2.7", R.user_unknown("bob@example.net"), "RCPT TO")
    assert text == (
        "host mx.example.net[192.0.2.7] said: 550 5.1.1 <bob@example.net>: Recipient address rejected: "
        "User unknown in local recipient table (in reply to RCPT TO command)"
    )


def test_named_replies_from_the_brief():
    assert str(R.relay_denied("x@y")) == "554 5.7.1 <x@y>: Relay access denied"
    assert str(R.INSUFFICIENT_STORAGE) == "452 4.3.1 Insufficient system storage"
    assert str(R.MESSAGE_TOO_BIG) == "552 5.3.4 Message size exceeds fixed limit"
    assert str(R.auth_failed()) == "535 5.7.8 Error: authentication failed: authentication failure"
    assert str(R.STARTTLS_REQUIRED) == "530 5.7.0 Must issue a STARTTLS command first"
    assert str(R.NEED_RCPT) == "503 5.5.1 Error: need RCPT command"
    assert str(R.timeout_exceeded("mx.example")) == "421 4.4.2 mx.example Error: timeout exceeded"
    assert str(R.null_mx("a@b.example", "b.example")).startswith("556 5.1.10 <a@b.example>: Recipient address")


def _observed_replies(postfix_dir) -> set[str]:
    text = (postfix_dir / "smtpd-replies.txt").read_text()
    return {m.group(1).strip() for m in re.finditer(r"^\s*(?:S:)?\s*(\d{3}[ -].*)$", text, re.MULTILINE)}


def test_catalogue_texts_equal_what_real_postfix_said(postfix_dir):
    observed = _observed_replies(postfix_dir)
    queued = next(line for line in observed if "queued as" in line).rsplit(" ", 1)[1]
    catalogue = [
        R.greeting("mail.example.org"), R.BYE, R.OK, R.SENDER_OK, R.RCPT_OK, R.queued(queued),
        R.START_MAIL_INPUT, R.helo_ok("mail.example.org"), R.TOO_MANY_RECIPIENTS, R.COMMAND_NOT_RECOGNIZED,
        R.BAD_RECIPIENT_SYNTAX, R.BAD_ENVID_SYNTAX, R.BAD_RET_SYNTAX, R.BAD_SIZE_SYNTAX, R.BAD_NOTIFY_SYNTAX,
        R.BAD_ORCPT_SYNTAX, R.SYNTAX_MAIL, R.SYNTAX_RCPT, R.syntax("RSET"), R.SYNTAX_HELO, R.SYNTAX_EHLO,
        R.AUTH_NOT_ENABLED, R.NEED_MAIL, R.NEED_RCPT, R.NESTED_MAIL, R.need_fqdn("joe", role="Sender address"),
        R.STARTTLS_REQUIRED, R.user_unknown("nosuchuser@mail.example.org"), R.MESSAGE_FILE_TOO_BIG,
        R.MESSAGE_TOO_BIG, R.NO_VALID_RECIPIENTS, R.relay_denied("x@example.org"),
        R.unsupported_option("BODY=9BIT"), R.timeout_exceeded("mail.example.org"),
    ]  # fmt: skip
    missing = [str(reply) for reply in catalogue if str(reply) not in observed]
    assert missing == []


def test_enhanced_meanings_cover_rfc_3463_and_explain_a_code():
    assert ENHANCED_MEANING["1.1"] == "Bad destination mailbox address"
    assert ENHANCED_MEANING["7.1"] == "Delivery not authorized, message refused"
    assert explain("4.4.1") == "4.4.1 Persistent Transient Failure: No answer from host"
    assert "not registered" in explain("5.7.99")
    assert R.user_unknown("a@b").explain().startswith("5.1.1 Permanent Failure")
    assert is_enhanced_code("5.1.10") and not is_enhanced_code("5.1")


def test_every_catalogue_constant_is_a_valid_reply():
    constants = [value for value in vars(R).values() if isinstance(value, Reply)]
    assert len(constants) > 30
    assert all(200 <= reply.code <= 599 and "\n" not in reply.text for reply in constants)
