"""Authentication-Results (RFC 8601): what a receiver found, written and read with the ``authres`` package.

:func:`authentication_results` turns this package's verdicts into one header value::

    mx.gmail.example; spf=fail (domain of schweikert.ch does not designate 198.51.100.7 as
    permitted sender) smtp.mailfrom=schweikert.ch; dkim=pass header.d=schweikert.ch
    header.s=mail header.a=rsa-sha256 header.b=fOIXz4P2; dmarc=pass (p=reject dis=none)
    header.from=schweikert.ch; arc=none

Properties follow the registries: ``smtp.mailfrom``/``smtp.helo`` for SPF (the domain, as pyspf and
policyd-spf write it), ``header.d``/``header.i``/``header.s``/``header.a``/``header.b`` for DKIM
(RFC 6008 for ``header.b``), ``header.from`` for DMARC (RFC 7489 §11.2), ``header.<field>`` of the PRA
for Sender ID (RFC 4406), and ``arc=`` with the chain's newest sealer (RFC 8617 §10.1). A reason
is added for failures (``reason="body hash did not verify"``).

:func:`parse` reads such a header back into plain records, every method included (dmarc and arc
need authres's feature modules, loaded here); an unparseable header gives ``None``. authres's parser
drops comments, so only methods, results, reasons and properties come back.

Postfix parameters read: none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import authres
import authres.arc
import authres.core
import authres.dmarc

from mailsim.policy.auth.arc import ArcVerdict
from mailsim.policy.auth.dkim import DkimResult
from mailsim.policy.auth.dmarc import DmarcVerdict
from mailsim.policy.auth.spf import SpfVerdict

_Prop = authres.core.AuthenticationResultProperty


@dataclass(frozen=True, slots=True)
class MethodResult:
    """One ``method=result`` clause read from a header; ``properties`` maps ``ptype.name`` to value."""

    method: str
    result: str
    reason: str = ""
    properties: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str | None:
        return next((value for name, value in self.properties if name == key), None)


@dataclass(frozen=True, slots=True)
class AuthResults:
    """A parsed Authentication-Results header."""

    authserv_id: str
    results: tuple[MethodResult, ...]

    def first(self, method: str) -> MethodResult | None:
        return next((r for r in self.results if r.method == method), None)


def authentication_results(
    authserv_id: str,
    *,
    spf: SpfVerdict | None = None,
    helo: SpfVerdict | None = None,
    dkim: Sequence[DkimResult] = (),
    dmarc: DmarcVerdict | None = None,
    arc: ArcVerdict | None = None,
    senderid: tuple[str, str, str] | None = None,
) -> str:
    """The header *value*: ``authserv-id; method=result ...; ...`` (``none`` when nothing was checked).

    ``senderid`` is ``(result, pra header name, pra address)``.
    """
    results: list[authres.core.AuthenticationResult] = []
    for verdict, kind in ((helo, "helo"), (spf, "mailfrom")):
        if verdict is not None:
            results.append(_spf(verdict, kind))
    results.extend(_dkim(r) for r in dkim)
    if senderid is not None:
        results.append(_result("sender-id", senderid[0], props=[("header", senderid[1].lower(), senderid[2])]))
    if dmarc is not None:
        results.append(_result("dmarc", dmarc.result, dmarc.comment, props=[("header", "from", dmarc.from_domain)]))
    if arc is not None:
        comment = f"i={arc.instances}" if arc.instances else None
        props = [("header", "as-d", arc.sealer)] if arc.sealer else []
        results.append(_result("arc", arc.result, comment, arc.reason if arc.result == "fail" else None, props))
    return authres.AuthenticationResultsHeader(authserv_id=authserv_id, results=results).header_value()


def parse(text: str) -> AuthResults | None:
    """Read a header (with or without its field name, folded or not); ``None`` if it is not valid."""
    unfolded = " ".join(text.replace("\r\n", "\n").split("\n")).strip()
    if not unfolded.lower().startswith("authentication-results:"):
        unfolded = "Authentication-Results: " + unfolded
    context = authres.FeatureContext(authres.dmarc, authres.arc)
    try:
        parsed = context.parse(unfolded)
    except (authres.core.AuthResError, ValueError, IndexError):
        return None
    clauses = []
    for result in parsed.results:
        if not isinstance(result, authres.core.AuthenticationResult):
            continue  # the "none" clause
        props = tuple((f"{p.type}.{p.name}", str(p.value)) for p in result.properties)
        clauses.append(MethodResult(result.method, result.result, str(result.reason or ""), props))
    return AuthResults(str(parsed.authserv_id), tuple(clauses))


def _spf(verdict: SpfVerdict, kind: str) -> authres.core.AuthenticationResult:
    comment = verdict.comment or None
    value = verdict.domain if kind == "mailfrom" else verdict.helo
    return _result("spf", verdict.result, comment, props=[("smtp", kind, value)])


def _dkim(result: DkimResult) -> authres.core.AuthenticationResult:
    props = [("header", "d", result.domain), ("header", "i", result.identity), ("header", "s", result.selector)]
    props += [("header", "a", result.algorithm), ("header", "b", result.header_b)]
    comment = f"{result.key_bits}-bit key" if result.key_bits else None
    reason = result.reason if result.result not in ("pass", "none") else None
    return _result("dkim", result.result, comment, reason, [p for p in props if p[2]])


def _result(
    method: str,
    result: str,
    comment: str | None = None,
    reason: str | None = None,
    props: Sequence[tuple[str, str, str]] = (),
) -> authres.core.AuthenticationResult:
    properties = [_Prop(kind, name, value) for kind, name, value in props if value]
    return authres.core.AuthenticationResult(
        method, result=result, result_comment=_clean(comment), reason=reason, properties=properties
    )


def _clean(comment: str | None) -> str | None:
    """A comment may not hold unbalanced parentheses (RFC 5322 §3.2.2); brackets stand in for them."""
    if not comment:
        return None
    return comment.replace("(", "[").replace(")", "]").replace("\\", "/")
