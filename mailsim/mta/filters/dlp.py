"""A data-loss-prevention milter: pattern rules over outgoing mail that block, hold or flag it.

The seed: "DLP systems scan outgoing email for sensitive data and either block the message or
encrypt it before it leaves the organization". ``dlp-milter.conf``::

    Socket        inet:10030@localhost
    Direction     outbound             # outbound (the default), inbound or both
    Rule CONFIDENTIAL flag  /\\bconfidential\\b/i
    Rule IBAN         hold  /\\bCH\\d{2}(?: ?\\d{4}){4} ?\\d\\b/
    Rule CARD         block card       # a 13-19 digit number that passes the Luhn check
    BlockMessage  Message blocked by data loss prevention policy (%r)

Outgoing means originating here: an authenticated client, a client in ``InternalHosts``
(127.0.0.1 by default) or local submission. Every rule that matches the Subject or a decoded
text part counts; the strongest action wins (block > hold > flag). ``block`` rejects with
``550 5.7.1 BlockMessage`` (``%r``: the rule names), ``hold`` quarantines (hold queue), ``flag``
only adds ``X-DLP: flagged (RULE, ...)``.

Postfix parameters read: none. Options read: Socket, Direction, InternalHosts, Rule, BlockMessage,
HeaderName, ProcessingTime (5ms + 50MB/s).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailsim.mail.reply import Reply
from mailsim.mta.filters.rules import compile_pattern, originating
from mailsim.mta.milters.base import Cost, DaemonContext, MilterAction, MilterMessage, MilterVerdict, text_of
from mailsim.mta.milters.conf import DaemonConf

OPTIONS = ("Socket", "Direction", "InternalHosts", "Rule", "BlockMessage", "HeaderName", "ProcessingTime")
ACTIONS = ("flag", "hold", "block")  # weakest first
_DIGITS = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")


@dataclass(frozen=True, slots=True)
class DlpRule:
    name: str
    action: str
    pattern: re.Pattern[str] | None  # None: the payment-card test

    def matches(self, text: str) -> bool:
        if self.pattern is not None:
            return self.pattern.search(text) is not None
        return any(_luhn(re.sub(r"\D", "", m.group(0))) for m in _DIGITS.finditer(text))


class DlpMilter:
    """The DLP daemon (see the module docstring)."""

    name = "dlp-milter"

    def __init__(self, context: DaemonContext, conf: DaemonConf) -> None:
        conf.check(OPTIONS)
        self.direction = conf.choice("Direction", "outbound", ("outbound", "inbound", "both"))
        self.internal = conf.list("InternalHosts", "127.0.0.1, ::1")
        self.rules = [_rule(conf, value) for value in conf.all("Rule")]
        self.block_text = conf.get("BlockMessage", "Message blocked by data loss prevention policy (%r)") or ""
        self.header = conf.get("HeaderName", "X-DLP") or "X-DLP"
        self.timing = Cost(conf.duration("ProcessingTime", 0.005), 50e6)

    def cost(self, size: int) -> float:
        return self.timing.of(size)

    def end_of_message(self, message: MilterMessage) -> MilterVerdict:
        outbound = originating(message, self.internal)
        if self.direction != "both" and outbound != (self.direction == "outbound"):
            return MilterVerdict(results=(("dlp", "skipped"),))
        text = text_of(message.content)
        hits = [rule for rule in self.rules if rule.matches(text)]
        if not hits:
            return MilterVerdict(results=(("dlp", "clean"),))
        action = max((rule.action for rule in hits), key=ACTIONS.index)
        names = ", ".join(rule.name for rule in hits)
        results = (("dlp", action), ("dlp_rules", names))
        if action == "block":
            reply = Reply(550, "5.7.1", self.block_text.replace("%r", names))
            return MilterVerdict(MilterAction.REJECT, reply, reason=f"DLP: {names}", results=results)
        header = (f"{self.header}: flagged ({names})",)
        if action == "hold":
            return MilterVerdict(MilterAction.QUARANTINE, headers=header, reason=f"DLP: {names}", results=results)
        return MilterVerdict(headers=header, results=results)


def _rule(conf: DaemonConf, value: str) -> DlpRule:
    parts = value.split(None, 2)
    if len(parts) != 3 or parts[1] not in ACTIONS:
        raise conf.error("Rule", "NAME flag|hold|block /regex/ (or card)", value)
    pattern = None if parts[2].strip() == "card" else compile_pattern(conf, "Rule", parts[2])
    return DlpRule(parts[0], parts[1], pattern)


def _luhn(digits: str) -> bool:
    """The Luhn checksum (ISO/IEC 7812-1) that every payment card number satisfies."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return 13 <= len(digits) <= 19 and total % 10 == 0
