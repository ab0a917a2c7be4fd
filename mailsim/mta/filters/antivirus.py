"""clamav-milter(8): a virus scan of every message with its own processing time (clamav-milter.conf(5)).

The scanner looks at the raw message and every decoded MIME part for its signatures: the EICAR
test file (reported as ClamAV reports it, ``Win.Test.EICAR_HDB-1``) and any ``Signature NAME TEXT``
lines (mailsim's addition). ``OnInfected`` decides: ``Quarantine`` (the default: Postfix's hold
queue), ``Reject`` (``550 5.7.1`` with ``RejectMsg``, ``%v`` the virus name), ``Blackhole`` (accept and
discard) or ``Accept``. ``AddHeader`` (``Replace``/``Yes``/``Add``) writes ``X-Virus-Scanned`` and
``X-Virus-Status``. Scanning costs ``ProcessingTime`` (50ms) plus the size at ``ScanRate`` (20MB/s).

Postfix parameters read: none. Options read: MilterSocket, OnInfected, OnClean, RejectMsg, AddHeader,
ReportHostname, Signature, ProcessingTime, ScanRate.
"""

from __future__ import annotations

from mailsim.mail.reply import Reply
from mailsim.mta.milters.base import Cost, DaemonContext, MilterAction, MilterMessage, MilterVerdict, payloads_of
from mailsim.mta.milters.conf import DaemonConf

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_NAME = "Win.Test.EICAR_HDB-1"
VERSION = "clamav-milter 1.0.7"
OPTIONS = (
    "MilterSocket", "OnInfected", "OnClean", "RejectMsg", "AddHeader", "ReportHostname", "Signature",
    "ProcessingTime", "ScanRate", "ClamdSocket", "User", "LogSyslog", "PidFile", "FixStaleSocket",
)  # fmt: skip
ON_INFECTED = {
    "Quarantine": MilterAction.QUARANTINE,
    "Reject": MilterAction.REJECT,
    "Blackhole": MilterAction.DISCARD,
    "Accept": MilterAction.CONTINUE,
}


class ClamavMilter:
    """One clamav-milter daemon with its clamd (see the module docstring)."""

    name = "clamav-milter"

    def __init__(self, context: DaemonContext, conf: DaemonConf) -> None:
        conf.check(OPTIONS)
        self.on_infected = ON_INFECTED[conf.choice("OnInfected", "Quarantine", ON_INFECTED)]
        self.reject_text = conf.get("RejectMsg", "Message rejected: infected with %v") or ""
        self.add_header = conf.choice("AddHeader", "No", ("No", "Yes", "Replace", "Add")) != "No"
        self.reporter = conf.get("ReportHostname", context.myhostname) or context.myhostname
        self.signatures = [(EICAR_NAME, EICAR), *_signatures(conf)]
        self.timing = Cost(conf.duration("ProcessingTime", 0.05), conf.number("ScanRate", 20e6))

    def cost(self, size: int) -> float:
        return self.timing.of(size)

    def scan(self, content: bytes) -> str | None:
        """The first signature found in the message or a decoded part, or None."""
        for payload in payloads_of(content):
            for name, pattern in self.signatures:
                if pattern in payload:
                    return name
        return None

    def end_of_message(self, message: MilterMessage) -> MilterVerdict:
        virus = self.scan(message.content)
        status = f"Infected ({virus})" if virus else "Clean"
        headers = (f"X-Virus-Scanned: {VERSION} at {self.reporter}", f"X-Virus-Status: {status}")
        results = (("virus", virus or "none"),)
        if virus is None:
            return MilterVerdict(headers=headers if self.add_header else (), results=results)
        if self.on_infected is MilterAction.REJECT:
            reply = Reply(550, "5.7.1", self.reject_text.replace("%v", virus))
            return MilterVerdict(MilterAction.REJECT, reply, reason=f"infected: {virus}", results=results)
        return MilterVerdict(self.on_infected, headers=headers if self.add_header else (),
                             reason=f"clamav-milter: infected: {virus}", results=results)  # fmt: skip


def _signatures(conf: DaemonConf) -> list[tuple[str, bytes]]:
    found = []
    for value in conf.all("Signature"):
        name, _, text = value.partition(" ")
        if not text.strip():
            raise conf.error("Signature", "NAME TEXT", value)
        found.append((name, text.strip().encode("utf-8")))
    return found
