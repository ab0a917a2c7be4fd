"""Received trace headers: written in Postfix's exact form, read in anybody's.

Writing (RFC 5321 §4.4, Postfix 3.7 ``smtpd.c``; the output equals a header captured from a real
Postfix 3.7.11 in ``tests/data/mail/postfix-3.7``)::

    from HELO (RDNS [IP])                      RDNS is "unknown" when reverse DNS failed
    \t(using TLSv1.3 with cipher ... (256/256 bits)      only over TLS
    \t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)
    \t(No client certificate requested)
    \tby HOST (Postfix) with ESMTPSA id QUEUEID
    \tfor <RCPT>; DATE                         "for" only with exactly one recipient; with
                                               several: "...id QUEUEID;" then "\tDATE"

``with`` is the RFC 3848 / RFC 6531 §3.7.3 protocol: SMTP (HELO), ESMTP (EHLO), then S for TLS
and A for SMTP AUTH, UTF8SMTP*/LMTP* likewise. Postfix parameters behind the fields:
``myhostname`` (HOST), ``mail_name`` (Postfix), ``smtpd_tls_received_header`` (no: TLS comment off),
``smtpd_sasl_authenticated_header`` (no: no "Authenticated sender" comment).

Reading: :func:`parse_received` splits the value into RFC 5321 clauses (from, by, via, with, id,
for, and Exim's tls) with their comments and understands the forms of Postfix, Sendmail, Exim,
Gmail and Microsoft. It never raises: whatever it cannot read goes into ``notes``.
:func:`received_chain` returns the hops bottom-up, sender side first, as the seed says to read them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from mailsim.mail.address import quote_address, strip_angles
from mailsim.mail.message import parse_date, parse_message, postfix_date, raw_header_values, unfold

AUTH_PROTOCOLS = frozenset(
    ["ESMTPA", "ESMTPSA", "LMTPA", "LMTPSA", "UTF8SMTPA", "UTF8SMTPSA", "UTF8LMTPA", "UTF8LMTPSA"]
)  # RFC 3848 §2, RFC 6531 §3.7.3
TLS_PROTOCOLS = frozenset(
    ["ESMTPS", "ESMTPSA", "LMTPS", "LMTPSA", "UTF8SMTPS", "UTF8SMTPSA", "UTF8LMTPS", "UTF8LMTPSA", "SMTPS"]
)
KEYWORDS = ("from", "by", "via", "with", "id", "for", "tls")
_BRACKET_IP = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\](?::\d+)?")
_BARE_IP = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})$")
_HELO_KW = re.compile(r"helo=([^\s)\]]+)", re.IGNORECASE)
_ENVELOPE_FROM = re.compile(r"envelope-from\s+(<[^>]*>|\S+)", re.IGNORECASE)
_TLS_PATTERNS = (
    re.compile(r"\busing\s+((?:TLS|SSL)\S*\s+with\s+cipher\s+\S+.*)", re.IGNORECASE),  # Postfix
    re.compile(r"\bversion=((?:TLS|SSL)\S+?)[,\s)]", re.IGNORECASE),  # Sendmail, Microsoft
    re.compile(r"^((?:TLS|SSL)v?[0-9._]+)$", re.IGNORECASE),  # Exim "(TLS1.3)"
    re.compile(r"^(Google Transport Security)$"),
)


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What Postfix's smtpd writes about a TLS session when smtpd_tls_received_header = yes."""

    protocol: str = "TLSv1.3"
    cipher: str = "TLS_AES_256_GCM_SHA384"
    usebits: int = 256
    algbits: int = 256
    key_exchange: str | None = "X25519"
    server_signature: str | None = "RSA-PSS"
    server_signature_bits: int | None = 2048
    server_digest: str | None = "SHA256"
    client_certificate: str = "No client certificate requested"

    def comment_lines(self) -> list[str]:
        """The comment lines, continuation first-space included, as Postfix 3.7 folds them."""
        first = f"(using {self.protocol} with cipher {self.cipher} ({self.usebits}/{self.algbits} bits)"
        details = []
        if self.key_exchange:
            details.append(f"key-exchange {self.key_exchange}")
        if self.server_signature:
            bits = f" ({self.server_signature_bits} bits)" if self.server_signature_bits else ""
            details.append(f"server-signature {self.server_signature}{bits}")
        if self.server_digest:
            details.append(f"server-digest {self.server_digest}")
        lines = [first + ")"] if not details else [first, " " + " ".join(details) + ")"]
        return [*lines, f"({self.client_certificate})"]


def with_protocol(*, esmtp: bool = True, tls: bool = False, auth: bool = False, lmtp: bool = False,
                  utf8: bool = False) -> str:  # fmt: skip
    """The ``with`` keyword (RFC 3848): SMTP/ESMTP/LMTP, UTF8 prefix for SMTPUTF8, then S (TLS) and A (AUTH)."""
    base = "LMTP" if lmtp else ("ESMTP" if esmtp or tls or auth else "SMTP")
    if utf8:
        base = "UTF8LMTP" if lmtp else "UTF8SMTP"
    return base + ("S" if tls else "") + ("A" if auth else "")


