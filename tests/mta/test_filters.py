"""Content filters as milters: antivirus, spam score, DLP on outgoing mail, forgery signals, footers."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from mailsim.core.errors import ConfigError
from mailsim.mta.filters.antivirus import EICAR, ClamavMilter
from mailsim.mta.filters.disclaimer import DisclaimerMilter
from mailsim.mta.filters.dlp import DlpMilter
from mailsim.mta.filters.forgery import ForgeryMilter
from mailsim.mta.filters.spam import SpamassMilter
from mailsim.mta.milters.base import MilterAction, insert_headers
from mailsim.policy.auth.dkim import sign_message, verify
from mailsim.policy.auth.keys import KeyRing
from tests.mta.milter_worlds import MESSAGE, conf, context, message, records, run, world

ATTACHED = (
    b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: see attachment\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n'
    b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(EICAR)
    + b"--b--\r\n"
)


def test_clamav_finds_eicar_in_a_base64_attachment_and_does_what_on_infected_says() -> None:
    reject = ClamavMilter(context(), conf("MilterSocket inet:7357@localhost\nOnInfected Reject\nRejectMsg Virus: %v\n"))
    verdict = reject.end_of_message(message(ATTACHED))
    assert verdict.action is MilterAction.REJECT and str(verdict.reply) == "550 5.7.1 Virus: Win.Test.EICAR_HDB-1"
    quarantine = ClamavMilter(context(), conf("MilterSocket x\nAddHeader Replace\n"))
    held = quarantine.end_of_message(message(ATTACHED))
    assert held.action is MilterAction.QUARANTINE
    assert "X-Virus-Status: Infected (Win.Test.EICAR_HDB-1)" in held.headers
    clean = quarantine.end_of_message(message())
    assert clean.action is MilterAction.CONTINUE and "X-Virus-Status: Clean" in clean.headers
    assert reject.cost(20_000_000) == pytest.approx(0.05 + 1.0)  # ProcessingTime plus the size at ScanRate


def test_clamav_rejects_eicar_at_submission_and_the_user_agent_is_told(tmp_path: Path) -> None:
    clamav = "MilterSocket inet:7357@localhost\nOnInfected Reject\nRejectMsg Virus found: %v\n"
    spec = world(tmp_path, body=EICAR.decode(), sender={"main.cf": "smtpd_milters = inet:localhost:7357\n",
                                                        "clamav-milter.conf": clamav})  # fmt: skip
    result = run(spec)
    (submit,) = records(result, "submit", service="ua")
    assert submit.get("reply") == "550 5.7.1 Virus found: Win.Test.EICAR_HDB-1"
    (scan,) = records(result, "milter", service="clamav-milter")
    assert scan.get("virus") == "Win.Test.EICAR_HDB-1" and scan.host == "mail.example.org"


def test_spam_score_sums_the_tests_and_writes_spamassassin_headers() -> None:
    options = "Socket x\nRequiredScore 5\nRejectScore 9\nScore SPF_FAIL 3\nRule LOTTERY 4.0 body /you have won/i\n"
    spam = SpamassMilter(context(), conf(options))
    failed = b"Received-SPF: Fail (mailfrom) identity=mailfrom; client-ip=1.2.3.4\r\n"
    lottery = MESSAGE.replace(b"lunch at noon?", b"You have WON a prize!")
    verdict = spam.end_of_message(message(failed + lottery))
    assert verdict.headers[0] == "X-Spam-Flag: YES"
    assert "X-Spam-Status: Yes, score=7.0 required=5.0 tests=SPF_FAIL,LOTTERY autolearn=no" in verdict.headers
    assert spam.end_of_message(message(lottery)).headers[-1].startswith("X-Spam-Status: No, score=4.0")
    worse = failed + b"X-Forgery-Signals: from-not-aligned\r\n" + lottery
    spam_reject = SpamassMilter(context(), conf(options + "Score FROM_NOT_ALIGNED 2\n"))
    assert str(spam_reject.end_of_message(message(worse)).reply) == "550 5.7.1 Blocked by SpamAssassin"
    with pytest.raises(ConfigError, match="Rule"):
        SpamassMilter(context(), conf("Rule BROKEN 1.0 body no-slashes\n"))


def test_dlp_blocks_card_numbers_holds_or_flags_on_outgoing_mail_only() -> None:
    dlp = DlpMilter(context(), conf("Socket x\nRule CARD block card\nRule SECRET flag /\\bconfidential\\b/i\n"
                                    "Rule IBAN hold /CH\\d{2}/\n"))  # fmt: skip
    card = MESSAGE.replace(b"lunch at noon?", b"my card: 4111 1111 1111 1111")
    blocked = dlp.end_of_message(message(card, sasl="alice@example.org"))
    assert blocked.action is MilterAction.REJECT
    assert str(blocked.reply) == "550 5.7.1 Message blocked by data loss prevention policy (CARD)"
    not_a_card = MESSAGE.replace(b"lunch at noon?", b"order 4111 1111 1111 1112")  # fails the Luhn check
    assert dict(dlp.end_of_message(message(not_a_card, sasl="alice")).results)["dlp"] == "clean"
    flagged = dlp.end_of_message(message(MESSAGE.replace(b"Lunch?", b"Confidential"), sasl="alice"))
    assert flagged.headers == ("X-DLP: flagged (SECRET)",) and flagged.action is MilterAction.CONTINUE
    held = dlp.end_of_message(message(MESSAGE + b"IBAN CH93 0076\r\n", smtpd=False))
    assert held.action is MilterAction.QUARANTINE
    inbound = dlp.end_of_message(message(card, client="203.0.113.9"))  # from outside: not DLP's business
    assert dict(inbound.results)["dlp"] == "skipped"


def test_forgery_signals_say_when_nothing_authenticated_the_from_domain() -> None:
    forgery = ForgeryMilter(context(), conf("Socket x\n"))
    spf_fail = b"Received-SPF: Fail (mailfrom) identity=mailfrom; client-ip=198.51.100.7\r\n"
    verdict = forgery.end_of_message(message(spf_fail + MESSAGE))
    assert verdict.headers == ("X-Forgery-Signals: from-not-aligned (header.from=example.org spf=fail "
                               "smtp.mailfrom=example.org dkim.pass=none)",)  # fmt: skip
    dkim_pass = b"Authentication-Results: mx.example.net; dkim=pass header.d=example.org\r\n"
    assert forgery.end_of_message(message(dkim_pass + spf_fail + MESSAGE)).headers == ()
    spf_pass = b"Received-SPF: Pass (mailfrom) identity=mailfrom\r\n"
    lure = MESSAGE.replace(b"Alice <alice@example.org>", b'"support@bank.example" <alice@example.org>')
    signals = forgery.signals(message(spf_pass + lure + b""))
    assert signals == ["display-name-address (support@bank.example)"]


def test_a_footer_breaks_dkim_and_multipart_messages_are_left_alone() -> None:
    ring = KeyRing()
    key = ring.get("example.org", "mail")
    signed = sign_message(MESSAGE, key)
    footer = DisclaimerMilter(context(), conf("Socket x\nText --\nText via relay.example\n"))
    verdict = footer.end_of_message(message(signed))
    edited = signed.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" + (verdict.body or b"")
    assert edited.endswith(b"lunch at noon?\r\n--\r\nvia relay.example\r\n")

    def dns(name: str, rdtype: str) -> object:
        from types import SimpleNamespace

        found = name == key.record_name and rdtype == "TXT"
        return SimpleNamespace(
            status="NOERROR" if found else "NXDOMAIN", values=(key.txt_record.encode(),) if found else ()
        )

    assert verify(signed, dns)[0].result == "pass"
    assert verify(edited, dns)[0].reason == "body hash did not verify"
    assert footer.end_of_message(message(ATTACHED)).body is None
    with pytest.raises(ConfigError, match="Text"):
        DisclaimerMilter(context(), conf("Socket x\n"))
    assert insert_headers(b"A: 1\r\n\r\n", ("B: 2",)) == b"B: 2\r\nA: 1\r\n\r\n"
