"""A Postfix SPF policy service: postfix-policyd-spf-python's decisions, as a pure function.

Postfix asks a policy server (``check_policy_service``, SMTPD_POLICY_README) with a request of
``name=value`` attributes (``request``, ``protocol_state``, ``client_address``, ``helo_name``,
``sender``, ``recipient``, ``instance``, ...) and applies the ``action=`` it gets back as an access(5)
action. :func:`spf_policy` is that server: it takes the attributes as a mapping and returns the
action text, written exactly as policyd-spf 3.0 (python3-spf-engine) writes it:

- HELO first (policyd-spf's order), then MAIL FROM; each result is judged by ``HELO_reject`` /
  ``Mail_From_reject`` (``Fail`` by default: reject only a fail; ``Softfail``: also a softfail;
  ``SPF_Not_Pass``: also neutral; ``False``: never reject, header only; ``No_Check``: skip);
- a reject is ``550 5.7.23 Message rejected due to: <explanation>. Please see
  http://www.openspf.net/Why?s=mfrom;id=<sender>;ip=<client>;r=<recipient>`` (``5.7.24`` when the result
  was an error, RFC 7372 §3.2);
- a temperror is deferred with ``defer_if_permit 4.7.24 Message deferred due to: ...`` - a 4xx, never
  a reject - when ``TempError_Defer`` is on. **mailsim defaults it to on** (policyd-spf ships it off):
  a DNS timeout must not lose mail (RFC 7208 §2.6.6 "the checking software SHOULD ... defer");
- otherwise ``prepend Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=...; helo=...;
  envelope-from=...; receiver=<UNKNOWN> `` - policyd-spf's own header form, which is not pyspf's
  (its comment is the identity, its trailing space is real);
- clients in ``skip_addresses`` (loopback) get ``prepend X-Comment: SPF check N/A for local
  connections - ...``.

policyd-spf keeps per-``instance`` state so a message with many recipients gets one header; here the
caller passes the previous decision for the same instance (``previous=``) instead.

Postfix parameters read: none (the policy service's own settings are policyd-spf.conf(5) options,
:class:`SpfPolicySettings`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from mailsim.core.errors import ConfigError
from mailsim.mail.reply import Reply
from mailsim.policy.auth.dnsview import DnsQuery
from mailsim.policy.auth.spf import SpfVerdict, check_spf

REJECT_LEVELS = {
    "SPF_Not_Pass": frozenset({"Fail", "Softfail", "Neutral"}),
    "Softfail": frozenset({"Fail", "Softfail"}),
    "Fail": frozenset({"Fail"}),
    "Null": frozenset({"Fail"}),
    "False": frozenset(),
    "No_Check": frozenset(),
}
WHY_URL = "http://www.openspf.net/Why?s={scope};id={id};ip={ip};r={receiver}"
LOCAL = ("127.0.0.0/8", "::ffff:127.0.0.0/104", "::1")


@dataclass(frozen=True, slots=True)
class SpfPolicySettings:
    """policyd-spf.conf(5) options that decide an action (option names in the comments)."""

    helo_reject: str = "Fail"  # HELO_reject
    mail_from_reject: str = "Fail"  # Mail_From_reject
    permerror_reject: bool = False  # PermError_reject
    temperror_defer: bool = True  # TempError_Defer (policyd-spf ships False; see the module docstring)
    hide_receiver: bool = True  # Hide_Receiver (Debian's policyd-spf.conf says Yes)
    enhanced_status_codes: bool = True  # SPF_Enhanced_Status_Codes
    reason_message: str = "Message {rejectdefer} due to: {spf}. Please see {url}"  # Reason_Message
    skip_addresses: tuple[str, ...] = LOCAL  # skip_addresses
    receiver: str = "unknown"  # the checking host, for pyspf's %{r} macro

    def __post_init__(self) -> None:
        for name, value in (("HELO_reject", self.helo_reject), ("Mail_From_reject", self.mail_from_reject)):
            if value not in REJECT_LEVELS or (name == "Mail_From_reject" and value == "Null"):
                allowed = [level for level in REJECT_LEVELS if name == "HELO_reject" or level != "Null"]
                raise ConfigError("bad policyd-spf option", key=name, expected=" or ".join(allowed), found=value)


@dataclass(frozen=True, slots=True)
class SpfPolicyDecision:
    """What the policy service answered and why: the action and the checks behind it."""

    action: str
    kind: str  # "reject" | "defer" | "prepend" | "dunno"
    helo: SpfVerdict | None = None
    mail_from: SpfVerdict | None = None
    dns_time: float = field(default=0.0)


@dataclass(frozen=True, slots=True)
class _Judged:
    """One identity's result as policyd-spf holds it: capitalised result, comment, action."""

    result: str
    comment: str
    scope: str
    kind: str
    verdict: SpfVerdict


