"""``mailsim replay MESSAGE.eml``: a real message's path read from its Received chain, and where authentication broke.

Theory of operation
-------------------
The seed: "start reading the Received lines, but start from the bottom". :func:`read_replay` does
that (:func:`mailsim.mail.received.received_chain`) and turns every header into a :class:`Hop`
(who sent, from which address, who received, with which protocol and TLS, when, for whom). Hops
inside one machine are marked ``internal``: a loopback client or a ``by localhost`` receiver (a
content filter such as amavisd-new on port 10024 and its re-injection) and a receiver that is an
address literal (a provider's internal relay, like Gmail's last ``by 2002:...`` line).

It then reads the authentication headers and places each on the hop it belongs to:
``Received-SPF`` by its ``client-ip`` (SPF judged the hop whose client had that address),
``Authentication-Results`` and ``ARC-Authentication-Results`` by their authserv-id (the hop received
by that host or domain). :class:`Finding` records say what was checked where; the report explains a
failure the way the seed does: SPF at hop N compared the *relay's* address with the *sender's*
SPF record, so it fails for forwarded mail; DKIM that passed at one hop and failed at a later one
was broken by an edit in between. A recipient that changes from one hop to the next (``for
<evi@atrust.com>`` then ``for <evi.nemeth@gmail.com>``) is a forward.

:mod:`mailsim.analysis.replay_scenario` writes the path as an editable scenario folder;
:func:`run_replay_cli` is the command. A message without Received headers gets a clear message
and exit status 1, never a traceback.

Postfix parameters read: none (a reader of headers).
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import TextIO

from mailsim.mail.message import parse_message, raw_header_values, unfold
from mailsim.mail.received import ReceivedHop, received_chain
from mailsim.policy.auth.authres import parse as parse_authres

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})
_CLIENT_IP = re.compile(r"client-ip=([0-9A-Fa-f:.]+)", re.IGNORECASE)
_MAILFROM = re.compile(r"(?:envelope-from=|smtp\.mailfrom=|domain of (?:transitioning )?)<?([^\s;>]+@[^\s;>]+)", re.I)
_AAR_INSTANCE = re.compile(r"^\s*i=(\d+);\s*", re.IGNORECASE)
_POLICY = re.compile(r"\bp=(none|quarantine|reject)\b", re.IGNORECASE)
FAILED = frozenset({"fail", "softfail", "permerror", "temperror", "neutral"})


@dataclass(frozen=True, slots=True)
class Hop:
    """One Received header read back; ``number`` 1 is the lowest (the sender's side)."""

    number: int
    sender: str
    sender_ip: str | None
    helo: str | None
    receiver: str
    software: str | None
    protocol: str | None
    tls: str | None
    authenticated: bool
    recipient: str | None
    date: datetime | None
    queue_id: str | None
    internal: bool
    notes: tuple[str, ...] = ()

    @property
    def encrypted(self) -> bool:
        return self.tls is not None or "S" in (self.protocol or "").upper().replace("SMTP", "")


@dataclass(frozen=True, slots=True)
class Finding:
    """One authentication result and where it was found; ``hop`` is None when no hop matches."""

    hop: int | None
    method: str  # spf, dkim, dmarc, arc
    result: str
    by: str  # the authserv-id or the header that said it
    source: str  # Received-SPF, Authentication-Results, ARC-Authentication-Results
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Replay:
    """A message's path and authentication as its headers tell them."""

    hops: tuple[Hop, ...]
    findings: tuple[Finding, ...]
    envelope_from: str | None
    from_address: str | None
    to: tuple[str, ...]
    subject: str
    body_size: int
    dkim_signatures: tuple[tuple[str, str], ...]  # (d=, s=) of each DKIM-Signature
    arc_sealers: tuple[tuple[str, str], ...]  # (d=, s=) of each ARC-Seal
    dmarc_policy: str | None

    @property
    def external(self) -> list[Hop]:
        """The hops between machines (what a scenario reproduces)."""
        return [hop for hop in self.hops if not hop.internal]

    def explain(self) -> list[str]:
        """Where authentication broke, in sentences (see the module docstring)."""
        return explain(self)


class NoReceivedHeaders(ValueError):
    """The message has no Received header: there is no path to replay."""


def read_replay(message: bytes | EmailMessage) -> Replay:
    """The hops and authentication findings of a message; NoReceivedHeaders when it has no Received line."""
    msg = parse_message(message) if isinstance(message, bytes) else message
    chain = received_chain(msg)
    if not chain:
        raise NoReceivedHeaders("no Received headers")
    hops = tuple(_hop(number, hop) for number, hop in enumerate(chain, start=1))
    findings = tuple(_findings(msg, hops))
    body = msg.get_payload(decode=False)
    return Replay(
        hops, findings, _first_address(msg, "Return-Path"), _first_address(msg, "From"), _addresses(msg, "To"),
        str(msg.get("Subject", "")),
        len(body.encode("utf-8", "surrogateescape")) if isinstance(body, str) else 0,
        _tags(msg, "DKIM-Signature"), _tags(msg, "ARC-Seal"), _dmarc_policy(msg),
    )  # fmt: skip


def _hop(number: int, hop: ReceivedHop) -> Hop:
    receiver = hop.by_host or "?"
    sender = hop.from_host or (f"[{hop.from_ip}]" if hop.from_ip else "?")
    internal = receiver.lower() in LOCAL_NAMES or _is_literal(receiver) or _loopback(hop.from_ip)
    if hop.from_ip is None and hop.from_helo is None:
        internal = True  # "Received: by HOST" alone: made on the host itself (pickup, a provider's internal hop)
    return Hop(number, sender, hop.from_ip, hop.from_helo, receiver, hop.by_software, hop.with_protocol, hop.tls,
               hop.authenticated, hop.for_rcpt, hop.date, hop.id, internal, hop.notes)  # fmt: skip


def _is_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _addresses(msg: EmailMessage, name: str) -> tuple[str, ...]:
    values = raw_header_values(msg, name)
    return tuple(address for _, address in getaddresses([unfold(v) for v in values]) if "@" in address)


def _first_address(msg: EmailMessage, name: str) -> str | None:
    found = _addresses(msg, name)
    return found[0] if found else None


def _tags(msg: EmailMessage, name: str) -> tuple[tuple[str, str], ...]:
    """``(d=, s=)`` of every header ``name`` (DKIM-Signature, ARC-Seal)."""
    found = []
    for value in raw_header_values(msg, name):
        text = re.sub(r"\s+", "", unfold(value))
        domain, selector = re.search(r"(?:^|;)d=([^;]+)", text), re.search(r"(?:^|;)s=([^;]+)", text)
        found.append((domain.group(1) if domain else "", selector.group(1) if selector else ""))
    return tuple(found)


def _dmarc_policy(msg: EmailMessage) -> str | None:
    for value in raw_header_values(msg, "Authentication-Results"):
        if "dmarc=" in value.lower():
            found = _POLICY.search(unfold(value))
            if found:
                return found.group(1).lower()
    return None


def _hop_for_ip(hops: tuple[Hop, ...], address: str) -> int | None:
    return next((hop.number for hop in reversed(hops) if hop.sender_ip == address), None)


def _hop_for_host(hops: tuple[Hop, ...], authserv: str) -> int | None:
    """The hop received by the authserv-id's host (or, failing that, by a host in its domain)."""
    name = authserv.lower().rstrip(".")
    for internal in (False, True):  # a receiver checks while the SMTP session is open: prefer that hop
        for hop in reversed(hops):
            if hop.receiver.lower() == name and hop.internal == internal:
                return hop.number
    for hop in reversed(hops):
        receiver = hop.receiver.lower()
        if not hop.internal and (receiver.endswith("." + name) or name.endswith("." + receiver.split(".", 1)[-1])):
            return hop.number
    return None


def _findings(msg: EmailMessage, hops: tuple[Hop, ...]) -> list[Finding]:
    found: list[Finding] = []
    for value in raw_header_values(msg, "Received-SPF"):
        text = unfold(value).strip()
        result = text.split(None, 1)[0].lower() if text else "none"
        address = _CLIENT_IP.search(text)
        hop = _hop_for_ip(hops, address.group(1)) if address else None
        found.append(Finding(hop, "spf", result, "Received-SPF", "Received-SPF", _spf_detail(text)))
    for name in ("Authentication-Results", "ARC-Authentication-Results"):
        for value in raw_header_values(msg, name):
            found.extend(_authres_findings(unfold(value), name, hops))
    return found


def _authres_findings(value: str, source: str, hops: tuple[Hop, ...]) -> list[Finding]:
    text = _AAR_INSTANCE.sub("", value) if source.startswith("ARC") else value
    parsed = parse_authres(text)
    if parsed is None:
        return [Finding(None, "unparsed", "?", source, source, text[:120])]
    hop = _hop_for_host(hops, parsed.authserv_id)
    out = []
    for clause in parsed.results:
        props = " ".join(f"{k}={v}" for k, v in clause.properties)
        detail = f"{props} {clause.reason}".strip() if clause.reason else props
        if clause.method == "spf":
            raw = _MAILFROM.search(text)
            detail = f"{detail} {raw.group(1)}" if raw and raw.group(1) not in detail else detail
        out.append(Finding(hop, clause.method, clause.result.lower(), parsed.authserv_id, source, detail))
    return out


def _spf_detail(text: str) -> str:
    sender = _MAILFROM.search(text)
    address = _CLIENT_IP.search(text)
    parts = [f"client-ip={address.group(1)}" if address else "", f"envelope-from={sender.group(1)}" if sender else ""]
    return " ".join(p for p in parts if p)


def forwards(replay: Replay) -> list[tuple[Hop, str, str]]:
    """(the hop whose receiver forwarded, old recipient, new recipient) wherever the recipient changed."""
    out = []
    hops = [hop for hop in replay.external if hop.recipient]
    for before, after in zip(hops, hops[1:], strict=False):
        if before.recipient and after.recipient and before.recipient.lower() != after.recipient.lower():
            out.append((before, before.recipient, after.recipient))
    return out


def explain(replay: Replay) -> list[str]:
    """Sentences on where (and why) authentication broke, hop by hop."""
    lines = []
    hops = {hop.number: hop for hop in replay.hops}
    for hop, old, new in forwards(replay):
        lines.append(f"hop {hop.number}: {hop.receiver} received it for <{old}> and forwarded it to <{new}>.")
    explained: set[tuple[int | None, str]] = set()
    for finding in replay.findings:
        if finding.method == "spf" and (finding.hop, finding.result) not in explained:
            explained.add((finding.hop, finding.result))
            lines.append(_explain_spf(replay, finding, hops))
    lines.extend(_explain_dkim(replay))
    for finding in _unique(replay.findings, "arc"):
        sealers = ", ".join(d for d, _ in replay.arc_sealers) or "nobody"
        lines.append(f"hop {finding.hop}: ARC {finding.result} at {finding.by} (sealed by {sealers})" + (
            ": the sealers vouch for what they saw before any edit." if finding.result == "pass" else "."))  # fmt: skip
    for finding in _unique(replay.findings, "dmarc"):
        lines.append(f"hop {finding.hop}: DMARC {finding.result} at {finding.by}" + (
            " - nothing aligned with the From domain passed." if finding.result == "fail" else "."))  # fmt: skip
    if not any(f.method in ("spf", "dkim", "dmarc") for f in replay.findings):
        lines.append("No Received-SPF or Authentication-Results header: no receiver recorded a check.")
    return lines


def _unique(findings: tuple[Finding, ...], method: str) -> list[Finding]:
    """One finding per (hop, result, checker) of a method: an ARC-Authentication-Results repeats its A-R."""
    seen: set[tuple[int | None, str, str]] = set()
    out = []
    for finding in findings:
        key = (finding.hop, finding.result, finding.by)
        if finding.method == method and finding.hop is not None and key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def _explain_spf(replay: Replay, finding: Finding, hops: dict[int, Hop]) -> str:
    hop = hops.get(finding.hop) if finding.hop else None
    sender_domain = _spf_domain(finding.detail) or (replay.envelope_from or "").rpartition("@")[2]
    if hop is None:
        return f"SPF {finding.result} ({finding.source}), at a hop the Received chain does not show."
    text = (f"hop {hop.number}: SPF {finding.result} at {hop.receiver}: it checked {hop.sender} [{hop.sender_ip}]"
            f" against the SPF record of {sender_domain or 'the sender domain'}.")  # fmt: skip
    earlier = [h for h in replay.external if h.number < hop.number]
    if _is_srs(finding.detail) and finding.result == "pass":
        author = (replay.from_address or "").rpartition("@")[2]
        text += (f" The forwarder had rewritten the envelope sender (SRS), so SPF vouches for {sender_domain},"
                 f" not for the author's domain {author}: DMARC cannot use it.")  # fmt: skip
    if finding.result in FAILED and earlier:
        path = " -> ".join([earlier[0].sender, *[h.receiver for h in earlier]])
        text += (f" The message had been relayed ({path}); {hop.sender} is not a mail server of {sender_domain}."
                 " SPF does not work for relayed mail: SRS at the forwarder, DKIM at the sender, or ARC fix it.")  # fmt: skip
    return text


def _explain_dkim(replay: Replay) -> list[str]:
    dkim = sorted((f for f in replay.findings if f.method == "dkim" and f.hop), key=lambda f: f.hop or 0)
    if not replay.dkim_signatures:
        return ["No DKIM-Signature: nothing in the message itself vouches for the sender after a forward."]
    lines = []
    passed = next((f for f in dkim if f.result == "pass"), None)
    failed = next(
        (f for f in dkim if f.result != "pass" and (passed is None or (f.hop or 0) > (passed.hop or 0))), None
    )
    if passed is not None and failed is not None:
        lines.append(f"DKIM broke between hop {passed.hop} (pass at {passed.by}) and hop {failed.hop} "
                     f"({failed.result} at {failed.by}: {failed.detail}): a host in between edited the message.")  # fmt: skip
    seen: set[tuple[int | None, str, str]] = set()
    for finding in dkim:
        if (finding.hop, finding.result, finding.by) not in seen:
            seen.add((finding.hop, finding.result, finding.by))
            lines.append(f"hop {finding.hop}: DKIM {finding.result} at {finding.by} ({finding.source}).")
    return lines


def _is_srs(text: str) -> bool:
    return re.search(r"\bSRS[01][=+-]", text, re.IGNORECASE) is not None


def _spf_domain(detail: str) -> str | None:
    """The domain SPF was checked for: of ``envelope-from=`` or ``smtp.mailfrom=`` (an address or a domain)."""
    found = re.search(r"(?:envelope-from|smtp\.mailfrom)=<?([^\s;>]+)", detail)
    return found.group(1).rpartition("@")[2] if found else None


def hop_table(replay: Replay) -> str:
    """The hops as fixed-width text, bottom-up."""
    rows = [("hop", "from", "ip", "by", "with", "tls", "for", "date")]
    for hop in replay.hops:
        date = hop.date.isoformat() if hop.date else "?"
        mark = f"{hop.number}{'*' if hop.internal else ''}"
        rows.append((mark, hop.sender, hop.sender_ip or "-", hop.receiver, hop.protocol or "-",
                     (hop.tls or "-")[:24], hop.recipient or "-", date))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)  # fmt: skip


