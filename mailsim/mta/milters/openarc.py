"""openarc(8) as a milter: validates an incoming ARC chain and seals what passes through (RFC 8617).

``Mode v`` checks the chain (:func:`mailsim.policy.auth.arc.validate`) and records
``arc=none|pass|fail`` in an ``Authentication-Results`` header from ``AuthservID``. ``Mode s`` (or
``sv``, a forwarder's setting) then seals: the ARC set's ARC-Authentication-Results copies every
result this host's ``AuthservID`` wrote into Authentication-Results headers so far (opendkim's
``dkim=`` above all, which is why openarc comes after opendkim - and after anything that edits the
message - in smtpd_milters), the ARC-Message-Signature covers the message as it leaves, and the
ARC-Seal signs the chain. ``FinalReceiver yes`` never seals. A forwarder that edits a message and
seals afterwards leaves a chain that validates downstream although DKIM breaks, and its AAR says
that DKIM passed when it arrived.

Postfix parameters read: none. Options read: Socket, Mode, Domain, Selector, KeyFile, AuthservID,
FinalReceiver, SignHeaders, and mailsim's ProcessingTime (3ms).
"""

from __future__ import annotations

from mailsim.mta.milters.base import Cost, DaemonContext, MilterMessage, MilterVerdict, split_content
from mailsim.mta.milters.conf import DaemonConf
from mailsim.mta.milters.keys import signing_key
from mailsim.policy.auth.arc import seal, validate
from mailsim.policy.auth.authres import authentication_results
from mailsim.policy.auth.dkim import SigningError

OPTIONS = (
    "Socket", "Mode", "Domain", "Selector", "KeyFile", "AuthservID", "FinalReceiver", "SignHeaders",
    "ProcessingTime", "Syslog", "UserID", "PidFile", "Canonicalization", "PeerList", "InternalHosts",
)  # fmt: skip
SEALED_HEADERS = ("from", "to", "subject", "date", "message-id", "cc", "mime-version", "content-type")


class OpenArc:
    """One openarc daemon (see the module docstring)."""

    name = "openarc"

    def __init__(self, context: DaemonContext, conf: DaemonConf) -> None:
        conf.check(OPTIONS)
        self.context = context
        mode = conf.get("Mode", "v") or "v"
        if not set(mode) <= {"s", "v"}:
            raise conf.error("Mode", "s, v or sv", mode)
        self.seals = "s" in mode and not conf.flag("FinalReceiver", False)
        self.verifies = "v" in mode
        self.authserv_id = conf.get("AuthservID", context.myhostname) or context.myhostname
        self.headers = [h.lower() for h in conf.list("SignHeaders")] or list(SEALED_HEADERS)
        self.timing = Cost(conf.duration("ProcessingTime", 0.003), 50e6)
        self.key = None
        if self.seals:
            domain, selector = conf.get("Domain"), conf.get("Selector")
            if not domain or not selector:
                raise conf.error("Domain" if not domain else "Selector", "a value for sealing", "nothing")
            self.key = signing_key(context, conf, domain, selector, "rsa-sha256")

    def cost(self, size: int) -> float:
        return self.timing.of(size)

    def end_of_message(self, message: MilterMessage) -> MilterVerdict:
        chain = validate(message.content, self.context.dns)
        results = (("arc", chain.result), ("arc_sealer", chain.sealer), ("arc_instances", str(chain.instances)))
        ar = authentication_results(self.authserv_id, arc=chain) if self.verifies else None
        if not self.seals or self.key is None or chain.result == "fail":
            return MilterVerdict(headers=(f"Authentication-Results: {ar}",) if ar else (), results=results)
        try:
            sealed = seal(message.content, self.key, authserv_id=self.authserv_id, now=message.now, auth_results=ar,
                          headers=[h for h in self.headers if h == "from" or _has(message.content, h)])  # fmt: skip
        except SigningError as error:
            return MilterVerdict(reason=f"sealing failed: {error}", results=results)
        added = split_content(sealed[: len(sealed) - len(message.content)] + b"\r\n")[0]
        lines = tuple(h.decode("utf-8").rstrip("\r\n") for h in added)
        detail = f"ARC set i={chain.instances + 1} added (s={self.key.selector}, d={self.key.domain})"
        return MilterVerdict(headers=lines, reason=detail, results=(*results, ("sealed", f"d={self.key.domain}")))


def _has(content: bytes, name: str) -> bool:
    head = content.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(name.encode() + b":") or (b"\r\n" + name.encode() + b":") in head