def spf_policy(
    request: Mapping[str, str],
    dns: DnsQuery,
    *,
    settings: SpfPolicySettings | None = None,
    now: float = 0.0,
    previous: SpfPolicyDecision | None = None,
) -> str:
    """The ``action=`` value for one policy request (see the module docstring)."""
    return decide_spf_policy(request, dns, settings=settings, now=now, previous=previous).action


def decide_spf_policy(
    request: Mapping[str, str],
    dns: DnsQuery,
    *,
    settings: SpfPolicySettings | None = None,
    now: float = 0.0,
    previous: SpfPolicyDecision | None = None,
) -> SpfPolicyDecision:
    """Like :func:`spf_policy`, with the SPF verdicts and their DNS cost."""
    conf = settings or SpfPolicySettings()
    if previous is not None:  # a further recipient of the same message (policyd-spf's instance cache)
        if previous.kind == "prepend":
            return SpfPolicyDecision("dunno", "dunno")
        return previous
    ip = request.get("client_address", "")
    sender = request.get("sender", "")
    helo = request.get("helo_name", "")
    receiver = _receiver(request, conf)
    if not ip or (not sender and not helo):
        return SpfPolicyDecision("dunno", "dunno")
    if _skipped(ip, conf.skip_addresses):
        text = "X-Comment: SPF check N/A for local connections - " + _detail_tail(ip, helo, sender, receiver)
        return SpfPolicyDecision(f"prepend {text}", "prepend")
    return _check_both(ip, sender, helo or _helo_fallback(sender), receiver, dns, conf, now)


def _check_both(
    ip: str, sender: str, helo: str, receiver: str, dns: DnsQuery, conf: SpfPolicySettings, now: float
) -> SpfPolicyDecision:
    """policyd-spf's _spfcheck: HELO, then MAIL FROM, the first reject/defer wins."""
    helo_judged = None
    header = ""
    if conf.helo_reject != "No_Check":
        verdict = check_spf(ip, f"postmaster@{helo}", helo, dns, receiver=conf.receiver, now=now)
        helo_judged = _judge(verdict, "helo", conf.helo_reject, conf, null_sender=not sender)
        header = _header(helo_judged, helo_judged.comment, ip, helo, sender or "<>", receiver)
        if helo_judged.kind in ("reject", "defer"):
            return _refuse(helo_judged, helo, ip, receiver, conf, helo_judged, None)
        if not sender:
            return _done(helo_judged.kind, header, helo_judged, None)
    if not sender:
        return SpfPolicyDecision("dunno", "dunno", helo_judged.verdict if helo_judged else None)
    if conf.mail_from_reject == "No_Check":
        return _done("prepend", header, helo_judged, None) if header else SpfPolicyDecision("dunno", "dunno")
    verdict = check_spf(ip, sender, helo, dns, receiver=conf.receiver, now=now)
    mfrom = _judge(verdict, "mailfrom", conf.mail_from_reject, conf)
    if mfrom.result != "None" or helo_judged is None or helo_judged.result == "None":
        header = _header(mfrom, mfrom.scope, ip, helo, sender, receiver)  # policyd-spf's comment is the identity
    if mfrom.kind in ("reject", "defer"):
        return _refuse(mfrom, sender, ip, receiver, conf, helo_judged, mfrom)
    return _done("prepend", header, helo_judged, mfrom)


