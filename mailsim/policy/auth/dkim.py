"""DKIM (RFC 6376) signing and verification by dkimpy, with keys looked up in the simulated DNS.

Theory of operation
-------------------
Signing is dkimpy's (canonicalisation, header selection, RSA-SHA256 or Ed25519-SHA256, folding)
with one change: the ``t=`` tag is the simulated clock (``now``) or left out, never the wall
clock, so a scenario run twice signs byte-identically. :class:`_Signer` does that by building the
same tag list as ``dkim.DKIM.sign`` and handing it to dkimpy's own ``gen_header``.

Verification takes each ``DKIM-Signature`` field in turn and does dkimpy's three steps itself so
that every outcome gets its RFC 8601 §2.7.1 result instead of dkimpy's True/False:

====================================  ===========  ==========================================
what happened                          result       reason
====================================  ===========  ==========================================
no DKIM-Signature at all               none         ``no signature``
tag list unparseable, tag missing or   neutral      ``signature syntax error: ...``
bad (dkimpy's ``verify_headerprep``)
key query SERVFAIL or TIMEOUT          temperror    ``key unavailable (DNS TIMEOUT)``
no key record / empty ``p=`` / bad     permerror    ``no key for signature``, ``key revoked``...
key / key type not the ``a=`` family
``h=`` without From, key too short     permerror    RFC 6376 §5.4 / RFC 8301 §3.2
body hash differs                      fail         ``body hash did not verify``
signature over the headers differs     fail         ``signature did not verify``
all good                               pass
====================================  ===========  ==========================================

No exception escapes :func:`verify`: a malformed header is a result, not a crash. The signature's
``t=`` is still checked by dkimpy against the wall clock (a signature more than 10 h in the
future is a syntax error), which only matters for scenarios whose epoch lies in the future.

Canonicalisation (§3.4) decides what survives a relay: ``simple`` bodies break on any change,
``relaxed`` ones survive whitespace changes only; a footer breaks both unless ``l=`` limited the
signed length; any change to a signed header breaks the signature.

Postfix parameters read: none.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dkim as dkimpy
import nacl.encoding
import nacl.exceptions
import nacl.signing
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError

from mailsim.policy.auth.dnsview import TEMPORARY, DnsQuery, Meter, status_of
from mailsim.policy.auth.keys import DkimKey

MIN_KEY_BITS = 1024  # RFC 8301 §3.2
_MALFORMED = (dkimpy.DKIMException, InvalidCanonicalizationPolicyError, ValueError, KeyError, IndexError, TypeError)
Canonicalization = str | tuple[str, str]


class Silent:
    """A logger that drops dkimpy's chatter: verdicts are results here, not log lines."""

    def isEnabledFor(self, level: int) -> bool:  # logging.Logger's method name
        return False

    def debug(self, *args: object) -> None: ...

    info = warning = error = debug


_QUIET = Silent()


class SigningError(ValueError):
    """A message or key dkimpy cannot sign with (no From header, unusable key, bad parameters)."""


@dataclass(frozen=True, slots=True)
class DkimResult:
    """One signature's verdict in RFC 8601 terms (``header_b`` is the first 8 characters of ``b=``)."""

    domain: str
    selector: str
    result: str
    reason: str
    algorithm: str = ""
    identity: str = ""
    header_b: str = ""
    key_bits: int = 0
    dns_time: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result == "pass"


class _Signer(dkimpy.DKIM):  # type: ignore[misc]
    """dkimpy's signer with ``t=`` from the simulation instead of ``time.time()``."""

    def sign_at(
        self,
        timestamp: int | None,
        key: DkimKey,
        *,
        domain: str,
        selector: str,
        include: Sequence[str] | None,
        canon: CanonicalizationPolicy,
        length: bool,
        identity: str | None,
    ) -> bytes:
        if identity is not None and not identity.lower().endswith(domain.lower()):
            raise SigningError(f"i={identity} is not in d={domain} (RFC 6376 §3.5)")
        self.signature_algorithm = key.signature_algorithm.encode()
        private = _private(key)
        headers = tuple(h.lower() for h in (include or [h.decode() for h in self.default_sign_headers()]))
        include_headers = tuple(h.encode() for h in headers)
        if b"from" not in include_headers:
            raise SigningError("the From header field must be signed (RFC 6376 §5.4)")
        if set(include_headers) & self.should_not_sign:
            raise SigningError(
                f"these fields should not be signed: {sorted(set(headers) & _names(self.should_not_sign))}"
            )
        self.include_headers = include_headers
        body = canon.canonicalize_body(self.body)
        self.hasher = dkimpy.HASH_ALGORITHMS[self.signature_algorithm]
        bodyhash = base64.b64encode(self.hasher(body).digest())
        fields = [
            (b"v", b"1"),
            (b"a", self.signature_algorithm),
            (b"c", canon.to_c_value()),
            (b"d", domain.encode()),
            (b"i", (identity or "@" + domain).encode()),
            (b"l", str(len(body)).encode()) if length else None,
            (b"q", b"dns/txt"),
            (b"s", selector.encode()),
            (b"t", str(timestamp).encode()) if timestamp is not None else None,
            (b"h", b" : ".join(include_headers)),
            (b"bh", bodyhash),
            (b"b", b"0" * 60),  # dkimpy's placeholder, so b= folds onto its own line
        ]
        value = self.gen_header([f for f in fields if f], include_headers, canon, b"DKIM-Signature", private)
        return b"DKIM-Signature: " + value


