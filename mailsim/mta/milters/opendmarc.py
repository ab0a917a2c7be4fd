"""opendmarc(8) as a milter: the receiver's DMARC verdict and what it does about it (RFC 7489).

Inputs, as OpenDMARC gathers them: the SPF result from an ``Authentication-Results`` header of a
trusted ``authserv-id`` (``TrustedAuthservIDs``, this host's ``AuthservID`` by default), else from
the topmost ``Received-SPF`` header (policyd-spf's, prepended by smtpd), else - with
``SPFSelfValidate yes`` - its own check; DKIM results from trusted Authentication-Results headers
(opendkim's); the ARC result likewise (openarc's), with the sealer read off the newest ARC-Seal.
The verdict comes from :func:`mailsim.policy.auth.dmarc.check_dmarc` (pct sampled from the host's
``dmarc`` stream) and, when ``TrustedARCSealers`` names the sealer, the local ARC override of
RFC 8617 §7.2 (:func:`~mailsim.policy.auth.dmarc.arc_override`) - not an OpenDMARC option but the
policy large receivers apply.

Disposition: ``reject`` with ``RejectFailures yes`` refuses the message at end of DATA with
``550 5.7.1 rejected by DMARC policy for DOMAIN``; ``quarantine`` with ``HoldQuarantinedMessages
yes`` puts it on hold; otherwise only the ``Authentication-Results: ...; dmarc=...`` header records it.
That header also carries the SPF result DMARC used, unless a trusted Authentication-Results had it.

Postfix parameters read: none. Options read: Socket, AuthservID, TrustedAuthservIDs, RejectFailures,
HoldQuarantinedMessages, SPFSelfValidate, SPFIgnoreResults, IgnoreAuthenticatedClients,
TrustedARCSealers, and mailsim's ProcessingTime (1ms).
"""

from __future__ import annotations

import re

from mailsim.mail.reply import Reply
from mailsim.mta.milters.base import Cost, DaemonContext, MilterAction, MilterMessage, MilterVerdict, trusted_results
from mailsim.mta.milters.conf import DaemonConf
from mailsim.policy.auth.authres import AuthResults, authentication_results
from mailsim.policy.auth.dkim import DkimResult
from mailsim.policy.auth.dmarc import DmarcVerdict, arc_override, check_dmarc, from_domain
from mailsim.policy.auth.spf import SpfVerdict, check_spf

OPTIONS = (
    "Socket", "AuthservID", "TrustedAuthservIDs", "RejectFailures", "HoldQuarantinedMessages", "SPFSelfValidate",
    "SPFIgnoreResults", "IgnoreAuthenticatedClients", "TrustedARCSealers", "ProcessingTime", "Syslog", "UserID",
    "PidFile", "UMask", "PublicSuffixList", "FailureReports", "HistoryFile",
)  # fmt: skip
_SPF_DOMAIN = re.compile(r"envelope-from=<?([^;>\s]*)>?", re.IGNORECASE)
_SPF_HELO = re.compile(r"helo=([^;\s]*)", re.IGNORECASE)
_SEAL_DOMAIN = re.compile(r"(?:^|;)\s*d\s*=\s*([^;\s]+)")
_SEAL_INSTANCE = re.compile(r"(?:^|;)\s*i\s*=\s*(\d+)")


