"""The programs every simulated host has: true, false, cat, an autoresponder, a logger, a list exploder, a spam filter.

What a delivered-to program reads is what local(8) pipes into it: a ``From sender  date`` line, then
``Return-Path:``, ``X-Original-To:``, ``Delivered-To:`` and the message with LF line ends (pipe(8) adds those
only with its F, R, O, D flags). Programs that post mail (vacation, the exploder, the spam filter) return
:class:`~mailsim.da.programs.base.Resubmission` records; the delivery agent posts them as sendmail(1) would.

- ``/usr/bin/vacation [-r DAYS] [USER]`` — replies once per sender (per DAYS, default 7) with
  ``~USER/.vacation.msg`` (or a stock text), remembering senders in ``~USER/.vacation.db``; never to the null
  sender, MAILER-DAEMON, postmaster, ``owner-*``/``*-request`` or mail with Precedence bulk/list/junk,
  ``List-*`` or an ``Auto-Submitted`` other than ``no`` (RFC 3834 §2); replies with the null sender.
- ``/usr/local/bin/autologger [FILE]`` — the seed's example: appends one line per message (date, sender,
  recipient, Message-ID, subject, size) to FILE (default ``/var/log/autologger.log``).
- ``/usr/local/bin/explode [-f SENDER] MEMBERS`` — a mailing list: re-posts the message to every address in
  the MEMBERS file (``#`` comments, commas or lines), from SENDER (default ``owner-LOCAL@DOMAIN``), with
  ``List-Id`` and ``Precedence: list``; a missing file exits 66 (EX_NOINPUT: bounced, 5.3.0).
- ``/usr/local/bin/spamfilter [-f SENDER] [-r] [-- RECIPIENT...]`` — scores the message (2.5 per listed
  phrase, spam at 5.0), adds ``X-Spam-Flag``/``X-Spam-Score``/``X-Spam-Status`` and re-posts it to the
  recipients after ``--`` (the content_filter pattern); without recipients it only exits 0; ``-r`` rejects
  spam with ``5.7.1`` output and exit 1 (bounced with 5.7.1).

Parameters read: none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from email.parser import BytesHeaderParser
from email.policy import compat32

from mailsim.da.programs.base import Program, ProgramContext, ProgramResult, Resubmission
from mailsim.mail.message import as_bytes, build_message, split_header_body

EX_USAGE, EX_NOINPUT = 64, 66
DAY = 86400.0
SPAM_PHRASES = ("viagra", "lottery", "you have won", "winner", "free money", "click here", "act now", "100% free")
SPAM_THRESHOLD = 5.0
_NO_REPLY_USERS = re.compile(r"^(mailer-daemon|postmaster|listserv|majordomo|owner-.*|.*-request)$", re.IGNORECASE)


class Exit:
    """``/bin/true`` and ``/bin/false``: read nothing, exit with a fixed status."""

    def __init__(self, status: int) -> None:
        self.status = status

    def run(
        self, message: bytes, argv: Sequence[str], env: Mapping[str, str], context: ProgramContext
    ) -> ProgramResult:
        return ProgramResult(self.status)


class Cat:
    """``cat``: standard input to standard output (``cat > /dev/null`` swallows the message)."""

    def run(
        self, message: bytes, argv: Sequence[str], env: Mapping[str, str], context: ProgramContext
    ) -> ProgramResult:
        return ProgramResult(0, message.decode("utf-8", "surrogateescape"))


def strip_delivery_envelope(message: bytes) -> bytes:
    """What sendmail(1) would queue from a delivered copy: no From_ line, no Return-Path, CRLF line ends."""
    lines = message.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]
    header_end = lines.index(b"") if b"" in lines else len(lines)
    kept = [line for i, line in enumerate(lines) if i >= header_end or not line.lower().startswith(b"return-path:")]
    return b"\r\n".join(kept)


def headers_of(message: bytes) -> dict[str, str]:
    """The header fields of a delivered copy (lower-cased names, first value wins)."""
    header, _ = split_header_body(strip_delivery_envelope(message))
    parsed = BytesHeaderParser(policy=compat32).parsebytes(header)
    found: dict[str, str] = {}
    for name, value in parsed.items():
        found.setdefault(name.lower(), str(value).strip())
    return found


def envelope_sender(message: bytes, env: Mapping[str, str]) -> str:
    """$SENDER, else the Return-Path header, else the From_ line's address (what vacation(1) reads)."""
    if "SENDER" in env:
        return env["SENDER"]
    first = message.split(b"\n", 1)[0].decode("utf-8", "replace")
    for line in message.replace(b"\r\n", b"\n").split(b"\n"):
        if not line:
            break
        if line.lower().startswith(b"return-path:"):
            return line.split(b":", 1)[1].decode("utf-8", "replace").strip().strip("<>")
    return first.split()[1] if first.startswith("From ") and len(first.split()) > 1 else ""