def _rfc_address(address: str) -> str:
    return f"IPv6:{address}" if ":" in address and not address.startswith("IPv6:") else address


def received_header(
    *,
    client_name: str,
    client_address: str,
    by_host: str,
    protocol: str,
    queue_id: str | None,
    recipients: Sequence[str] | str | None,
    date: datetime,
    helo: str | None = None,
    tls: TlsInfo | None = None,
    sasl_username: str | None = None,
    mail_name: str = "Postfix",
) -> str:
    """The value of the Received header smtpd prepends, folded with ``\\n\\t`` exactly like Postfix."""
    lines = [f"from {helo or client_name} ({client_name} [{_rfc_address(client_address)}])"]
    if tls is not None:
        lines.extend(tls.comment_lines())
    if sasl_username:
        lines.append(f"(Authenticated sender: {sasl_username})")
    rcpts = [recipients] if isinstance(recipients, str) else list(recipients or ())
    by = f"by {by_host} ({mail_name}) with {protocol}" + (f" id {queue_id}" if queue_id else "")
    if len(rcpts) == 1:
        lines += [by, f"for <{quote_address(rcpts[0])}>; {postfix_date(date)}"]
    else:
        lines += [by + ";", postfix_date(date)]
    return "\n\t".join(lines)


def local_received(by_host: str, queue_id: str, date: datetime, *, userid: int | None = None,
                   mail_name: str = "Postfix") -> str:  # fmt: skip
    """Received for mail made on the host itself (pickup, bounce): ``by HOST (Postfix)\\n\\tid QID; DATE``."""
    who = f"{mail_name}, from userid {userid}" if userid is not None else mail_name
    return f"by {by_host} ({who})\n\tid {queue_id}; {postfix_date(date)}"


@dataclass(frozen=True, slots=True)
class ReceivedHop:
    """One Received header read back: the fields a reader wants, the raw text, and what was odd."""

    raw: str
    from_helo: str | None = None
    from_rdns: str | None = None
    from_ip: str | None = None
    by_host: str | None = None
    by_software: str | None = None
    with_protocol: str | None = None
    id: str | None = None
    for_rcpt: str | None = None
    date: datetime | None = None
    tls: str | None = None
    envelope_from: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def authenticated(self) -> bool:
        """The client used SMTP AUTH (RFC 3848 "A" protocols)."""
        return (self.with_protocol or "").upper() in AUTH_PROTOCOLS

    @property
    def encrypted(self) -> bool:
        """The hop ran over TLS (an "S" protocol or a TLS comment)."""
        return self.tls is not None or (self.with_protocol or "").upper() in TLS_PROTOCOLS

    @property
    def from_host(self) -> str | None:
        """Best name for the sending host: verified reverse DNS, else what it said in HELO."""
        return self.from_rdns if self.from_rdns and self.from_rdns != "unknown" else self.from_helo


@dataclass(slots=True)
class _Clause:
    keyword: str
    words: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def _comment_end(text: str, start: int) -> int:
    """Index of the ``)`` closing the comment opened at ``start`` (len(text) when unterminated)."""
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index
        index += 1
    return len(text)


def _tokens(text: str, notes: list[str]) -> list[tuple[str, str]]:
    """Words and (outer) comments in order."""
    out: list[tuple[str, str]] = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
        elif text[index] == "(":
            end = _comment_end(text, index)
            if end >= len(text):
                notes.append("unterminated comment")
            out.append(("comment", text[index + 1 : end].strip()))
            index = end + 1
        else:
            match = re.compile(r"[^\s(]+").match(text, index)
            assert match is not None
            out.append(("word", match.group(0)))
            index = match.end()
    return out


def _split_date(text: str) -> tuple[str, str | None]:
    """Cut at the last ``;`` outside comments: (clauses, date text)."""
    depth = 0
    cut = -1
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == ";" and depth == 0:
            cut = index
    return (text, None) if cut < 0 else (text[:cut], text[cut + 1 :].strip())


def _clauses(tokens: list[tuple[str, str]]) -> list[_Clause]:
    clauses = [_Clause("")]
    for kind, value in tokens:
        current = clauses[-1]
        if kind == "word" and value.lower() in KEYWORDS and (current.keyword == "" or current.words):
            clauses.append(_Clause(value.lower()))
        elif kind == "word":
            current.words.append(value)
        else:
            current.comments.append(value)
    return clauses


def _parse_date(text: str | None, notes: list[str]) -> datetime | None:
    if not text:
        notes.append("no date after ';'")
        return None
    moment = parse_date(text)
    if moment is None:
        notes.append(f"unparseable date {text!r}")
    return moment


