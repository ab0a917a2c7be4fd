"""SPF (RFC 7208) evaluated by pyspf against the simulated DNS, and the ``Received-SPF`` header.

Theory of operation
-------------------
pyspf does all of RFC 7208: record selection (§4.5), mechanisms and modifiers (§5, §6), macros
(§7, including ``%{t}`` and ``%{r}``), the limit of 10 terms that cause DNS lookups and of 2 void
lookups (§4.6.4), ``exp=`` explanations (§6.2) and the seven results (§2.6). Only its DNS is
replaced, and only per query object: :class:`SimQuery` subclasses ``spf.query`` and overrides its
``dns()`` method, which every pyspf lookup (``dns_txt``, ``dns_a``, ``dns_mx``, ``dns_ptr``) goes
through. pyspf's module-level ``spf.DNSLookup`` (and ``spf.MAX_VOID_LOOKUPS``, which
postfix-policyd-spf-python overwrites) are never touched, so any number of simulations, each with
its own resolver, can check SPF in one process at once.

The override keeps pyspf's contract for ``dns()`` - a list of values, ``[]`` for no data, a
per-query cache, void lookups counted against the limit, ``TempError`` on a DNS failure - but the
CNAME chain is followed by the simulated resolver (a loop or an over-long chain is SERVFAIL there,
hence a temperror here). Two things differ from pyspf and follow the RFC:

- ``ptr`` validation (§5.5): a DNS error while looking up the A/AAAA records of one PTR name skips
  that name instead of ending the check with temperror ("that domain name is skipped and the
  search continues");
- no clock is read: ``%{t}`` is the ``now`` argument (Unix seconds of the simulated wall clock).

Results are pyspf's (none, neutral, pass, fail, softfail, temperror, permerror); the
:class:`SpfVerdict` also carries what the check cost in DNS queries and modelled time.

Postfix parameters read: none (the receiving smtpd consults this through :mod:`spfpolicy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import spf as pyspf

from mailsim.policy.auth.dnsview import DnsQuery, Meter, askable, status_of

RESULTS = ("none", "neutral", "pass", "fail", "softfail", "temperror", "permerror")
VOID_LIMIT = 2  # RFC 7208 §4.6.4
_PTR_LIMIT = 10  # RFC 7208 §4.6.4: at most 10 PTR names are looked up
_HEADER_RESULTS = {
    "pass": "Pass",
    "neutral": "Neutral",
    "fail": "Fail",
    "softfail": "SoftFail",
    "none": "None",
    "temperror": "TempError",
    "permerror": "PermError",
}


@dataclass(frozen=True, slots=True)
class SpfVerdict:
    """One SPF check: the result, why, which term decided, and what it cost in DNS.

    ``header_value`` is the ``Received-SPF`` field body exactly as pyspf writes it (RFC 7208 §9.1);
    ``dns_time`` is the modelled latency of its queries, for the caller to charge.
    """

    result: str
    explanation: str
    mechanism: str | None
    identity: str
    domain: str
    sender: str
    client_ip: str
    helo: str
    lookups: int
    void_lookups: int
    dns_queries: int
    dns_time: float
    problem: str | None
    header_value: str
    code: int = 250
    comment: str = ""

    @property
    def header(self) -> str:
        """The whole ``Received-SPF:`` header field."""
        return f"Received-SPF: {self.header_value}"

    @property
    def is_temporary(self) -> bool:
        return self.result == "temperror"


class SimQuery(pyspf.query):  # type: ignore[misc]
    """``spf.query`` whose DNS is a :data:`DnsQuery` given to this object (nothing global is patched)."""

    def __init__(self, dns: DnsQuery, *, void_limit: int = VOID_LIMIT, now: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ask = Meter(dns)
        self.void_limit = void_limit
        self.t = str(int(now))  # pyspf read time.time(); the simulation's clock is an argument

    def dns(self, name: str, qtype: str, cnames: Any = None, ignore_void: bool = False) -> list[Any]:
        """pyspf's DNS entry point, answered by the simulated DNS (see the module docstring)."""
        if not name:
            raise pyspf.PermError("empty domain name in DNS query")
        name = str(name).rstrip(".").lower()
        if not askable(name):
            return []  # pyspf too answers nothing for an invalid name, and counts no void lookup
        key = (name, qtype)
        if key not in self.cache:
            self.cache[key] = self._ask(name, qtype)
        result = list(self.cache[key])
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > self.void_limit:
                raise pyspf.PermError(f"Void lookup limit of {self.void_limit} exceeded")
        return result

    def _ask(self, name: str, qtype: str) -> list[Any]:
        """One query in pyspf's value shapes: TXT as a tuple of byte strings, MX as (pref, host)."""
        answer = self.ask(name, qtype)
        status = status_of(answer)
        if status in ("SERVFAIL", "TIMEOUT"):
            raise pyspf.TempError(f"DNS {status} for {name}/{qtype}")
        if status != "NOERROR":
            return []
        if qtype in ("TXT", "SPF"):
            return [(value if isinstance(value, bytes) else str(value).encode(),) for value in answer.values]
        return list(answer.values)

    def validated_ptrs(self) -> list[str]:
        """RFC 7208 §5.5: PTR names whose address records include the client; errors skip a name."""
        if self.strict > 1:
            return list(super().validated_ptrs())
        limit = _PTR_LIMIT if self.strict else _PTR_LIMIT * 4
        valid = []
        for name in self.dns_ptr(self.i)[:limit]:
            try:
                if self.cidrmatch(self.dns_a(name, self.A), self.cidrmax):
                    valid.append(name)
            except pyspf.TempError:
                continue
        return valid


