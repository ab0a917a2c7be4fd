"""opendkim(8) as a milter: signs originating mail, verifies the rest (opendkim.conf(5) options).

Signing (``Mode`` contains ``s``): a message is signed when its From domain is one of ``Domain``
(or below it, with ``SubDomains yes``) and it originates here - the client is in ``InternalHosts``
(127.0.0.1 by default), authenticated with SMTP AUTH, or the ``{daemon_name}`` macro is one of
``MTA`` (``-o milter_macro_daemon_name=ORIGINATING`` on the submission service). The key is
``KeyFile`` (:mod:`~mailsim.mta.milters.keys`), the signature dkimpy's with the simulated clock in
``t=``; ``Canonicalization`` (simple/simple by default, as opendkim's), ``BodyLengths`` (``l=``),
``OversignHeaders``/``SignHeaders`` decide what a later edit breaks.

Verifying (``Mode`` contains ``v``, for mail that is not signed here): every DKIM-Signature is
checked against the simulated DNS and the results go into one ``Authentication-Results`` header
from ``AuthservID`` (the host name by default); an unsigned message gets none unless
``AlwaysAddARHeader yes``. A malformed signature is a result (neutral/permerror), never a crash.

Postfix parameters read: none. Options read: Socket, Mode, Domain, SubDomains, Selector, KeyFile,
SignatureAlgorithm, Canonicalization, BodyLengths, SignHeaders, OversignHeaders, InternalHosts, MTA,
AuthservID, AlwaysAddARHeader, and mailsim's ProcessingTime (2ms).
"""

from __future__ import annotations

import ipaddress

from mailsim.mta.milters.base import CONTINUE, Cost, DaemonContext, MilterMessage, MilterVerdict
from mailsim.mta.milters.conf import DaemonConf
from mailsim.mta.milters.keys import algorithm_of, signing_key
from mailsim.policy.auth.authres import authentication_results
from mailsim.policy.auth.dkim import SigningError, sign, verify
from mailsim.policy.auth.dmarc import from_domain
from mailsim.policy.auth.keys import DkimKey

OPTIONS = (
    "Socket", "Mode", "Domain", "SubDomains", "Selector", "KeyFile", "SignatureAlgorithm", "Canonicalization",
    "BodyLengths", "SignHeaders", "OversignHeaders", "InternalHosts", "MTA", "AuthservID", "AlwaysAddARHeader",
    "ProcessingTime", "Syslog", "SyslogSuccess", "LogWhy", "UMask", "UserID", "PidFile", "TrustAnchorFile",
)  # fmt: skip
DEFAULT_SIGNED = ("from", "to", "subject", "date", "message-id", "cc", "reply-to", "mime-version", "content-type",
                  "content-transfer-encoding", "in-reply-to", "references")  # fmt: skip


class OpenDkim:
    """One opendkim daemon (see the module docstring)."""

    name = "opendkim"

    def __init__(self, context: DaemonContext, conf: DaemonConf) -> None:
        conf.check(OPTIONS)
        self.context = context
        mode = conf.get("Mode", "sv") or "sv"
        if not set(mode) <= {"s", "v"}:
            raise conf.error("Mode", "s, v or sv", mode)
        self.signs, self.verifies = "s" in mode, "v" in mode
        self.domains = [d.lower() for d in conf.list("Domain")]
        self.subdomains = conf.flag("SubDomains", False)
        self.internal = conf.list("InternalHosts", "127.0.0.1, ::1, localhost")
        self.mtas = conf.list("MTA")
        self.authserv_id = conf.get("AuthservID", context.myhostname) or context.myhostname
        self.always_ar = conf.flag("AlwaysAddARHeader", False)
        self.canonicalization = _canonicalization(conf)
        self.length = conf.flag("BodyLengths", False)
        self.signed = [h.lower() for h in conf.list("SignHeaders")] or list(DEFAULT_SIGNED)
        self.oversigned = [h.lower() for h in conf.list("OversignHeaders")]
        self.timing = Cost(conf.duration("ProcessingTime", 0.002), 50e6)
        self.keys: dict[str, DkimKey] = {}
        if self.signs:
            if not self.domains or conf.get("Selector") is None:
                raise conf.error("Domain" if not self.domains else "Selector", "a value for signing", "nothing")
            selector, algorithm = conf.get("Selector") or "", algorithm_of(conf)
            self.keys = {d: signing_key(context, conf, d, selector, algorithm) for d in self.domains}

    def cost(self, size: int) -> float:
        return self.timing.of(size)

    def end_of_message(self, message: MilterMessage) -> MilterVerdict:
        key = self._signing_key(message) if self.signs and self._originating(message) else None
        if key is not None:
            return self._sign(message, key)
        if self.verifies:
            return self._verify(message)
        return CONTINUE

    def _originating(self, message: MilterMessage) -> bool:
        """opendkim's "internal" test: InternalHosts, SMTP AUTH, the MTA list, or local submission."""
        if message.authenticated or not message.smtpd or message.daemon_name in self.mtas:
            return True
        return _listed(message.client_address, message.client_name, self.internal)

    def _signing_key(self, message: MilterMessage) -> DkimKey | None:
        domain = (from_domain(message.content) or "").lower()
        for signing in self.domains:
            if domain == signing or (self.subdomains and domain.endswith("." + signing)):
                return self.keys[signing]
        return None

    def _sign(self, message: MilterMessage, key: DkimKey) -> MilterVerdict:
        present = {line.split(":", 1)[0].strip().lower() for line in _header_names(message.content)}
        headers = [h for h in self.signed if h in present or h == "from"] + self.oversigned
        try:
            field = sign(message.content, key.selector, key.domain, key, headers=headers,
                         canonicalization=self.canonicalization, length=self.length, now=message.now)  # fmt: skip
        except SigningError as error:
            return MilterVerdict(reason=f"signing failed: {error}", results=(("dkim", "not signed"),))
        text = field.decode("ascii").rstrip("\r\n")
        detail = f"DKIM-Signature field added (s={key.selector}, d={key.domain})"
        return MilterVerdict(headers=(text,), reason=detail, results=(("signed", f"d={key.domain} s={key.selector}"),))

    def _verify(self, message: MilterMessage) -> MilterVerdict:
        results = verify(message.content, self.context.dns)
        summary = (("dkim", results[0].result), ("dkim_domain", results[0].domain), ("dkim_reason", results[0].reason))
        if results[0].result == "none" and not self.always_ar:
            return MilterVerdict(results=summary)
        value = authentication_results(self.authserv_id, dkim=[r for r in results if r.result != "none"])
        return MilterVerdict(headers=(f"Authentication-Results: {value}",), results=summary)


def _canonicalization(conf: DaemonConf) -> tuple[str, str]:
    value = (conf.get("Canonicalization", "simple/simple") or "").lower()
    header, _, body = value.partition("/")
    body = body or "simple"
    if header not in ("simple", "relaxed") or body not in ("simple", "relaxed"):
        raise conf.error("Canonicalization", "header[/body] with simple or relaxed", value)
    return header, body


def _header_names(content: bytes) -> list[str]:
    head = content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    return [line for line in head.split("\r\n") if line and not line[0].isspace()]


def _listed(address: str, name: str, hosts: list[str]) -> bool:
    """Whether the client is one of ``hosts`` (addresses, networks or host names)."""
    for item in hosts:
        if item.lower() in (name.lower(), address):
            return True
        try:
            if ipaddress.ip_address(address) in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False