class Vacation:
    """An RFC 3834 autoresponder in the manner of vacation(1) (see the module docstring)."""

    def run(
        self, message: bytes, argv: Sequence[str], env: Mapping[str, str], context: ProgramContext
    ) -> ProgramResult:
        args = list(argv[1:])
        days = 7.0
        if len(args) >= 2 and args[0] == "-r":
            days = float("inf") if args[1] == "infinite" else float(args[1])
            args = args[2:]
        user = args[-1] if args else env.get("USER", "")
        if not user:
            return ProgramResult(EX_USAGE, "vacation: no user name\n")
        sender = envelope_sender(message, env)
        headers = headers_of(message)
        if not self._should_reply(sender, headers):
            return ProgramResult(0)
        home = env.get("HOME", f"/home/{user}")
        if not self._first_in(context, f"{home}/.vacation.db", sender, days):
            return ProgramResult(0)
        me = env.get("RECIPIENT", f"{user}@{context.hostname}")
        reply = self._reply(context, home, me, sender, headers)
        return ProgramResult(0, resubmit=(Resubmission("", (sender,), reply),))

    @staticmethod
    def _should_reply(sender: str, headers: Mapping[str, str]) -> bool:
        """RFC 3834 §2 and vacation(1)'s list of addresses one never answers."""
        if not sender or _NO_REPLY_USERS.match(sender.rpartition("@")[0] or sender):
            return False
        if headers.get("precedence", "").lower() in ("bulk", "list", "junk"):
            return False
        if any(name.startswith("list-") for name in headers):
            return False
        return headers.get("auto-submitted", "no").lower() == "no"

    @staticmethod
    def _first_in(context: ProgramContext, db: str, sender: str, days: float) -> bool:
        """True (and remembered) when ``sender`` has not had a reply within ``days``."""
        path = context.path(db)
        now = context.now.timestamp()
        seen: dict[str, float] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                who, _, when = line.partition("\t")
                seen[who] = float(when or 0)
        key = sender.lower()
        if key in seen and now - seen[key] < days * DAY:
            return False
        seen[key] = now
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{who}\t{when!r}\n" for who, when in sorted(seen.items())), encoding="utf-8")
        return True

    @staticmethod
    def _reply(context: ProgramContext, home: str, me: str, sender: str, headers: Mapping[str, str]) -> bytes:
        subject, body = f"Re: {headers.get('subject', '')}".rstrip(), "I am away from my mail.\n"
        text = context.path(f"{home}/.vacation.msg")
        if text.exists():
            head, _, rest = text.read_text(encoding="utf-8").partition("\n\n")
            found = re.search(r"^Subject:\s*(.*)$", head, re.IGNORECASE | re.MULTILINE)
            subject, body = (found.group(1), rest) if found else (subject, text.read_text(encoding="utf-8"))
        extra = [("Auto-Submitted", "auto-replied"), ("Precedence", "junk")]
        if "message-id" in headers:
            extra += [("In-Reply-To", headers["message-id"]), ("References", headers["message-id"])]
        return as_bytes(build_message(me, sender, subject, body, headers=extra))