def check_spf(
    ip: str,
    mail_from: str,
    helo: str,
    dns: DnsQuery,
    *,
    receiver: str = "unknown",
    now: float = 0.0,
    strict: bool | int = True,
    void_limit: int = VOID_LIMIT,
    default_explanation: str | None = None,
) -> SpfVerdict:
    """Check ``ip`` against the SPF policy of the MAIL FROM domain (of HELO for the null sender).

    ``receiver`` is the checking host (``%{r}`` and the header's ``receiver=``), ``now`` the
    simulated Unix time (``%{t}``). A null ``mail_from`` checks ``postmaster@helo`` with identity
    ``helo`` (RFC 7208 §2.4).
    """
    try:
        query = SimQuery(
            dns, void_limit=void_limit, now=now, i=ip, s=mail_from, h=helo, receiver=receiver, strict=strict
        )
    except pyspf.PermError as error:  # an unparseable client address
        return _bad_input(ip, mail_from, helo, receiver, str(error))
    if default_explanation is not None:
        query.set_default_explanation(default_explanation)
    return evaluate(query, receiver)


def check_helo(ip: str, helo: str, dns: DnsQuery, *, receiver: str = "unknown", now: float = 0.0) -> SpfVerdict:
    """The HELO identity check of RFC 7208 §2.3 (checks ``postmaster@helo``)."""
    return check_spf(ip, "", helo, dns, receiver=receiver, now=now)


def evaluate(query: SimQuery, receiver: str, record: str | None = None) -> SpfVerdict:
    """Run a prepared query (``record`` overrides the DNS lookup of the first record) into a verdict."""
    result, code, explanation = query.check(record)
    result = pyspf.RESULTS.get(result, result)
    problem = getattr(query, "prob", None) if result in ("permerror", "temperror") else None
    known = result in _HEADER_RESULTS
    header = query.get_header(result, receiver=receiver) if known else ""
    return SpfVerdict(
        result=result,
        explanation=explanation,
        mechanism=query.mechanism,
        identity=query.ident,
        domain=query.o,
        sender=query.s,
        client_ip=query.c,
        helo=query.h,
        lookups=query.lookups,
        void_lookups=query.void_lookups,
        dns_queries=query.ask.queries,
        dns_time=query.ask.latency,
        problem=problem,
        header_value=header,
        code=code,
        comment=query.get_header_comment(result) if known else "",
    )


def _bad_input(ip: str, mail_from: str, helo: str, receiver: str, why: str) -> SpfVerdict:
    """A client address pyspf cannot parse is a permerror without any DNS query."""
    comment = f"invalid client address {ip!r}"
    header = f"PermError ({receiver}: {comment}) helo={pyspf.quote_value(helo)}; identity=mailfrom"
    explanation = f"SPF Permanent Error: {why}"
    return SpfVerdict(
        "permerror", explanation, None, "mailfrom", "", mail_from, ip, helo, 0, 0, 0, 0.0, why, header, 550, comment
    )
