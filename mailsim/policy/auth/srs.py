"""Sender Rewriting Scheme: a forwarder puts its own domain in MAIL FROM so SPF checks it, not the origin.

The scheme is libsrs2's (as used by postsrsd), so addresses look like the ones seen in the wild:

- **SRS0** (first forwarder): ``SRS0=HHHH=TT=domain=local@forwarder``. ``TT`` is the day number
  (Unix time / 86400) modulo 1024 in two base32 characters (``A``-``Z``, ``2``-``7``); ``HHHH`` is the
  first ``hash_length`` characters of base64(HMAC-SHA1(secret, lower(TT + domain + local))).
- **SRS1** (a forwarder re-forwarding an SRS address): ``SRS1=HHHH=first-forwarder==HHHH=TT=domain=local@me``
  - the original SRS0 part is kept (with its separator), only the first forwarder's name is added and
  hashed (HMAC over ``lower(first-forwarder + "=HHHH=TT=domain=local")``), so a bounce goes back hop by hop.
- **Reverse** (a bounce to the SRS address arrives at the forwarder): the hash must verify with one of the
  secrets (any, so secrets can be rotated) and an SRS0 timestamp must be at most ``max_age`` days old
  (21 by default); SRS1 reverses to the SRS0 address at the first forwarder, SRS0 to the original sender.

Everything here is a pure function of its arguments; ``now`` is the simulated Unix time. The null
sender is never rewritten, and neither is a sender already in the forwarder's domain unless
``always_rewrite`` is set (libsrs2's rules).

Postfix parameters read: none (SRS sits beside Postfix, as postsrsd does with
``sender_canonical_maps``/``recipient_canonical_maps``; its settings are postsrsd's:
``domain``, ``secrets``, ``max_age``, ``hash_length``, ``hash_minimum``, ``separator``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from mailsim.core.errors import ConfigError

TIME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # base32, 5 bits per character
TIME_PRECISION = 86400  # one day
TIME_SLOTS = 1024  # two characters of 5 bits
SEPARATORS = "=-+"
SRSSEP = "="


class SrsError(ValueError):
    """An SRS address that cannot be reversed (not SRS, malformed, bad hash, too old)."""


@dataclass(frozen=True, slots=True)
class SrsSettings:
    """A forwarder's SRS configuration (postsrsd's options)."""

    domain: str
    secrets: tuple[str, ...]
    max_age: int = 21  # days
    hash_length: int = 4
    hash_minimum: int = 4
    separator: str = "="
    always_rewrite: bool = False

    def __post_init__(self) -> None:
        if not self.secrets or not all(self.secrets):
            raise ConfigError(
                "SRS needs a secret", key="secrets", expected="at least one non-empty secret", found="none"
            )
        if self.separator not in SEPARATORS:
            raise ConfigError("bad SRS separator", key="separator", expected="one of = - +", found=self.separator)
        if not 1 <= self.hash_minimum <= self.hash_length <= 27:  # 27 base64 characters hold the 20-byte HMAC
            raise ConfigError(
                "bad SRS hash length",
                key="hash_length",
                expected="hash_minimum <= hash_length <= 27",
                found=self.hash_length,
            )


def timestamp(now: float) -> str:
    """The two-character day stamp for Unix time ``now``."""
    day = int(now) // TIME_PRECISION
    return TIME_CHARS[(day >> 5) & 31] + TIME_CHARS[day & 31]


def stamp_age(stamp: str, now: float) -> int | None:
    """Days since ``stamp`` was made (modulo 1024 days), ``None`` when it is not a stamp."""
    if len(stamp) != 2 or any(c.upper() not in TIME_CHARS for c in stamp):
        return None
    then = (TIME_CHARS.index(stamp[0].upper()) << 5) | TIME_CHARS.index(stamp[1].upper())
    today = (int(now) // TIME_PRECISION) % TIME_SLOTS
    while today < then:
        today += TIME_SLOTS
    return today - then


def srs_hash(secret: str, length: int, *parts: str) -> str:
    """libsrs2's hash: base64 of HMAC-SHA1 over the lower-cased parts, cut to ``length``."""
    digest = hmac.new(secret.encode(), "".join(parts).lower().encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()[:length]


def is_srs(address: str) -> bool:
    """True for an SRS0 or SRS1 address (tag followed by a separator)."""
    local = address.rpartition("@")[0] if "@" in address else address
    return len(local) > 4 and local[:4].upper() in ("SRS0", "SRS1") and local[4] in SEPARATORS


def forward(sender: str, settings: SrsSettings, *, now: float) -> str:
    """The MAIL FROM a forwarder uses for ``sender``: SRS0, SRS1 for an SRS address, or unchanged."""
    if not sender or sender == "<>":
        return sender  # bounces stay bounces
    local, at, host = sender.rpartition("@")
    if not at or not local or not host:
        raise SrsError(f"no domain in sender {sender!r}")
    if not settings.always_rewrite and host.lower() == settings.domain.lower():
        return sender
    secret, size, sep = settings.secrets[0], settings.hash_length, settings.separator
    tag = local[:4].upper()
    if tag == "SRS1" and local[4:5] in SEPARATORS:
        first_host, _, rest = local[5:].partition(SRSSEP)[2].partition(SRSSEP)
        if not first_host or not rest:
            raise SrsError(f"malformed SRS1 address {sender!r}")
        digest = srs_hash(secret, size, first_host, rest)
        return f"SRS1{sep}{digest}{SRSSEP}{first_host}{SRSSEP}{rest}@{settings.domain}"
    if tag == "SRS0" and local[4:5] in SEPARATORS:
        rest = local[4:]
        digest = srs_hash(secret, size, host, rest)
        return f"SRS1{sep}{digest}{SRSSEP}{host}{SRSSEP}{rest}@{settings.domain}"
    stamp = timestamp(now)
    digest = srs_hash(secret, size, stamp, host, local)
    return f"SRS0{sep}{digest}{SRSSEP}{stamp}{SRSSEP}{host}{SRSSEP}{local}@{settings.domain}"


def reverse(address: str, settings: SrsSettings, *, now: float) -> str:
    """Where a bounce to an SRS address goes: the original sender, or the previous forwarder's SRS0."""
    local = address.rpartition("@")[0]
    if not is_srs(address):
        raise SrsError(f"not an SRS address: {address!r}")
    parts = local[5:].split(SRSSEP)
    if local[:4].upper() == "SRS1":
        if len(parts) < 3 or not parts[0] or not parts[1]:
            raise SrsError(f"malformed SRS1 address {address!r}")
        first_host, rest = parts[1], SRSSEP.join(parts[2:])
        _check_hash(parts[0], settings, first_host, rest)
        return f"SRS0{rest}@{first_host}"
    if len(parts) < 4 or not all(parts[:3]):
        raise SrsError(f"malformed SRS0 address {address!r}")
    digest, stamp, host, user = parts[0], parts[1], parts[2], SRSSEP.join(parts[3:])
    age = stamp_age(stamp, now)
    if age is None:
        raise SrsError(f"bad timestamp {stamp!r} in {address!r}")
    if age > settings.max_age:
        raise SrsError(f"SRS address too old ({age} days > {settings.max_age}): {address!r}")
    _check_hash(digest, settings, stamp, host, user)
    return f"{user}@{host}"


def _check_hash(digest: str, settings: SrsSettings, *parts: str) -> None:
    """The hash must match one secret, compared case-insensitively on at most hash_length characters."""
    if len(digest) < settings.hash_minimum:
        raise SrsError(f"hash too short: {digest!r}")
    size = min(len(digest), settings.hash_length)
    for secret in settings.secrets:
        if srs_hash(secret, settings.hash_length, *parts)[:size].lower() == digest[:size].lower():
            return
    raise SrsError(f"hash invalid: {digest!r}")
