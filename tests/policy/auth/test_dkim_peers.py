"""DKIM interop with independent verifiers and signers from Debian: opendkim and Perl's Mail::DKIM.

Public keys come from files, never DNS: opendkim reads them with ``TestPublicKeys`` in test mode
(``opendkim -x CONF -t FILE``), Mail::DKIM through tests/data/dkim/mail-dkim.pl, which replaces its
DNS lookup. The other way round, opendkim signs in test mode with a KeyTable/SigningTable
(``Mode s``) and Mail::DKIM::Signer with a key file, and mailsim verifies against the same keys
published in a ZoneSet.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from mailsim.dns import ZoneSet
from mailsim.policy.auth.dkim import sign_message, verify
from mailsim.policy.auth.dnsview import DnsQuery
from mailsim.policy.auth.keys import DkimKey
from tests.peers import require
from tests.policy.auth.seedworld import MESSAGE, NOW, World

pytestmark = pytest.mark.peer
PERL_PEER = Path(__file__).resolve().parents[2] / "data" / "dkim" / "mail-dkim.pl"


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


def _keys_file(tmp_path: Path, *keys: DkimKey) -> Path:
    path = tmp_path / "public-keys"
    path.write_text("".join(key.test_public_keys_line() + "\n" for key in keys))
    return path


def _opendkim_verify(tmp_path: Path, message: bytes, *keys: DkimKey) -> str:
    """opendkim's Authentication-Results for ``message`` (its -vv test output)."""
    opendkim = require("opendkim")
    conf = tmp_path / "verify.conf"
    conf.write_text(f"Mode v\nTestPublicKeys {_keys_file(tmp_path, *keys)}\nSyslog no\nAuthservID verifier.test\n")
    (tmp_path / "in.eml").write_bytes(message)
    done = _run([opendkim, "-x", str(conf), "-vv", "-t", str(tmp_path / "in.eml")])
    assert done.returncode == 0, done.stderr
    return done.stdout


def _perl() -> str:
    """perl with Mail::DKIM (Debian's libmail-dkim-perl): skipped when missing, a failure in CI."""
    perl = require("perl")
    if _run([perl, "-MMail::DKIM::Verifier", "-MMail::DKIM::Signer", "-e", "1"]).returncode != 0:
        if os.environ.get("MAILSIM_REQUIRE_PEERS") == "1":
            pytest.fail("Perl's Mail::DKIM (libmail-dkim-perl) is required in CI but not installed")
        pytest.skip("Perl's Mail::DKIM (libmail-dkim-perl) not installed")
    return perl


def _perl_verify(tmp_path: Path, message: bytes, *keys: DkimKey) -> list[str]:
    perl = _perl()
    (tmp_path / "in.eml").write_bytes(message)
    done = _run([perl, str(PERL_PEER), "verify", str(_keys_file(tmp_path, *keys)), str(tmp_path / "in.eml")])
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("canon", ["simple/simple", "relaxed/relaxed"])
def test_opendkim_verifies_mailsims_rsa_signature(tmp_path: Path, world: World, canon: str) -> None:
    signed = sign_message(MESSAGE, world.schweikert, canonicalization=canon, now=NOW)
    report = _opendkim_verify(tmp_path, signed, world.schweikert)
    assert re.search(r"dkim=pass \(2048-bit key\) header\.d=schweikert\.ch .*header\.s=mail", report), report


def test_opendkim_verifies_mailsims_ed25519_signature(tmp_path: Path, world: World) -> None:
    signed = sign_message(MESSAGE, world.schweikert_ed, now=NOW)
    report = _opendkim_verify(tmp_path, signed, world.schweikert_ed)
    assert re.search(r"dkim=pass header\.d=schweikert\.ch .*header\.a=ed25519-sha256 header\.s=ed", report), report


def test_opendkim_sees_the_footer_break_it_too(tmp_path: Path, world: World) -> None:
    signed = sign_message(MESSAGE, world.schweikert, now=NOW) + b"-- \r\nforwarded by atrust.com\r\n"
    assert "dkim=fail" in _opendkim_verify(tmp_path, signed, world.schweikert)


def test_mail_dkim_verifies_mailsims_signature(tmp_path: Path, world: World) -> None:
    signed = sign_message(MESSAGE, world.schweikert, now=NOW)
    assert _perl_verify(tmp_path, signed, world.schweikert) == ["pass schweikert.ch mail pass"]
    tampered = signed.replace(b"Hello Evi", b"Hello Eve")
    assert _perl_verify(tmp_path, tampered, world.schweikert) == [
        "fail schweikert.ch mail fail (body has been altered)"
    ]


def test_mailsim_verifies_opendkims_signature(tmp_path: Path, world: World) -> None:
    opendkim = require("opendkim")
    key = tmp_path / "mail.private"
    key.write_bytes(world.schweikert.private_pem)
    (tmp_path / "keytable").write_text(f"k1 schweikert.ch:mail:{key}\n")
    (tmp_path / "signingtable").write_text("*@schweikert.ch k1\n")
    conf = tmp_path / "sign.conf"
    conf.write_text(
        f"Mode s\nKeyTable {tmp_path / 'keytable'}\nSigningTable refile:{tmp_path / 'signingtable'}\n"
        "Canonicalization relaxed/relaxed\nRequireSafeKeys false\nSyslog no\n"
    )
    (tmp_path / "in.eml").write_bytes(MESSAGE)
    done = _run([opendkim, "-x", str(conf), "-t", str(tmp_path / "in.eml")])
    assert done.returncode == 0 and "DKIM-Signature:" in done.stdout, done.stderr
    field = (
        done.stdout[done.stdout.index("DKIM-Signature:") :].rstrip("\r\n").replace("\r\n", "\n").replace("\n", "\r\n")
    )
    [result] = verify(field.encode() + b"\r\n" + MESSAGE, _published(world.schweikert))
    assert (result.result, result.domain, result.selector) == ("pass", "schweikert.ch", "mail")


def test_mailsim_verifies_mail_dkims_signature(tmp_path: Path, world: World) -> None:
    perl = _perl()
    (tmp_path / "key.pem").write_bytes(world.schweikert.private_pem)
    (tmp_path / "in.eml").write_bytes(MESSAGE)
    args = ["sign", "schweikert.ch", "mail", str(tmp_path / "key.pem"), "relaxed/relaxed", str(tmp_path / "in.eml")]
    done = _run([perl, str(PERL_PEER), *args])
    assert done.returncode == 0, done.stderr
    field = done.stdout.rstrip("\n").replace("\n", "\r\n").encode()
    [result] = verify(field + b"\r\n" + MESSAGE, _published(world.schweikert))
    assert (result.result, result.algorithm) == ("pass", "rsa-sha256")


def _published(key: DkimKey) -> DnsQuery:
    zones = ZoneSet()
    zones.add_record(key.record_name, "TXT", key.txt_record)
    return zones.answer
