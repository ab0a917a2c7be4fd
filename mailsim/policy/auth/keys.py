"""DKIM keys for a scenario: generated once, published as ``v=DKIM1; k=...; p=...`` TXT records.

A :class:`KeyRing` belongs to one scenario (or test), never to the module: it generates a key the
first time a (domain, selector, algorithm, bits) is asked for and hands out the same key after
that, so a run signs thousands of messages with one key generation each. Given a directory it
also keeps the private keys there as PEM files and loads them on the next run, which keeps
signatures identical between runs of one scenario (RSA key generation cannot be seeded).

RSA keys are at least 1024 bits (RFC 8301 §3.2: verifiers MUST NOT accept less), 2048 by default;
Ed25519 keys are RFC 8463's ``k=ed25519`` with the raw 32-byte public key in ``p=``. The PEM files
are what opendkim's KeyTable and Perl's Mail::DKIM::Signer read (PKCS#1 for RSA, PKCS#8 for Ed25519).

Postfix parameters read: none.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailsim.core.errors import ConfigError

MIN_RSA_BITS = 1024  # RFC 8301 §3.2
DEFAULT_RSA_BITS = 2048
ALGORITHMS = ("rsa", "ed25519")
_RAW = serialization.Encoding.Raw


@dataclass(frozen=True, slots=True)
class DkimKey:
    """One signing key and everything needed to publish and use it."""

    domain: str
    selector: str
    algorithm: str  # "rsa" | "ed25519"
    bits: int
    private_pem: bytes  # PKCS#1 (RSA) or PKCS#8 (Ed25519) PEM, for files and peers
    signing_key: bytes  # what dkimpy signs with: the PEM for RSA, the base64 seed for Ed25519
    public: str  # the base64 ``p=`` value

    @property
    def record_name(self) -> str:
        """Where the public key lives: ``selector._domainkey.domain`` (RFC 6376 §3.6.2.1)."""
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def txt_record(self) -> str:
        """The TXT record text that publishes the key (RFC 6376 §3.6.1)."""
        return f"v=DKIM1; k={self.algorithm}; p={self.public}"

    @property
    def signature_algorithm(self) -> str:
        """The ``a=`` tag this key signs with (RFC 6376 §3.3, RFC 8463 §3)."""
        return "rsa-sha256" if self.algorithm == "rsa" else "ed25519-sha256"

    def test_public_keys_line(self) -> str:
        """The key as a line of opendkim's TestPublicKeys file (also read by tests/data/dkim/mail-dkim.pl)."""
        return f"{self.record_name} {self.txt_record}"


def generate_key(domain: str, selector: str, algorithm: str = "rsa", bits: int = DEFAULT_RSA_BITS) -> DkimKey:
    """A fresh key; RSA below 1024 bits or an unknown algorithm is a ConfigError."""
    if algorithm == "rsa":
        if bits < MIN_RSA_BITS:
            raise ConfigError(
                "DKIM key too small", key="bits", expected=f"at least {MIN_RSA_BITS} (RFC 8301)", found=bits
            )
        private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = rsa.generate_private_key(65537, bits)
    elif algorithm == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ConfigError("unknown DKIM key algorithm", key="algorithm", expected="rsa or ed25519", found=algorithm)
    return key_from_private(domain, selector, private)


def key_from_pem(domain: str, selector: str, pem: bytes) -> DkimKey:
    """A key read back from its PEM file (RSA PKCS#1/PKCS#8 or Ed25519 PKCS#8)."""
    private = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ConfigError(
            "unsupported DKIM key", key="key", expected="an RSA or Ed25519 private key", found=type(private).__name__
        )
    return key_from_private(domain, selector, private)


def key_from_private(domain: str, selector: str, private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> DkimKey:
    """Everything a :class:`DkimKey` holds, derived from a cryptography private key."""
    if isinstance(private, rsa.RSAPrivateKey):
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        spki = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return DkimKey(domain, selector, "rsa", private.key_size, pem, pem, base64.b64encode(spki).decode())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    seed = private.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    return DkimKey(domain, selector, "ed25519", 256, pem, base64.b64encode(seed), base64.b64encode(public).decode())


class KeyRing:
    """A scenario's DKIM keys: one generation per (domain, selector, algorithm, bits), optionally on disk."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._keys: dict[tuple[str, str, str, int], DkimKey] = {}

    def get(self, domain: str, selector: str, algorithm: str = "rsa", bits: int = DEFAULT_RSA_BITS) -> DkimKey:
        """The key for (domain, selector, algorithm, bits), generated or loaded the first time."""
        size = bits if algorithm == "rsa" else 256
        slot = (domain.lower().rstrip("."), selector, algorithm, size)
        key = self._keys.get(slot)
        if key is None:
            key = self._load(*slot) or generate_key(slot[0], selector, algorithm, size)
            self._store(key)
            self._keys[slot] = key
        return key

    def add(self, key: DkimKey) -> None:
        """Use a key made elsewhere (read from a scenario's files, say)."""
        self._keys[(key.domain, key.selector, key.algorithm, key.bits)] = key

    def __iter__(self) -> Iterator[DkimKey]:
        return iter(list(self._keys.values()))

    def __len__(self) -> int:
        return len(self._keys)

    def records(self) -> list[tuple[str, str, str]]:
        """``(name, "TXT", text)`` for every key, ready for ``ZoneSet.add_record``."""
        return [(key.record_name, "TXT", key.txt_record) for key in self._keys.values()]

    def _path(self, domain: str, selector: str, algorithm: str, bits: int) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{selector}._domainkey.{domain}.{algorithm}-{bits}.pem"

    def _load(self, domain: str, selector: str, algorithm: str, bits: int) -> DkimKey | None:
        path = self._path(domain, selector, algorithm, bits)
        if path is None or not path.exists():
            return None
        return key_from_pem(domain, selector, path.read_bytes())

    def _store(self, key: DkimKey) -> None:
        path = self._path(key.domain, key.selector, key.algorithm, key.bits)
        if path is not None and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(key.private_pem)
            path.chmod(0o600)
