"""DKIM keys: generated once per scenario, published as TXT records, kept on disk when asked."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from mailsim.core.errors import ConfigError
from mailsim.policy.auth.keys import KeyRing, generate_key, key_from_pem


def test_a_ring_generates_each_key_once(ring: KeyRing) -> None:
    first = ring.get("schweikert.ch", "mail")
    assert ring.get("schweikert.ch", "mail") is first
    assert ring.get("schweikert.ch", "other") is not first


def test_rsa_keys_default_to_2048_bits_and_publish_a_dkim1_record(ring: KeyRing) -> None:
    key = ring.get("schweikert.ch", "mail")
    assert (key.algorithm, key.bits, key.signature_algorithm) == ("rsa", 2048, "rsa-sha256")
    assert key.record_name == "mail._domainkey.schweikert.ch"
    assert key.txt_record == f"v=DKIM1; k=rsa; p={key.public}"
    assert key.private_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")


def test_ed25519_keys_publish_the_raw_32_byte_key(ring: KeyRing) -> None:
    key = ring.get("schweikert.ch", "ed", "ed25519")
    assert key.txt_record.startswith("v=DKIM1; k=ed25519; p=")
    assert len(base64.b64decode(key.public)) == 32  # RFC 8463 §4
    assert key.signature_algorithm == "ed25519-sha256"


def test_keys_below_1024_bits_are_refused() -> None:
    with pytest.raises(ConfigError, match="RFC 8301"):
        generate_key("example.org", "s", bits=512)
    with pytest.raises(ConfigError, match="rsa or ed25519"):
        generate_key("example.org", "s", algorithm="dsa")


def test_a_directory_keeps_keys_between_runs(tmp_path: Path) -> None:
    first = KeyRing(tmp_path).get("example.org", "s1", "rsa", 1024)
    again = KeyRing(tmp_path).get("example.org", "s1", "rsa", 1024)
    assert again.public == first.public
    assert (tmp_path / "s1._domainkey.example.org.rsa-1024.pem").stat().st_mode & 0o777 == 0o600
    ed = KeyRing(tmp_path).get("example.org", "s2", "ed25519")
    assert key_from_pem("example.org", "s2", ed.private_pem).public == ed.public
    assert KeyRing(tmp_path).records() == []