def report(replay: Replay) -> str:
    """The hop table, the findings, and the explanation."""
    lines = ["Received chain, read from the bottom (* = inside one machine):", hop_table(replay), ""]
    lines.append("Authentication results:")
    for finding in replay.findings:
        where = f"hop {finding.hop}" if finding.hop else "hop ?"
        lines.append(
            f"  {where}: {finding.method}={finding.result} by {finding.by} [{finding.source}] {finding.detail}"
        )
    if not replay.findings:
        lines.append("  none recorded")
    lines += ["", "Where authentication broke:", *(f"  {line}" for line in replay.explain())]
    return "\n".join(lines)


def run_replay_cli(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """``mailsim replay MESSAGE.eml [--out DIR] [--no-write]``: report, then write the scenario folder."""
    from mailsim.analysis.replay_scenario import write_scenario

    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(
        prog="mailsim replay", description="Replay a message's path from its Received chain"
    )
    parser.add_argument("message", type=Path, help="an RFC 5322 message (.eml)")
    parser.add_argument("--out", type=Path, help="scenario folder to write (default: replay-<message name>)")
    parser.add_argument("--no-write", action="store_true", help="only report, write no scenario")
    args = parser.parse_args(argv)
    try:
        data = args.message.read_bytes()
    except OSError as error:
        err.write(f"mailsim replay: {args.message}: {error.strerror or error}\n")
        return 2
    try:
        replay = read_replay(data)
    except NoReceivedHeaders:
        err.write(f"mailsim replay: {args.message}: no Received headers, so there is no path to replay "
                  "(the message never left its author's program, or the headers were stripped)\n")  # fmt: skip
        return 1
    out.write(report(replay) + "\n")
    if args.no_write:
        return 0
    if not replay.external:
        err.write(f"mailsim replay: {args.message}: every hop is inside one machine; no scenario written\n")
        return 1
    folder = write_scenario(replay, args.out or Path(f"replay-{args.message.stem}"), source=args.message.name)
    out.write(f"\nwrote {folder}/ - edit it, then: mailsim run {folder}\n")
    return 0
