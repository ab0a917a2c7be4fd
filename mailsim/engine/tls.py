"""Per-scenario certificates and prebuilt TLS contexts for STARTTLS, generated with ``cryptography``.

A scenario gets its own certificate authority and one certificate per host name, signed by it; clients that
verify (Postfix's ``smtp_tls_security_level = verify``/``secure``) trust that CA only. Building an
``ssl.SSLContext`` costs milliseconds and aiosmtplib would build one per connection, so a :class:`TlsAuthority`
builds each context once and hands the same object to every connection of the run.

Determinism: keys are RSA 2048 and random (``cryptography`` cannot derive RSA keys from a seed), but everything
whose size travels over the simulated network is fixed: certificate serials and validity come from the host
name and the epoch, and RSA signatures always have the modulus' length. A TLS handshake therefore has the same
byte counts in every run, so simulated transfer times, and the trace, do not depend on the random keys. All
hosts of one authority share one key pair (each has its own certificate) to keep setup near 0.2 s.

Postfix parameters read: none (``smtpd_tls_cert_file``/``smtpd_tls_key_file`` are replaced by this authority).
"""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_NOT_BEFORE = datetime(2000, 1, 1, tzinfo=UTC)
VALIDITY = timedelta(days=365 * 100)


def _serial(name: str) -> int:
    """A positive 63-bit serial from the name: stable size, stable value."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1 | (1 << 62)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class TlsAuthority:
    """A scenario's CA: certificates per host name and cached server/client ``ssl.SSLContext`` objects."""

    def __init__(self, name: str = "mailsim scenario CA", *, not_before: datetime = DEFAULT_NOT_BEFORE) -> None:
        self.name = name
        self.not_before = not_before
        self._ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._host_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = self._builder(subject, subject, self._ca_key.public_key(), name)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        self.ca_certificate = builder.sign(self._ca_key, hashes.SHA256())
        self._certificates: dict[str, x509.Certificate] = {}
        self._servers: dict[str, ssl.SSLContext] = {}
        self._clients: dict[bool, ssl.SSLContext] = {}

    def _builder(
        self, subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey, name: str
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(_serial(name))
            .not_valid_before(self.not_before)
            .not_valid_after(self.not_before + VALIDITY)
        )

    @property
    def ca_pem(self) -> str:
        """The CA certificate, for clients outside the simulation (``swaks --tls-ca-path``, Thunderbird)."""
        return self.ca_certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def certificate(self, hostname: str) -> x509.Certificate:
        """The certificate of ``hostname`` (made on first use)."""
        cert = self._certificates.get(hostname)
        if cert is None:
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
            builder = self._builder(subject, self.ca_certificate.subject, self._host_key.public_key(), hostname)
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            cert = self._certificates[hostname] = builder.sign(self._ca_key, hashes.SHA256())
        return cert

    def server_context(self, hostname: str) -> ssl.SSLContext:
        """The server context of ``hostname`` (cached): its certificate and key, no client certificates asked."""
        context = self._servers.get(hostname)
        if context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            chain = self.certificate(hostname).public_bytes(serialization.Encoding.PEM) + self.ca_pem.encode()
            _load_chain(context, chain, _pem_key(self._host_key))
            self._servers[hostname] = context
        return context

    def client_context(self, *, verify: bool = False) -> ssl.SSLContext:
        """A client context (cached): ``verify`` checks the server's name against this CA, else any cert goes."""
        context = self._clients.get(verify)
        if context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            if verify:
                context.load_verify_locations(cadata=self.ca_pem)
            else:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._clients[verify] = context
        return context


def _load_chain(context: ssl.SSLContext, chain: bytes, key: bytes) -> None:
    """``load_cert_chain`` reads files only: hand it a private temporary file and remove it at once."""
    handle, path = tempfile.mkstemp(prefix="mailsim-tls-", suffix=".pem")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(chain + key)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