def _judge(verdict: SpfVerdict, scope: str, level: str, conf: SpfPolicySettings, null_sender: bool = True) -> _Judged:
    """Result -> reject/defer/prepend under the configured level (policyd-spf's _get_resultcodes)."""
    result = verdict.result.capitalize()
    comment = "no SPF record" if result == "None" else verdict.explanation
    if level == "Null" and not null_sender:
        kind = "dunno"
    elif result in REJECT_LEVELS[level]:
        kind = "reject"
    elif level == "False":
        kind = "prepend"
    elif result == "Temperror" and conf.temperror_defer:
        kind = "defer"
    elif result == "Permerror" and conf.permerror_reject:
        kind = "reject"
    else:
        kind = "prepend"
    return _Judged(result, comment, scope, kind, verdict)


def _refuse(
    judged: _Judged,
    identity: str,
    ip: str,
    receiver: str,
    conf: SpfPolicySettings,
    helo: _Judged | None,
    mfrom: _Judged | None,
) -> SpfPolicyDecision:
    """policyd-spf's reject/defer line, with RFC 7372 enhanced codes."""
    scope = "mfrom" if judged.scope == "mailfrom" else "helo"
    url = WHY_URL.format(scope=scope, id=identity, ip=ip, receiver=receiver)
    rejectdefer = "rejected" if judged.kind == "reject" else "deferred"
    text = conf.reason_message.format(rejectdefer=rejectdefer, spf=judged.comment, url=url)
    error = judged.result in ("Permerror", "Temperror")
    if judged.kind == "defer":
        action = f"defer_if_permit 4.7.24 {text}" if conf.enhanced_status_codes else f"defer_if_permit {text}"
    elif conf.enhanced_status_codes:
        action = str(Reply(550, "5.7.24" if error else "5.7.23", text))
    else:
        action = str(Reply(550, None, text))
    return _decision(action, judged.kind, helo, mfrom)


def _done(kind: str, header: str, helo: _Judged | None, mfrom: _Judged | None) -> SpfPolicyDecision:
    if kind == "dunno" or not header:
        return _decision("dunno", "dunno", helo, mfrom)
    return _decision(f"prepend {header}", "prepend", helo, mfrom)


def _decision(action: str, kind: str, helo: _Judged | None, mfrom: _Judged | None) -> SpfPolicyDecision:
    verdicts = [j.verdict for j in (helo, mfrom) if j is not None]
    cost = sum(v.dns_time for v in verdicts)
    return SpfPolicyDecision(action, kind, helo.verdict if helo else None, mfrom.verdict if mfrom else None, cost)


def _header(judged: _Judged, comment: str, ip: str, helo: str, sender: str, receiver: str) -> str:
    """policyd-spf's Received-SPF: result, comment, then its detail list with a trailing space."""
    detail = f"identity={judged.scope}; " + _detail_tail(ip, helo, sender, receiver)
    return f"Received-SPF: {judged.result} ({comment}) {detail}"


def _detail_tail(ip: str, helo: str, sender: str, receiver: str) -> str:
    return f"client-ip={ip}; helo={helo}; envelope-from={sender}; receiver={receiver} "


def _receiver(request: Mapping[str, str], conf: SpfPolicySettings) -> str:
    """The ``r=`` of the URL and ``receiver=`` of the header: hidden, or the recipient's domain."""
    recipient = request.get("recipient") or "none"
    if conf.hide_receiver:
        return "<UNKNOWN>"
    return recipient.split("@", 1)[1] if "@" in recipient else recipient


def _helo_fallback(sender: str) -> str:
    """policyd-spf: without HELO, the sender's domain stands in (``unknown`` when it has none)."""
    return sender.split("@", 1)[1] if "@" in sender else "unknown"


def _skipped(ip: str, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)
