"""spamass-milter(1) with SpamAssassin: a score per message, X-Spam-* headers, a reject threshold.

Configured in ``spamass-milter.conf`` (mailsim's file: the milter's options and SpamAssassin's
``local.cf`` rules in one place)::

    Socket          unix:/run/spamass/spamass.sock
    RequiredScore   5.0                 # required_score: at or above, the message is spam
    RejectScore     15                  # spamass-milter -r: reject at or above (default: never)
    Score SPF_FAIL  3.5                 # change a built-in test's score
    Rule  LOTTERY   4.0 body /you have (won|been selected)/i
    Rule  URGENT    1.0 header:Subject /urgent/i

Built-in tests read the authentication results this host's milters and policyd-spf wrote
(Authentication-Results from ``TrustedAuthservIDs``, default the host name, and the topmost
Received-SPF): SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, DKIM_VALID, DKIM_INVALID, DMARC_FAIL, ARC_VALID,
and FROM_NOT_ALIGNED when the forgery milter flagged the message; their default scores are
SpamAssassin 4's where it has the test. Headers are SpamAssassin's: ``X-Spam-Checker-Version``,
``X-Spam-Level``, ``X-Spam-Status: Yes, score=5.9 required=5.0 tests=... autolearn=no``, and
``X-Spam-Flag: YES`` for spam. Rejects are spamass-milter's ``550 5.7.1 Blocked by SpamAssassin``.

Postfix parameters read: none. Options read: Socket, RequiredScore, RejectScore, Score, Rule,
TrustedAuthservIDs, ProcessingTime (300ms + 5MB/s).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailsim.mail.reply import Reply
from mailsim.mta.filters.rules import compile_pattern
from mailsim.mta.milters.base import (
    Cost,
    DaemonContext,
    MilterAction,
    MilterMessage,
    MilterVerdict,
    text_of,
    trusted_results,
)  # fmt: skip
from mailsim.mta.milters.conf import DaemonConf

VERSION = "SpamAssassin 4.0.0 (2022-12-13)"
BLOCKED = "Blocked by SpamAssassin"
BUILTIN = {
    "SPF_PASS": -0.001, "SPF_FAIL": 0.919, "SPF_SOFTFAIL": 0.665, "DKIM_VALID": -0.1, "DKIM_INVALID": 0.1,
    "DMARC_FAIL": 2.0, "ARC_VALID": -0.1, "FROM_NOT_ALIGNED": 1.0,
}  # fmt: skip
OPTIONS = ("Socket", "RequiredScore", "RejectScore", "Score", "Rule", "TrustedAuthservIDs", "ProcessingTime")


@dataclass(frozen=True, slots=True)
class Rule:
    """A user rule: a pattern over the body text or one header field."""

    name: str
    score: float
    where: str  # "body" or a header field name
    pattern: re.Pattern[str]


class SpamassMilter:
    """spamass-milter with its spamd (see the module docstring)."""

    name = "spamass-milter"

    def __init__(self, context: DaemonContext, conf: DaemonConf) -> None:
        conf.check(OPTIONS)
        self.host = context.myhostname
        self.required = conf.number("RequiredScore", 5.0)
        reject = conf.get("RejectScore")
        self.reject = conf.number("RejectScore", 0.0) if reject is not None else None
        self.scores = dict(BUILTIN)
        for value in conf.all("Score"):
            name, _, number = value.partition(" ")
            try:
                self.scores[name] = float(number)
            except ValueError:
                raise conf.error("Score", "NAME NUMBER", value) from None
        self.rules = [_rule(conf, value) for value in conf.all("Rule")]
        self.trusted = {t.lower() for t in conf.list("TrustedAuthservIDs", context.myhostname)}
        self.timing = Cost(conf.duration("ProcessingTime", 0.3), 5e6)

    def cost(self, size: int) -> float:
        return self.timing.of(size)

    def tests(self, message: MilterMessage) -> list[str]:
        """The names of every test that hit."""
        hits = _auth_tests(message, self.trusted)
        text = text_of(message.content)
        for rule in self.rules:
            haystack = text if rule.where == "body" else "\n".join(message.headers(rule.where))
            if rule.pattern.search(haystack):
                hits.append(rule.name)
        return hits

    def end_of_message(self, message: MilterMessage) -> MilterVerdict:
        hits = self.tests(message)
        score = round(sum(self._score(name) for name in hits), 1)
        spam = score >= self.required
        results = (("spam_score", f"{score:.1f}"), ("spam", "yes" if spam else "no"), ("tests", ",".join(hits)))
        if self.reject is not None and score >= self.reject:
            reply = Reply(550, "5.7.1", BLOCKED)
            return MilterVerdict(MilterAction.REJECT, reply, reason=f"score {score:.1f}", results=results)
        status = f"{'Yes' if spam else 'No'}, score={score:.1f} required={self.required:.1f} tests={','.join(hits) or 'none'} autolearn=no"
        headers = [f"X-Spam-Checker-Version: {VERSION} on {self.host}", f"X-Spam-Level: {'*' * max(0, int(score))}",
                   f"X-Spam-Status: {status}"]  # fmt: skip
        if spam:
            headers.insert(0, "X-Spam-Flag: YES")
        return MilterVerdict(headers=tuple(headers), results=results)

    def _score(self, name: str) -> float:
        rule = next((r for r in self.rules if r.name == name), None)
        return self.scores.get(name, rule.score if rule else 0.0)


def _rule(conf: DaemonConf, value: str) -> Rule:
    parts = value.split(None, 3)
    if len(parts) != 4 or not (parts[2] == "body" or parts[2].startswith("header:")):
        raise conf.error("Rule", "NAME SCORE body|header:Field /regex/", value)
    try:
        score = float(parts[1])
    except ValueError:
        raise conf.error("Rule", "a number as the score", parts[1]) from None
    where = "body" if parts[2] == "body" else parts[2].partition(":")[2]
    return Rule(parts[0], score, where, compile_pattern(conf, "Rule", parts[3]))


def _auth_tests(message: MilterMessage, trusted: set[str]) -> list[str]:
    """SpamAssassin's SPF/DKIM/DMARC/ARC tests from this host's own results."""
    hits: list[str] = []
    clauses = [c for r in trusted_results(message, trusted) for c in r.results]
    spf = next((c.result for c in clauses if c.method == "spf"), None)
    received_spf = message.headers("Received-SPF")
    if spf is None and received_spf:
        spf = received_spf[0].split(None, 1)[0].lower() if received_spf[0].strip() else None
    hits += {"pass": ["SPF_PASS"], "fail": ["SPF_FAIL"], "softfail": ["SPF_SOFTFAIL"]}.get(spf or "", [])
    dkim = [c.result for c in clauses if c.method == "dkim"]
    if "pass" in dkim:
        hits.append("DKIM_VALID")
    elif any(r in ("fail", "neutral", "permerror") for r in dkim):
        hits.append("DKIM_INVALID")
    if any(c.method == "dmarc" and c.result == "fail" for c in clauses):
        hits.append("DMARC_FAIL")
    if any(c.method == "arc" and c.result == "pass" for c in clauses):
        hits.append("ARC_VALID")
    if message.headers("X-Forgery-Signals"):
        hits.append("FROM_NOT_ALIGNED")
    return hits