def sign(
    message: bytes,
    selector: str,
    domain: str,
    key: DkimKey,
    *,
    headers: Sequence[str] | None = None,
    canonicalization: Canonicalization = ("relaxed", "relaxed"),
    length: bool = False,
    identity: str | None = None,
    now: float | None = None,
) -> bytes:
    """The ``DKIM-Signature:`` field (CRLF-terminated) to prepend to ``message``.

    ``headers`` defaults to dkimpy's RFC 6376 §5.4.1 list with From signed twice (so none can be
    added); ``length`` adds ``l=`` so a footer appended later leaves the signature valid.
    """
    try:
        signer = _Signer(message, logger=_QUIET, linesep=b"\r\n")
        return signer.sign_at(
            None if now is None else int(now),
            key,
            domain=domain,
            selector=selector,
            include=headers,
            canon=_policy(canonicalization),
            length=length,
            identity=identity,
        )
    except SigningError:
        raise
    except (dkimpy.DKIMException, nacl.exceptions.CryptoError) as error:
        raise SigningError(str(error)) from None


def sign_message(
    message: bytes,
    key: DkimKey,
    *,
    headers: Sequence[str] | None = None,
    canonicalization: Canonicalization = ("relaxed", "relaxed"),
    length: bool = False,
    now: float | None = None,
) -> bytes:
    """``message`` with a DKIM-Signature by ``key`` (its own domain and selector) on top."""
    field = sign(
        message,
        key.selector,
        key.domain,
        key,
        headers=headers,
        canonicalization=canonicalization,
        length=length,
        now=now,
    )
    return field + message


def verify(message: bytes, dns: DnsQuery, *, minkey: int = MIN_KEY_BITS) -> list[DkimResult]:
    """Every signature's verdict, top one first; ``[none]`` for an unsigned message. Never raises."""
    try:
        verifier = dkimpy.DKIM(message, logger=_QUIET, minkey=minkey)
    except _MALFORMED as error:
        return [DkimResult("", "", "permerror", f"message not parseable: {error}")]
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    if count == 0:
        return [DkimResult("", "", "none", "no signature")]
    return [_verify_one(verifier, index, dns) for index in range(count)]


def _verify_one(verifier: dkimpy.DKIM, index: int, dns: DnsQuery) -> DkimResult:
    """One signature: syntax, key lookup, key, then the body hash and the signature."""
    raw = [value for name, value in verifier.headers if name.lower() == b"dkim-signature"][index]
    try:
        sig, include, sigheaders = verifier.verify_headerprep(index)
    except _MALFORMED as error:
        domain, selector = _tag(raw, b"d"), _tag(raw, b"s")
        return DkimResult(domain, selector, "neutral", f"signature syntax error: {_text(error)}")
    base = DkimResult(
        _dec(sig[b"d"]),
        _dec(sig[b"s"]),
        "",
        "",
        algorithm=_dec(sig[b"a"]),
        identity=_dec(sig.get(b"i", b"@" + sig[b"d"])),
        header_b=re.sub(rb"\s+", b"", sig[b"b"])[:8].decode("ascii", "replace"),
    )
    if b"from" not in include:
        return _with(base, "permerror", "From field not signed (RFC 6376 §5.4)")
    meter = Meter(dns)
    problem = _load_key(verifier, base, meter)
    if problem is not None:
        return _with(problem, problem.result, problem.reason, meter.latency)
    bits = int(verifier.keysize or 0)
    try:
        good = verifier.verify_sig_process(sig, include, sigheaders[index], None)
    except dkimpy.ValidationError as error:
        reason = "body hash did not verify" if "body hash" in str(error) else f"signature syntax error: {_text(error)}"
        return _with(base, "fail" if "body hash" in str(error) else "neutral", reason, meter.latency, bits)
    except _MALFORMED as error:
        return _with(base, "permerror", f"key unusable: {_text(error)}", meter.latency, bits)
    if good:
        return _with(base, "pass", "", meter.latency, bits)
    return _with(base, "fail", "signature did not verify", meter.latency, bits)


