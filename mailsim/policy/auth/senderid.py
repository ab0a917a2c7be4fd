"""Sender ID (RFC 4406/4407, historic): SPF's machinery applied to an address taken from the headers.

Microsoft's Sender ID checks the *Purported Responsible Address* (PRA, RFC 4407 §2) rather than the
envelope sender: the first non-empty ``Resent-Sender`` (unless a ``Resent-From`` heads a newer resent
block, i.e. comes before it with ``Received``/``Return-Path`` fields in between), else the first
``Resent-From``, else the one ``Sender``, else the one ``From``; several Sender or From fields, or a
field without exactly one mailbox with a domain, leave no PRA (the message is ill-formed: permerror).

The PRA's domain publishes ``spf2.0/pra`` (or ``spf2.0/mfrom,pra``) records; with none, its ``v=spf1``
record is used as if it said ``spf2.0/mfrom,pra`` (RFC 4406 §3.4) - the reuse of SPF records the IESG
note warns about. Two records for the scope are a permerror. Evaluation is pyspf's, through the same
simulated DNS as SPF: :class:`_PraQuery` only changes which record is selected (for the PRA domain and
for ``include:``/``redirect=`` targets) and hands pyspf the record's terms under a ``v=spf1`` version.

Where Sender ID and SPF disagree is the lesson: a mailing list or forwarder that adds ``Resent-From``
or ``Sender`` makes the PRA its own domain, so Sender ID can pass a message SPF fails (and vice versa:
a plain forwarder that adds nothing keeps the author's From, so both fail). Sender ID was abandoned
partly because the PRA is a header the recipient sees, while the check looked at headers MUAs do
not show.

Postfix parameters read: none.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Sequence
from dataclasses import dataclass

import dkim as dkimpy
import spf as pyspf

from mailsim.policy.auth.dnsview import DnsQuery
from mailsim.policy.auth.spf import VOID_LIMIT, SimQuery, SpfVerdict, evaluate

_SPF2 = re.compile(rb"^spf2\.0/([A-Za-z,]+)(?: |$)", re.IGNORECASE)
Header = tuple[str, str]


@dataclass(frozen=True, slots=True)
class SenderIdVerdict:
    """Sender ID's result, the PRA it judged and the header it came from, and the SPF-style detail."""

    result: str
    pra: str | None
    pra_header: str | None
    reason: str = ""
    spf: SpfVerdict | None = None

    @property
    def dns_time(self) -> float:
        return self.spf.dns_time if self.spf is not None else 0.0


def headers_of(message: bytes) -> list[Header]:
    """The message's header fields, top first, as (name, unfolded value) text."""
    try:
        fields, _ = dkimpy.rfc822_parse(message)
    except (dkimpy.DKIMException, IndexError, ValueError):  # e.g. a message starting with a continuation line
        return []
    return [(_text(name), " ".join(_text(value).split())) for name, value in fields]


def pra(headers: Sequence[Header]) -> tuple[str, str] | None:
    """(header name, address) of the Purported Responsible Address (RFC 4407 §2), or ``None``."""
    lowered = [(name.lower(), value) for name, value in headers if value.strip()]
    chosen = _resent_sender(lowered) or _first(lowered, "resent-from")
    if chosen is None:
        for name in ("sender", "from"):
            found = [(n, v) for n, v in lowered if n == name]
            if len(found) > 1:
                return None
            if found:
                chosen = found[0]
                break
    if chosen is None:
        return None
    mailboxes = [addr for _, addr in email.utils.getaddresses([chosen[1]]) if addr]
    if len(mailboxes) != 1 or "@" not in mailboxes[0] or not mailboxes[0].rpartition("@")[2]:
        return None
    return _canonical_name(chosen[0]), mailboxes[0]


def check_senderid(
    ip: str, headers: Sequence[Header], helo: str, dns: DnsQuery, *, receiver: str = "unknown", now: float = 0.0
) -> SenderIdVerdict:
    """Sender ID for a message from ``ip`` (see the module docstring)."""
    found = pra(headers)
    if found is None:
        return SenderIdVerdict("permerror", None, None, "no Purported Responsible Address (RFC 4407 §2)")
    header, address = found
    query = _PraQuery(dns, void_limit=VOID_LIMIT, now=now, i=ip, s=address, h=helo, receiver=receiver)
    query.ident = "pra"
    verdict = evaluate(query, receiver)
    return SenderIdVerdict(verdict.result, address, header, verdict.explanation, verdict)


class _PraQuery(SimQuery):
    """pyspf's query selecting ``spf2.0/pra`` records first, ``v=spf1`` as the fallback (RFC 4406 §3.4)."""

    def dns_spf(self, domain: str) -> str | None:
        if not domain or any(not label or len(label) > 63 for label in domain.split(".")):
            return None
        records = self.dns_txt(domain)
        scoped = []
        for text in records:
            match = _SPF2.match(text)
            if match and b"pra" in match.group(1).lower().split(b","):
                scoped.append(text)
        if len(scoped) > 1:
            raise pyspf.PermError("Two or more spf2.0 records with the pra scope found.")
        if scoped:
            terms = scoped[0][_SPF2.match(scoped[0]).end() :]  # type: ignore[union-attr]
            return "v=spf1 " + pyspf.to_ascii(terms.strip())
        return super().dns_spf(domain)


def _resent_sender(headers: list[tuple[str, str]]) -> tuple[str, str] | None:
    """Step 1: the first Resent-Sender, unless a newer resent block begins with a Resent-From."""
    for index, (name, value) in enumerate(headers):
        if name != "resent-sender":
            continue
        before = [n for n, _ in headers[:index]]
        if "resent-from" in before:
            after_from = before[before.index("resent-from") + 1 :]
            if any(n in ("received", "return-path") for n in after_from):
                return None
        return name, value
    return None


def _first(headers: list[tuple[str, str]], wanted: str) -> tuple[str, str] | None:
    return next(((n, v) for n, v in headers if n == wanted), None)


def _canonical_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace").strip()
