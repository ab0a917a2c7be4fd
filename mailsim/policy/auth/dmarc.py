"""DMARC (RFC 7489): policy discovery, identifier alignment, and the receiver's disposition.

Theory of operation
-------------------
1. The RFC 5322.From domain (exactly one; otherwise permerror, §6.6.1) names the policy: the TXT
   records at ``_dmarc.<from domain>`` that start with ``v=DMARC1``; if there is none, those at
   ``_dmarc.<organizational domain>`` (§6.6.3). Several records, or none, mean no policy: ``none``.
   A SERVFAIL or timeout is ``temperror``.
2. The organizational domain (§3.2) comes from a public suffix list. mailsim does not ship the
   Mozilla list: the simulated Internet holds only scenario zones, so the rule is "the last two
   labels", or three when the last two are in :data:`MULTI_LABEL_SUFFIXES` (``co.uk``, ``com.au`` and
   similar). A scenario that needs more passes ``suffixes=``.
3. Alignment (§3.1): SPF is aligned when it *passed* for a domain that matches the From domain,
   DKIM when a signature *passed* with a matching ``d=``; relaxed mode (``r``, the default) compares
   organizational domains, strict (``s``) the names themselves. DMARC passes if either aligns.
4. Policy (§6.3, §6.6.4): ``p=`` for the From domain itself, ``sp=`` (default ``p``) when the record
   came from the organizational domain. A failing message gets that disposition, unless ``pct`` < 100
   and the random draw leaves it out: then the next milder policy applies (reject -> quarantine,
   quarantine -> none). The draw comes from the ``rng`` the caller passes (a named stream of the
   run); without one every failing message is sampled in.

The forwarding problem of the seed shows up here: SPF at the final receiver checks the relay
(fail, or with SRS a pass for the *forwarder's* domain, which is not aligned), so only an intact
aligned DKIM signature - or a trusted ARC chain (:func:`arc_override`) - saves the message.

Postfix parameters read: none.
"""

from __future__ import annotations

import email.utils
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from mailsim.policy.auth.dkim import DkimResult
from mailsim.policy.auth.dnsview import TEMPORARY, DnsQuery, Meter, txt_records
from mailsim.policy.auth.spf import SpfVerdict

MULTI_LABEL_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "net.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au",
        "co.nz", "org.nz", "net.nz", "co.jp", "ne.jp", "or.jp", "ac.jp",
        "co.za", "org.za", "com.br", "net.br", "com.cn", "net.cn", "org.cn",
        "co.in", "com.mx", "com.tr", "co.kr", "com.sg", "com.hk", "co.il",
    }
)  # fmt: skip
POLICIES = ("none", "quarantine", "reject")
_MILDER = {"reject": "quarantine", "quarantine": "none", "none": "none"}


class Uniform(Protocol):
    """What pct sampling needs of a random stream (a numpy ``Generator`` has it)."""

    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    """A parsed ``v=DMARC1`` record (RFC 7489 §6.3); unknown tags are ignored, as §6.3 says."""

    p: str
    sp: str
    pct: int = 100
    adkim: str = "r"
    aspf: str = "r"
    rua: str = ""
    ruf: str = ""
    fo: str = "0"
    text: str = ""


@dataclass(frozen=True, slots=True)
class DmarcVerdict:
    """The DMARC outcome for one message: result, what to do with it, and why."""

    result: str  # none | pass | fail | temperror | permerror
    disposition: str  # none | quarantine | reject
    from_domain: str
    policy: str = "none"  # the p= or sp= that applied
    record_domain: str = ""
    org_domain: str = ""
    spf_aligned: bool = False
    dkim_aligned: bool = False
    sampled: bool = True
    reason: str = ""
    record: DmarcRecord | None = None
    dns_time: float = 0.0

    @property
    def comment(self) -> str:
        """OpenDMARC's Authentication-Results comment: ``p=reject dis=none``."""
        return f"p={self.policy} dis={self.disposition}"


