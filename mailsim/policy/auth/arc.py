"""ARC (RFC 8617): a forwarder seals what it saw, the final receiver validates the chain. dkimpy does both.

At a forwarder (mail-relay.atrust.com in the seed) the order is: check the incoming message (SPF,
DKIM, DMARC, and ``arc`` if it already carries a chain), write those results as its own
``Authentication-Results`` header, then :func:`seal`. dkimpy copies that header's results into the
new ``ARC-Authentication-Results`` (AAR), takes the chain status ``cv=`` from its ``arc=`` result
(``none`` for the first hop), and signs the message (``ARC-Message-Signature``, relaxed/relaxed,
like a DKIM signature) and the chain (``ARC-Seal``). Instance numbers ``i=`` count the hops.

At the final receiver :func:`validate` gives ``none`` (no chain), ``pass`` (every seal and the newest
message signature verify, ``cv=`` values consistent) or ``fail``. A later hop that edits the body
breaks only the newest AMS check if it seals again; one that edits and does not seal breaks the
chain. What the first sealer saw - typically ``dkim=pass`` before a footer was added - stays
readable in its AAR, which is what a receiver's local policy can trust (:func:`dmarc.arc_override`).

dkimpy signs ARC with rsa-sha256 only; ``t=`` is the simulated ``now``. Key lookups go through the
simulated DNS; a SERVFAIL/timeout makes the chain ``fail`` with ``temporary`` set.

Postfix parameters read: none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dkim as dkimpy

from mailsim.policy.auth.dkim import SigningError, Silent, dnsfunc
from mailsim.policy.auth.dnsview import DnsQuery, Meter
from mailsim.policy.auth.keys import DkimKey

_QUIET = Silent()
_MALFORMED = (dkimpy.DKIMException, ValueError, KeyError, IndexError, TypeError)


@dataclass(frozen=True, slots=True)
class ArcVerdict:
    """The chain's validation at this receiver; ``aar`` is what the newest sealer had seen."""

    result: str  # none | pass | fail
    reason: str
    instances: int = 0
    sealer: str = ""
    aar: str = ""
    temporary: bool = False
    dns_time: float = 0.0


def seal(
    message: bytes,
    key: DkimKey,
    *,
    authserv_id: str,
    now: float,
    auth_results: str | None = None,
    headers: Sequence[str] | None = None,
) -> bytes:
    """``message`` with the forwarder's ARC set on top (and its ``Authentication-Results`` below it).

    ``auth_results`` is the forwarder's Authentication-Results *value* (``authserv-id; spf=...``); when
    given it is added first. The message must carry an Authentication-Results from ``authserv_id``.
    """
    if key.algorithm != "rsa":
        raise SigningError("dkimpy seals ARC with rsa-sha256 only")
    if auth_results is not None:
        message = f"Authentication-Results: {auth_results}\r\n".encode() + message
    try:
        arc = dkimpy.ARC(message, logger=_QUIET, signature_algorithm=b"rsa-sha256", linesep=b"\r\n")
        include = [h.encode() for h in headers] if headers else arc.default_sign_headers()
        fields = arc.sign(
            key.selector.encode(),
            key.domain.encode(),
            key.signing_key,
            authserv_id.encode(),
            include_headers=include,
            timestamp=int(now),
        )
    except _MALFORMED as error:
        raise SigningError(f"ARC sealing failed: {error}") from None
    if not fields:
        raise SigningError(f"no Authentication-Results from {authserv_id} (or a chain ended) to seal")
    return b"".join(fields) + message


def validate(message: bytes, dns: DnsQuery) -> ArcVerdict:
    """The chain's state: none, pass or fail (see the module docstring). Never raises."""
    meter = Meter(dns)
    try:
        arc = dkimpy.ARC(message, logger=_QUIET)
        cv, results, reason = arc.verify(dnsfunc=dnsfunc(dns, meter))
    except _MALFORMED as error:
        return ArcVerdict(
            "fail", f"malformed ARC set: {error}", temporary=bool(meter.temporary), dns_time=meter.latency
        )
    result = {dkimpy.CV_Pass: "pass", dkimpy.CV_None: "none"}.get(cv, "fail")
    newest = results[0] if results else {}
    sealer = newest.get("as-domain", b"").decode("ascii", "replace")
    aar = newest.get("aar-value", b"").decode("utf-8", "replace").strip()
    temporary = result == "fail" and bool(meter.temporary)
    why = f"{reason} ({'; '.join(meter.temporary)})" if temporary else reason
    return ArcVerdict(result, why, len(results), sealer, aar, temporary, meter.latency)