class Logger:
    """The seed's ``|/usr/local/bin/autologger``: one log line per message (see the module docstring)."""

    def run(
        self, message: bytes, argv: Sequence[str], env: Mapping[str, str], context: ProgramContext
    ) -> ProgramResult:
        target = argv[1] if len(argv) > 1 else "/var/log/autologger.log"
        headers = headers_of(message)
        line = (
            f"{context.now.isoformat()} from=<{envelope_sender(message, env)}> "
            f"to=<{env.get('RECIPIENT', headers.get('delivered-to', ''))}> "
            f"message-id={headers.get('message-id', '-')} subject={headers.get('subject', '')!r} size={len(message)}\n"
        )
        try:
            path = context.path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as log:
                log.write(line)
        except (OSError, ValueError) as error:
            return ProgramResult(73, f"autologger: {target}: {error}\n")  # EX_CANTCREAT
        return ProgramResult(0)


class ListExploder:
    """A minimal mailing-list manager: one re-post to every member (see the module docstring)."""

    def run(
        self, message: bytes, argv: Sequence[str], env: Mapping[str, str], context: ProgramContext
    ) -> ProgramResult:
        args = list(argv[1:])
        sender = None
        if len(args) >= 2 and args[0] == "-f":
            sender, args = args[1], args[2:]
        if len(args) != 1:
            return ProgramResult(EX_USAGE, "usage: explode [-f sender] member-file\n")
        try:
            text = context.path(args[0]).read_text(encoding="utf-8")
        except (OSError, ValueError):
            return ProgramResult(EX_NOINPUT, f"explode: cannot open {args[0]}\n")
        members = tuple(
            item.strip() for line in text.splitlines() if not line.lstrip().startswith("#") for item in line.split(",")
        )
        members = tuple(dict.fromkeys(m for m in members if m))
        local, domain = env.get("LOCAL", "list"), env.get("DOMAIN", context.hostname)
        sender = sender if sender is not None else f"owner-{local}@{domain}"
        stamped = b"List-Id: <%s.%s>\r\nPrecedence: list\r\n" % (local.encode(), domain.encode())
        content = stamped + strip_delivery_envelope(message)
        return ProgramResult(0, resubmit=(Resubmission(sender, members, content),) if members else ())


class SpamFilter:
    """A content filter in the shape Postfix's FILTER_README describes (see the module docstring)."""

    def run(
        self, message: bytes, argv: Sequence[str], env: Mapping[str, str], context: ProgramContext
    ) -> ProgramResult:
        args = list(argv[1:])
        sender, reject = envelope_sender(message, env), False
        recipients: tuple[str, ...] = ()
        while args:
            arg = args.pop(0)
            if arg == "-f" and args:
                sender = args.pop(0)
            elif arg == "-r":
                reject = True
            elif arg == "--":
                recipients, args = tuple(args), []
        content = strip_delivery_envelope(message)
        score, hits = self.score(content)
        spam = score >= SPAM_THRESHOLD
        if spam and reject:
            return ProgramResult(1, "5.7.1 message content rejected as spam\n")
        if not recipients:
            return ProgramResult(0)
        flag, yes = ("YES", "Yes") if spam else ("NO", "No")
        tests = ",".join(hit.upper().replace(" ", "_").replace("%", "") for hit in hits) or "none"
        stamped = (
            f"X-Spam-Flag: {flag}\r\nX-Spam-Score: {score:.1f}\r\n"
            f"X-Spam-Status: {yes}, score={score:.1f} required={SPAM_THRESHOLD:.1f} tests={tests}\r\n"
        ).encode()
        return ProgramResult(0, resubmit=(Resubmission(sender, recipients, stamped + content),))

    @staticmethod
    def score(content: bytes) -> tuple[float, list[str]]:
        """2.5 points per spam phrase found (case-insensitive) in the header section or body."""
        text = content.decode("utf-8", "replace").lower()
        hits = [phrase for phrase in SPAM_PHRASES if phrase in text]
        return 2.5 * len(hits), hits


def builtin_programs() -> dict[str, Program]:
    """Fresh instances for one host's registry, by the paths a scenario names them with."""
    true, false, cat = Exit(0), Exit(1), Cat()
    return {
        "/bin/true": true,
        "/usr/bin/true": true,
        "/bin/false": false,
        "/usr/bin/false": false,
        "/bin/cat": cat,
        "/usr/bin/cat": cat,
        "/usr/bin/vacation": Vacation(),
        "/usr/local/bin/autologger": Logger(),
        "/usr/local/bin/explode": ListExploder(),
        "/usr/local/bin/spamfilter": SpamFilter(),
    }
