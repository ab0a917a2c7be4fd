"""Forgery signals: is the author's domain (From) one that anything authenticated?

Phishing forges the From header, which neither SMTP nor SPF looks at. This milter asks what DMARC
asks, without needing a DMARC record: is the RFC 5322.From domain aligned (same organizational
domain) with an identity that *passed* - the envelope sender's domain when SPF passed, or the
``d=`` of a DKIM signature that verified? It reads those results from the Authentication-Results
headers of ``TrustedAuthservIDs`` (default this host) and the topmost Received-SPF, and reports
what it finds in one header::

    X-Forgery-Signals: from-not-aligned (header.from=schweikert.ch spf=fail smtp.mailfrom=schweikert.ch dkim.pass=none)

Signals: ``from-not-aligned`` (nothing authenticated the From domain), ``display-name-address`` (the
display name holds an address in another domain, a classic phishing trick), ``reply-to-elsewhere``
(Reply-To in another organizational domain). A message with no signal gets no header. The seed's
forwarded message is flagged - forwarding looks exactly like forgery to SPF - unless its DKIM
signature survived the trip.

Postfix parameters read: none. Options read: Socket, TrustedAuthservIDs, HeaderName, ProcessingTime (1ms).
"""

from __future__ import annotations

import email.utils
import re

from mailsim.mta.milters.base import Cost, DaemonContext, MilterMessage, MilterVerdict, trusted_results
from mailsim.mta.milters.conf import DaemonConf
from mailsim.policy.auth.dmarc import from_domain, organizational_domain

OPTIONS = ("Socket", "TrustedAuthservIDs", "HeaderName", "ProcessingTime")
_ADDRESS = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")


class ForgeryMilter:
    """The forgery-signal daemon (see the module docstring)."""

    name = "forgery-milter"

    def __init__(self, context: DaemonContext, conf: DaemonConf) -> None:
        conf.check(OPTIONS)
        self.trusted = {t.lower() for t in conf.list("TrustedAuthservIDs", context.myhostname)}
        self.header = conf.get("HeaderName", "X-Forgery-Signals") or "X-Forgery-Signals"
        self.timing = Cost(conf.duration("ProcessingTime", 0.001))

    def cost(self, size: int) -> float:
        return self.timing.of(size)

    def signals(self, message: MilterMessage) -> list[str]:
        """Every signal the message raises (see the module docstring)."""
        author = from_domain(message.content)
        if author is None:
            return ["from-not-aligned (not exactly one From domain)"]
        org = organizational_domain(author)
        found = []
        spf, passed = self._authenticated(message)
        sender = message.envelope.mail_from.rpartition("@")[2].lower()
        spf_ok = spf == "pass" and organizational_domain(sender or "-") == org
        if not spf_ok and not any(organizational_domain(d) == org for d in passed):
            dkim = " ".join(f"dkim.pass={d}" for d in passed) or "dkim.pass=none"
            found.append(f"from-not-aligned (header.from={author} spf={spf} smtp.mailfrom={sender or '<>'} {dkim})")
        for name, _ in email.utils.getaddresses(message.headers("From")):
            other = _ADDRESS.search(name)
            if other and organizational_domain(other.group(1)) != org:
                found.append(f"display-name-address ({other.group(0)})")
        for _, address in email.utils.getaddresses(message.headers("Reply-To")):
            domain = address.rpartition("@")[2]
            if domain and organizational_domain(domain) != org:
                found.append(f"reply-to-elsewhere ({domain})")
        return found

    def _authenticated(self, message: MilterMessage) -> tuple[str, list[str]]:
        """(the SPF result for the envelope sender, the d= of every DKIM signature that passed)."""
        clauses = [c for r in trusted_results(message, self.trusted) for c in r.results]
        spf = next((c.result for c in clauses if c.method == "spf"), None)
        received = message.headers("Received-SPF")
        if spf is None and received and received[0].strip():
            spf = received[0].split(None, 1)[0].lower()
        passed = [c.get("header.d") or "" for c in clauses if c.method == "dkim" and c.result == "pass"]
        return spf or "none", passed

    def end_of_message(self, message: MilterMessage) -> MilterVerdict:
        found = self.signals(message)
        results = (("signals", "; ".join(found) or "none"),)
        if not found:
            return MilterVerdict(results=results)
        return MilterVerdict(headers=(f"{self.header}: {'; '.join(found)}",), results=results)