def _load_key(verifier: dkimpy.DKIM, base: DkimResult, meter: Meter) -> DkimResult | None:
    """Look the public key up and give it to dkimpy; a result when that fails, else ``None``."""
    name = f"{base.selector}._domainkey.{base.domain}"
    answer = meter(name, "TXT")
    status = status_of(answer)
    if status in TEMPORARY:
        return _with(base, "temperror", f"key unavailable (DNS {status})")
    records = [v for v in answer.values if isinstance(v, bytes)] if status == "NOERROR" else []
    if not records:
        return _with(base, "permerror", f"no key for signature ({status})")
    text = records[0]
    if re.search(rb"(^|;)\s*p=\s*(;|$)", text):
        return _with(base, "permerror", "key revoked (empty p=)")
    try:
        pk, bits, ktag, tlsrpt = dkimpy.evaluate_pk(name.encode(), text)
    except (dkimpy.DKIMException, binascii.Error, ValueError, TypeError) as error:
        return _with(base, "permerror", f"key unusable: {_text(error)}")
    if ktag is None or not base.algorithm.startswith(ktag.decode() + "-"):
        return _with(base, "permerror", f"key type {ktag!r} does not fit a={base.algorithm}")
    verifier.pk, verifier.keysize, verifier.ktag, verifier.seqtlsrpt = pk, bits, ktag, tlsrpt
    return None


def dnsfunc(dns: DnsQuery, meter: Meter | None = None) -> Callable[..., bytes | None]:
    """dkimpy's ``dnsfunc=`` over the simulated DNS: TXT text or ``None``; SERVFAIL/TIMEOUT raise.

    dkimpy turns the raised ``DnsTimeoutError`` into a failed signature; ``meter.temporary`` keeps
    the fact that it was temporary.
    """
    ask = meter if meter is not None else Meter(dns)

    def lookup(name: bytes | str, timeout: int = 5) -> bytes | None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        answer = ask(text.rstrip("."), "TXT")
        status = status_of(answer)
        if status in TEMPORARY:
            raise dkimpy.DnsTimeoutError(f"DNS {status} for {text}")
        values = [v for v in answer.values if isinstance(v, bytes)] if status == "NOERROR" else []
        return values[0] if values else None

    return lookup


def _private(key: DkimKey) -> object:
    """The private key in the form dkimpy's gen_header signs with."""
    try:
        if key.algorithm == "ed25519":
            return nacl.signing.SigningKey(key.signing_key, encoder=nacl.encoding.Base64Encoder)
        return dkimpy.parse_pem_private_key(key.signing_key)
    except (dkimpy.UnparsableKeyError, nacl.exceptions.CryptoError, ValueError) as error:
        raise SigningError(f"unusable private key for {key.record_name}: {error}") from None


def _policy(canonicalization: Canonicalization) -> CanonicalizationPolicy:
    text = canonicalization if isinstance(canonicalization, str) else "/".join(canonicalization)
    try:
        return CanonicalizationPolicy.from_c_value(text.encode())
    except (dkimpy.DKIMException, InvalidCanonicalizationPolicyError) as error:
        raise SigningError(f"canonicalization {text!r}: {error}") from None


def _with(base: DkimResult, result: str, reason: str, dns_time: float = 0.0, bits: int = 0) -> DkimResult:
    return DkimResult(
        base.domain, base.selector, result, reason, base.algorithm, base.identity, base.header_b, bits, dns_time
    )


def _tag(raw: bytes, tag: bytes) -> str:
    """A tag's value read leniently from a header dkimpy could not parse (for the report only)."""
    found = re.search(rb"(?:^|;)\s*" + tag + rb"\s*=\s*([^;]*)", raw)
    return _dec(found.group(1).strip()) if found else ""


def _dec(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _text(error: BaseException) -> str:
    return str(error).replace("\r", " ").replace("\n", " ")[:200]


def _names(fields: set[bytes]) -> set[str]:
    return {f.decode() for f in fields}