class OpenDmarc:
    """One opendmarc daemon (see the module docstring)."""

    name = "opendmarc"

    def __init__(self, context: DaemonContext, conf: DaemonConf) -> None:
        conf.check(OPTIONS)
        self.context = context
        self.authserv_id = conf.get("AuthservID", context.myhostname) or context.myhostname
        self.trusted = {t.lower() for t in conf.list("TrustedAuthservIDs", self.authserv_id)}
        self.reject = conf.flag("RejectFailures", False)
        self.hold = conf.flag("HoldQuarantinedMessages", False)
        self.self_validate = conf.flag("SPFSelfValidate", False)
        self.ignore_spf = conf.flag("SPFIgnoreResults", False)
        self.ignore_authenticated = conf.flag("IgnoreAuthenticatedClients", False)
        self.sealers = [s.lower() for s in conf.list("TrustedARCSealers")]
        self.timing = Cost(conf.duration("ProcessingTime", 0.001))

    def cost(self, size: int) -> float:
        return self.timing.of(size)

    def end_of_message(self, message: MilterMessage) -> MilterVerdict:
        if self.ignore_authenticated and message.authenticated:
            return MilterVerdict(reason="authenticated client: not checked")
        trusted = trusted_results(message, self.trusted)
        spf, checked = self._spf(message, trusted)
        dkim = _dkim(trusted)
        arc, sealer = _arc(message, trusted)
        verdict = check_dmarc(from_domain(message.content), spf, dkim, self.context.dns,
                              rng=self.context.rng(f"dmarc:{self.context.host}"))  # fmt: skip
        verdict = arc_override(verdict, arc, sealer, self.sealers)
        header = authentication_results(self.authserv_id, spf=spf if checked else None, dmarc=verdict)
        results = (
            ("spf", spf.result if spf else "none"), ("spf_domain", spf.domain if spf else ""),
            ("dkim", _best(dkim)), ("dkim_domains", " ".join(r.domain for r in dkim if r.result == "pass")),
            ("dmarc", verdict.result), ("policy", verdict.policy), ("disposition", verdict.disposition),
            ("from_domain", verdict.from_domain), ("arc", arc), ("arc_sealer", sealer),
        )  # fmt: skip
        verdict_action, reply = self._enforce(verdict)
        return MilterVerdict(verdict_action, reply, (f"Authentication-Results: {header}",),
                             reason=verdict.reason, results=results)  # fmt: skip

    def _enforce(self, verdict: DmarcVerdict) -> tuple[MilterAction, Reply | None]:
        if verdict.disposition == "reject" and self.reject:
            return MilterAction.REJECT, Reply(550, "5.7.1", f"rejected by DMARC policy for {verdict.from_domain}")
        if verdict.disposition == "quarantine" and self.hold:
            return MilterAction.QUARANTINE, None
        return MilterAction.CONTINUE, None

    def _spf(self, message: MilterMessage, trusted: list[AuthResults]) -> tuple[SpfVerdict | None, bool]:
        """(verdict, to be recorded): trusted A-R (already recorded), then Received-SPF, then self-validation."""
        if not self.ignore_spf:
            for results in trusted:
                found = results.first("spf")
                if found is not None:
                    domain = found.get("smtp.mailfrom") or found.get("smtp.helo") or ""
                    return _spf_verdict(found.result, domain.rpartition("@")[2]), False
            received = message.headers("Received-SPF")
            if received:
                return _from_received_spf(received[0]), True
        if not self.self_validate:
            return None, False
        envelope = message.envelope
        verdict = check_spf(message.client_address, envelope.mail_from, message.helo, self.context.dns,
                            receiver=self.authserv_id, now=message.now)  # fmt: skip
        return verdict, True


def _spf_verdict(result: str, domain: str) -> SpfVerdict:
    """An SPF verdict known only by its result and domain (read from a header)."""
    return SpfVerdict(result.lower(), "", None, "mailfrom", domain.lower(), "", "", "", 0, 0, 0, 0.0, None, "")


def _from_received_spf(value: str) -> SpfVerdict:
    """``Fail (mailfrom) identity=mailfrom; ...; envelope-from=david@schweikert.ch; ...`` read back."""
    result = value.split(None, 1)[0] if value.strip() else "none"
    found = _SPF_DOMAIN.search(value)
    sender = found.group(1) if found else ""
    domain = sender.rpartition("@")[2] if "@" in sender else ""
    if not domain:
        helo = _SPF_HELO.search(value)
        domain = helo.group(1) if helo else ""
    return _spf_verdict(result, domain)


def _dkim(trusted: list[AuthResults]) -> list[DkimResult]:
    found = []
    for results in trusted:
        for clause in results.results:
            if clause.method == "dkim":
                domain = clause.get("header.d") or (clause.get("header.i") or "").rpartition("@")[2]
                found.append(DkimResult(domain, clause.get("header.s") or "", clause.result, clause.reason))
    return found


def _arc(message: MilterMessage, trusted: list[AuthResults]) -> tuple[str, str]:
    """The trusted arc= result and the domain of the newest ARC-Seal."""
    result = next((c.result for r in trusted for c in r.results if c.method == "arc"), "none")
    newest, sealer = -1, ""
    for seal in message.headers("ARC-Seal"):
        instance, domain = _SEAL_INSTANCE.search(seal), _SEAL_DOMAIN.search(seal)
        if instance and domain and int(instance.group(1)) > newest:
            newest, sealer = int(instance.group(1)), domain.group(1).lower()
    return result, sealer


def _best(results: list[DkimResult]) -> str:
    """One word for the table: pass if any signature passed, else the first result (none without any)."""
    if any(r.result == "pass" for r in results):
        return "pass"
    return results[0].result if results else "none"