def _from_fields(clause: _Clause) -> dict[str, str | None]:
    """helo, rdns and ip from a from-clause in Postfix/Sendmail/Gmail, Exim or Microsoft style."""
    name = clause.words[0] if clause.words else None
    ip = rdns = helo_kw = None
    for comment in clause.comments:
        helo_match = _HELO_KW.search(comment)
        helo_kw = helo_kw or (helo_match.group(1) if helo_match else None)
        ip_match = _BRACKET_IP.search(comment)
        if ip_match and ip is None:
            ip = ip_match.group(1)
            before = comment[: ip_match.start()].split()
            rdns = before[-1].strip("()").rstrip(".") or None if before else None
        elif ip is None and _BARE_IP.match(comment):
            ip = comment
    literal = _BRACKET_IP.fullmatch(name or "")
    if literal and ip is None:
        ip = literal.group(1)
    if helo_kw:  # Exim: "from RDNS ([IP] helo=HELO)" or "from [IP] (helo=HELO)"
        return {"from_helo": helo_kw, "from_rdns": rdns or (None if literal else name), "from_ip": ip}
    return {"from_helo": name, "from_rdns": rdns, "from_ip": ip}


def _tls_of(clauses: list[_Clause]) -> str | None:
    """A short description of the TLS session from whichever comment or clause carries it."""
    version = _tls_comment(clauses)
    cipher = next((c.words[0] for c in clauses if c.keyword == "tls" and c.words), None)  # Exim
    if cipher is not None:
        return f"{version} {cipher}" if version else cipher
    return version


def _tls_comment(clauses: list[_Clause]) -> str | None:
    for clause in clauses:
        for comment in clause.comments:
            for pattern in _TLS_PATTERNS:
                match = pattern.search(comment)
                if match:
                    return " ".join(match.group(1).rstrip(")").split())
    return None


def _is_host_comment(comment: str) -> bool:
    """``(name [ip])``, ``([ip])`` or ``(ip)``: a comment naming a host, not software."""
    return _BRACKET_IP.search(comment) is not None or _BARE_IP.match(comment) is not None


def _software(clauses: list[_Clause], by: _Clause | None) -> str | None:
    """The receiving software: Exim's own comment, else the first non-host comment of the by clause."""
    comments = [c for clause in clauses for c in clause.comments]
    exim = next((c for c in comments if c.startswith("Exim ")), None)
    if exim is not None or by is None:
        return exim
    return next((c for c in by.comments if not _is_host_comment(c)), None)


def _check_ip(ip: str | None, notes: list[str]) -> None:
    if ip is not None:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            notes.append(f"not a valid IP address: {ip!r}")


def _first(clauses: dict[str, _Clause], keyword: str) -> str | None:
    clause = clauses.get(keyword)
    return clause.words[0] if clause and clause.words else None


def _fields(clauses: list[_Clause], notes: list[str]) -> dict[str, object]:
    by_keyword: dict[str, _Clause] = {}
    for clause in clauses[1:]:
        if clause.keyword in by_keyword:
            notes.append(f"repeated '{clause.keyword}' clause ignored")
        else:
            by_keyword.setdefault(clause.keyword, clause)
    if clauses[0].words:
        notes.append(f"text before the first clause: {' '.join(clauses[0].words)!r}")
    by = by_keyword.get("by")
    if by is None or not by.words:
        notes.append("no 'by' clause" if by is None else "empty 'by' clause")
    fields: dict[str, object] = dict(_from_fields(by_keyword["from"])) if "from" in by_keyword else {}
    _check_ip(fields.get("from_ip"), notes)  # type: ignore[arg-type]
    comments = [c for clause in clauses for c in clause.comments]
    envelope_from = next((m.group(1) for c in comments if (m := _ENVELOPE_FROM.search(c))), None)
    with_clause = by_keyword.get("with")
    fields.update(
        by_host=_first(by_keyword, "by"),
        by_software=_software(clauses, by),
        with_protocol=" ".join(with_clause.words) if with_clause and with_clause.words else None,
        id=_first(by_keyword, "id"),
        for_rcpt=strip_angles(_first(by_keyword, "for") or "") or None,
        tls=_tls_of(clauses),
        envelope_from=strip_angles(envelope_from) if envelope_from is not None else None,
    )
    return fields


def parse_received(value: str) -> ReceivedHop:
    """Read one Received header value (folded or not); never raises, oddities land in ``notes``."""
    notes: list[str] = []
    text = unfold(value).strip()
    clause_text, date_text = _split_date(text)
    clauses = _clauses(_tokens(clause_text, notes))
    fields = _fields(clauses, notes)
    date = _parse_date(date_text, notes)
    return ReceivedHop(raw=text, date=date, notes=tuple(notes), **fields)  # type: ignore[arg-type]


def received_chain(message: EmailMessage | bytes) -> list[ReceivedHop]:
    """Every Received header as a hop, bottom-up: the sender's side first, the final receiver last."""
    msg = parse_message(message) if isinstance(message, bytes) else message
    return [parse_received(value) for value in reversed(raw_header_values(msg, "Received"))]