def parse_record(text: str) -> DmarcRecord | None:
    """A record from TXT text, or ``None`` when it is not a valid DMARC record (§6.3, §6.6.3)."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags.setdefault(name.strip().lower(), value.strip())
    if tags.get("v") != "DMARC1" or not text.lstrip().startswith("v"):
        return None
    p = tags.get("p", "").lower()
    if p not in POLICIES:
        if "p" in tags or not tags.get("rua"):
            return None
        p = "none"  # §6.6.3: no p= but a valid rua= is read as p=none
    sp = tags.get("sp", p).lower()
    pct = tags.get("pct", "100")
    if sp not in POLICIES or not pct.isdigit() or int(pct) > 100:
        return None
    adkim, aspf = tags.get("adkim", "r").lower(), tags.get("aspf", "r").lower()
    if adkim not in ("r", "s") or aspf not in ("r", "s"):
        return None
    return DmarcRecord(
        p, sp, int(pct), adkim, aspf, tags.get("rua", ""), tags.get("ruf", ""), tags.get("fo", "0"), text
    )


def organizational_domain(domain: str, suffixes: Collection[str] = MULTI_LABEL_SUFFIXES) -> str:
    """The registered domain: the last two labels, three below a known two-label public suffix."""
    labels = domain.lower().rstrip(".").split(".")
    keep = 3 if len(labels) >= 3 and ".".join(labels[-2:]) in suffixes else 2
    return ".".join(labels[-keep:])


def aligned(a: str, b: str, mode: str, suffixes: Collection[str] = MULTI_LABEL_SUFFIXES) -> bool:
    """RFC 7489 §3.1: strict compares names, relaxed their organizational domains."""
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    if mode == "s":
        return a == b
    return organizational_domain(a, suffixes) == organizational_domain(b, suffixes)


def from_domain(message: bytes) -> str | None:
    """The single From domain of a message (§6.6.1), or ``None`` when there is not exactly one."""
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("utf-8", "replace")
    unfolded = head.replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ")
    values = [line.split(":", 1)[1] for line in unfolded.split("\n") if line.lower().startswith("from:")]
    if len(values) != 1:
        return None
    addresses = [addr for _, addr in email.utils.getaddresses(values) if addr]
    domains = {addr.rpartition("@")[2].lower() for addr in addresses if "@" in addr}
    return domains.pop() if len(domains) == 1 and len(addresses) == 1 else None


def check_dmarc(
    from_dom: str | None,
    spf: SpfVerdict | None,
    dkim: Sequence[DkimResult],
    dns: DnsQuery,
    *,
    rng: Uniform | None = None,
    suffixes: Collection[str] = MULTI_LABEL_SUFFIXES,
) -> DmarcVerdict:
    """The DMARC verdict for a message whose From domain is ``from_dom`` (see the module docstring)."""
    if not from_dom:
        return DmarcVerdict("permerror", "none", "", reason="not exactly one From domain (RFC 7489 §6.6.1)")
    meter = Meter(dns)
    found = _discover(from_dom.lower().rstrip("."), meter, suffixes)
    if isinstance(found, DmarcVerdict):
        return replace(found, dns_time=meter.latency)
    record, record_domain = found
    org = organizational_domain(from_dom, suffixes)
    spf_ok = spf is not None and spf.result == "pass" and aligned(spf.domain, from_dom, record.aspf, suffixes)
    dkim_ok = any(r.result == "pass" and aligned(r.domain, from_dom, record.adkim, suffixes) for r in dkim)
    policy = record.p if record_domain == from_dom.lower().rstrip(".") else record.sp
    base = DmarcVerdict(
        "pass", "none", from_dom, policy, record_domain, org, spf_ok, dkim_ok, True, "", record, meter.latency
    )
    if spf_ok or dkim_ok:
        return base
    sampled = record.pct >= 100 or rng is None or rng.random() * 100 < record.pct
    disposition = policy if sampled else _MILDER[policy]
    return replace(base, result="fail", disposition=disposition, sampled=sampled, reason=_why(spf, dkim))


def arc_override(verdict: DmarcVerdict, arc_result: str, sealer: str, trusted: Collection[str]) -> DmarcVerdict:
    """RFC 8617 §7.2 local policy: a DMARC failure is let through when a trusted sealer's chain passed."""
    if verdict.result != "fail" or arc_result != "pass" or sealer.lower() not in {t.lower() for t in trusted}:
        return verdict
    return replace(verdict, disposition="none", reason=f"{verdict.reason}; local policy: trusted ARC sealer {sealer}")


def _discover(domain: str, meter: Meter, suffixes: Collection[str]) -> tuple[DmarcRecord, str] | DmarcVerdict:
    """§6.6.3: the From domain's record, else the organizational domain's."""
    candidates = [domain]
    org = organizational_domain(domain, suffixes)
    if org != domain:
        candidates.append(org)
    for name in candidates:
        status, texts = txt_records(meter, f"_dmarc.{name}")
        if status in TEMPORARY:
            return DmarcVerdict("temperror", "none", domain, reason=f"_dmarc.{name}: DNS {status}")
        records = [
            r for r in (parse_record(t.decode("ascii", "replace")) for t in texts if t[:8].lower() == b"v=dmarc1") if r
        ]
        if len(records) == 1:
            return records[0], name
        if len(records) > 1:
            return DmarcVerdict("none", "none", domain, reason=f"_dmarc.{name}: more than one DMARC record")
    return DmarcVerdict("none", "none", domain, reason="no DMARC record")


def _why(spf: SpfVerdict | None, dkim: Sequence[DkimResult]) -> str:
    spf_text = f"spf={spf.result} for {spf.domain}" if spf is not None else "spf not checked"
    dkim_text = ", ".join(f"dkim={r.result} d={r.domain}" for r in dkim) or "no dkim"
    return f"no aligned pass ({spf_text}; {dkim_text})"
