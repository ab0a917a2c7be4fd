"""opendkim, openarc, opendmarc and postsrsd beside Postfix: who signs, who checks, what they decide."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from mailsim.core.errors import ConfigError
from mailsim.dns import ZoneSet
from mailsim.mta.milters.base import MilterAction, insert_headers
from mailsim.mta.milters.keys import publish_dkim_keys, signing_key
from mailsim.mta.milters.openarc import OpenArc
from mailsim.mta.milters.opendkim import OpenDkim
from mailsim.mta.milters.opendmarc import OpenDmarc
from mailsim.mta.milters.postsrsd import postsrsd_tables
from mailsim.policy.auth.keys import KeyRing
from mailsim.policy.auth.srs import is_srs
from tests.mta.milter_worlds import MESSAGE, NOW, conf, context, mailbox_messages, message, records, run, world

SIGNER = "Mode sv\nDomain example.org\nSelector mail\nSocket inet:8891@localhost\nAuthservID mail.example.org\n"


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing()


def zones(ring: KeyRing, dmarc: str | None = "v=DMARC1; p=reject") -> ZoneSet:
    found = ZoneSet()
    found.add_host("mail.example.org", ["192.0.2.10"])
    found.add_record("example.org", "MX", "10 mail.example.org")
    found.add_record("example.org", "TXT", "v=spf1 mx -all")
    for key in (ring.get("example.org", "mail"), ring.get("relay.example", "arc")):
        found.add_record(key.record_name, "TXT", key.txt_record)
    if dmarc:
        found.add_record("_dmarc.example.org", "TXT", dmarc)
    return found


def signed(ring: KeyRing) -> bytes:
    signer = OpenDkim(context(zones(ring), ring=ring), conf(SIGNER))
    verdict = signer.end_of_message(message(sasl="alice@example.org", client="198.51.100.50"))
    return insert_headers(MESSAGE, verdict.headers)


def test_opendkim_signs_mail_from_an_authenticated_user_of_its_domain(ring: KeyRing) -> None:
    signer = OpenDkim(context(zones(ring), ring=ring), conf(SIGNER))
    verdict = signer.end_of_message(message(sasl="alice@example.org", client="198.51.100.50"))
    assert verdict.headers[0].startswith("DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.org;")
    assert f"t={int(NOW)}" in verdict.headers[0]  # the simulated clock, not the machine's
    assert verdict.reason == "DKIM-Signature field added (s=mail, d=example.org)"


def test_opendkim_verifies_what_it_does_not_sign(ring: KeyRing) -> None:
    verifier = OpenDkim(context(zones(ring), ring=ring), conf(SIGNER))
    from_outside = verifier.end_of_message(message(signed(ring), client="203.0.113.9"))
    assert from_outside.headers[0].startswith("Authentication-Results: mail.example.org; dkim=pass")
    foreign = MESSAGE.replace(b"alice@example.org", b"carol@example.com")
    assert verifier.end_of_message(message(foreign, sasl="carol@example.com")).headers == ()  # not its domain


def test_a_malformed_dkim_signature_is_a_result_not_a_crash(ring: KeyRing) -> None:
    verifier = OpenDkim(context(zones(ring), ring=ring), conf("Mode v\nSocket inet:8891@localhost\n"))
    broken = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=mail; bh=; b=\r\n" + MESSAGE
    verdict = verifier.end_of_message(message(broken))
    assert dict(verdict.results)["dkim"] in ("neutral", "permerror")
    assert "dkim=neutral" in verdict.headers[0] or "dkim=permerror" in verdict.headers[0]
    garbage = b"DKIM-Signature: \x00\xff;;;===\r\n" + MESSAGE
    assert dict(verifier.end_of_message(message(garbage)).results)["dkim"] in ("neutral", "permerror")


def test_openarc_seals_with_what_this_host_recorded_and_validates_downstream(ring: KeyRing) -> None:
    dns = zones(ring)
    relay = context(dns, ring=ring)
    relay.myhostname = "relay.example"
    checked = OpenDkim(relay, conf("Mode v\nSocket inet:8891@localhost\nAuthservID relay.example\n"))
    arriving = signed(ring)
    seen = insert_headers(arriving, checked.end_of_message(message(arriving)).headers)
    sealer = OpenArc(relay, conf("Mode sv\nDomain relay.example\nSelector arc\nSocket inet:8894@localhost\n"))
    verdict = sealer.end_of_message(message(seen + b"-- \r\nfooter\r\n"))
    sealed = insert_headers(seen + b"-- \r\nfooter\r\n", verdict.headers)
    assert [h.split(":")[0] for h in verdict.headers[:3]] == ["ARC-Seal", "ARC-Message-Signature",
                                                              "ARC-Authentication-Results"]  # fmt: skip
    assert "dkim=pass" in verdict.headers[2]  # the AAR keeps what the relay saw before its footer
    final = OpenArc(context(dns, ring=ring), conf("Mode v\nFinalReceiver yes\nSocket inet:8894@localhost\n"))
    assert dict(final.end_of_message(message(sealed)).results)["arc"] == "pass"


def test_opendmarc_enforces_the_policy_and_a_trusted_arc_seal_overrides_it(ring: KeyRing) -> None:
    dns = zones(ring)
    options = "Socket inet:8893@localhost\nAuthservID mx.example.net\nRejectFailures true\nSPFSelfValidate true\n"
    forwarded = message(client="198.51.100.7", helo="relay.example")  # SPF fails for a relay, no DKIM
    verdict = OpenDmarc(context(dns, ring=ring), conf(options)).end_of_message(forwarded)
    assert verdict.action is MilterAction.REJECT
    assert str(verdict.reply) == "550 5.7.1 rejected by DMARC policy for example.org"
    assert "dmarc=fail (p=reject dis=reject)" in verdict.headers[0] and "spf=fail" in verdict.headers[0]
    sealed = insert_headers(MESSAGE, ("ARC-Seal: i=1; cv=none; a=rsa-sha256; d=relay.example; s=arc; b=x",
                                      "Authentication-Results: mx.example.net; arc=pass"))  # fmt: skip
    trusting = OpenDmarc(context(dns, ring=ring), conf(options + "TrustedARCSealers relay.example\n"))
    assert trusting.end_of_message(message(sealed, client="198.51.100.7")).action is MilterAction.CONTINUE
    quarantine = OpenDmarc(context(zones(ring, "v=DMARC1; p=quarantine"), ring=ring),
                           conf(options + "HoldQuarantinedMessages true\n"))  # fmt: skip
    assert quarantine.end_of_message(forwarded).action is MilterAction.QUARANTINE


def test_opendmarc_reads_spf_from_the_received_spf_policyd_spf_wrote(ring: KeyRing) -> None:
    received = (b"Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.10; helo=mail.example.org;"
                b" envelope-from=alice@example.org; receiver=<UNKNOWN> \r\n")  # fmt: skip
    dmarc = OpenDmarc(context(zones(ring), ring=ring), conf("Socket inet:8893@localhost\nRejectFailures true\n"))
    verdict = dmarc.end_of_message(message(received + MESSAGE, client="198.51.100.7"))
    assert dict(verdict.results)["dmarc"] == "pass" and verdict.action is MilterAction.CONTINUE


def test_postsrsd_rewrites_foreign_senders_and_reverses_its_own_addresses(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "postsrsd.secret").write_text("s3cret\n")
    (tmp_path / "postsrsd").write_text("SRS_DOMAIN=relay.example\nSRS_SECRET=/etc/postsrsd.secret\n")
    tables = postsrsd_tables(tmp_path, lambda: NOW)
    forward, reverse = tables["tcp:localhost:10001"], tables["tcp:localhost:10002"]
    rewritten = forward.lookup("alice@example.org")
    assert rewritten is not None and is_srs(rewritten) and rewritten.endswith("@relay.example")
    assert forward.lookup("bob@relay.example") is None  # its own domain stays
    assert reverse.lookup(rewritten) == "alice@example.org"
    assert reverse.lookup("SRS0=xxxx=AA=example.org=alice@relay.example") is None  # a forged hash
    (tmp_path / "postsrsd").write_text("SRS_SECRET=/etc/postsrsd.secret\n")
    with pytest.raises(ConfigError, match="SRS_DOMAIN"):
        postsrsd_tables(tmp_path, lambda: NOW)


def test_keyfile_comes_from_the_host_folder_and_the_world_publishes_it(tmp_path: Path, ring: KeyRing) -> None:
    key = ring.get("example.org", "mail")
    (tmp_path / "etc" / "opendkim").mkdir(parents=True)
    (tmp_path / "etc" / "opendkim" / "mail.private").write_bytes(key.private_pem)
    daemon_context = context(folder=tmp_path)
    loaded = signing_key(
        daemon_context, conf("KeyFile /etc/opendkim/mail.private\n"), "example.org", "mail", "rsa-sha256"
    )
    assert loaded.public == key.public
    dns = ZoneSet()
    host = SimpleNamespace(daemons=SimpleNamespace(keys=lambda: [loaded]))
    publish_dkim_keys(SimpleNamespace(hosts={"mail.example.org": host}, zones=dns))
    assert dns.answer("mail._domainkey.example.org", "TXT").values[0].decode() == key.txt_record


def test_a_signed_message_passes_dkim_and_dmarc_end_to_end(tmp_path: Path) -> None:
    receiver = {
        "main.cf": "smtpd_milters = inet:localhost:8891, inet:localhost:8893\n",
        "opendkim.conf": "Mode v\nSocket inet:8891@localhost\n",
        "opendmarc.conf": "Socket inet:8893@localhost\nSPFSelfValidate true\nRejectFailures true\n",
    }
    sender = {"main.cf": "smtpd_milters = inet:localhost:8891\n", "opendkim.conf": SIGNER}
    result = run(world(tmp_path, sender=sender, receiver=receiver))
    (dmarc,) = records(result, "milter", host="mx.example.net", service="opendmarc")
    assert (dmarc.get("spf"), dmarc.get("dkim"), dmarc.get("dmarc")) == ("pass", "pass", "none")
    (delivered,) = mailbox_messages(result, "mx.example.net", "bob")
    assert b"Authentication-Results: mx.example.net; dkim=pass (2048-bit key) header.d=example.org" in delivered
    assert b"DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.org;" in delivered
