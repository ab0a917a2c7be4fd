"""The vocabulary of message stores: listings, problems, errors, the modelled mailbox lock, flag letters.

Flags are IMAP system flags (RFC 3501 §2.3.2) everywhere above the files; each format keeps them in its own
letters: Maildir's ``:2,`` info (``D`` draft, ``F`` flagged, ``R`` replied, ``S`` seen, ``T`` trashed) and
mbox's ``Status:`` (``R`` read, ``O`` old) and ``X-Status:`` (``A`` answered, ``F`` flagged, ``T`` draft,
``D`` deleted) headers, as mutt, s-nail, Dovecot and Python's ``mailbox`` read them.

Postfix parameters read: none (the callers pass ``mailbox_size_limit`` and the lock timing of local(8)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mailsim.core.errors import MailsimError
from mailsim.mail.address import quote_address

SEEN, ANSWERED, FLAGGED, DELETED, DRAFT = "\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"
SYSTEM_FLAGS = frozenset({SEEN, ANSWERED, FLAGGED, DELETED, DRAFT})

MAILDIR_LETTERS = {DRAFT: "D", FLAGGED: "F", ANSWERED: "R", SEEN: "S", DELETED: "T"}
XSTATUS_LETTERS = {ANSWERED: "A", FLAGGED: "F", DRAFT: "T", DELETED: "D"}

# local(8) defaults (postconf(5)): how long a delivery retries a busy mailbox, and when a lock is stale.
DELIVER_LOCK_ATTEMPTS = 20
DELIVER_LOCK_DELAY = 1.0
STALE_LOCK_TIME = 500.0
MAILBOX_DELIVERY_LOCK = ("fcntl", "dotlock")  # Debian's default for mailbox_delivery_lock

_LINE_END = re.compile(rb"\r?\n")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as an access agent sees it: stable UID, POP3 UIDL, RFC 822 size (CRLF), flags, arrival."""

    uid: int
    uidl: str
    size: int
    flags: frozenset[str]
    internal_date: datetime
    key: str


@dataclass(frozen=True, slots=True)
class Listing:
    """A mailbox at one moment: messages in sequence order (ascending UID) and the UID counters of RFC 3501."""

    uidvalidity: int
    uidnext: int
    messages: tuple[StoredMessage, ...]
    recent: frozenset[int] = frozenset()

    def by_uid(self, uid: int) -> StoredMessage | None:
        """The message with ``uid``, if it is still there."""
        for message in self.messages:
            if message.uid == uid:
                return message
        return None

    def find(self, key: str) -> StoredMessage | None:
        """The message stored under ``key`` (a Maildir base name), if any."""
        return next((message for message in self.messages if message.key == key), None)


@dataclass(frozen=True, slots=True)
class StoreProblem:
    """Something wrong in a store file, said where (line and byte offset) so a person can look."""

    path: str
    line: int
    offset: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


@dataclass(frozen=True, slots=True)
class Delivered:
    """What a delivery wrote: the file, the bytes, and the UID it got (None when the store is corrupt)."""

    path: Path
    name: str
    size: int
    uid: int | None
    problems: tuple[StoreProblem, ...] = field(default_factory=tuple)


class StoreError(MailsimError):
    """A store cannot do what was asked; ``status`` is the enhanced code local(8) would report."""

    status = "4.2.0"

    def __init__(self, path: Path | str, text: str, problems: tuple[StoreProblem, ...] = ()) -> None:
        self.path = str(path)
        self.text = text
        self.problems = problems
        detail = "; ".join(str(p) for p in problems)
        super().__init__(f"{self.path}: {text}" + (f": {detail}" if detail else ""))


class CorruptMailbox(StoreError):
    """The file is not a valid mailbox; it is reported and left exactly as it is."""

    status = "4.2.0"


class MailboxBusy(StoreError):
    """Another process holds the mailbox lock (local(8): "unable to lock for exclusive access")."""

    status = "4.2.0"


class MailboxFull(StoreError):
    """The delivery would pass mailbox_size_limit (local(8): "cannot update mailbox ... File too large")."""

    status = "5.2.2"


class MailboxLock:
    """The lock local(8) takes on a mailbox, as a plain object so simulated deliveries can contend for it.

    local(8) locks an mbox with every method in ``mailbox_delivery_lock`` (Linux: ``fcntl, dotlock``): an
    ``fcntl()`` write lock on the open file and a ``FILE.lock`` dot-lock created by ``link()``. Both are
    non-blocking; a busy mailbox is retried ``deliver_lock_attempts`` (20) times ``deliver_lock_delay`` (1 s)
    apart, then the recipient is deferred with 4.2.0, and a dot-lock older than ``stale_lock_time`` (500 s)
    is removed as stale. The simulated delivery process holds this object for as long as its write takes
    in virtual time (the real ``fcntl`` + dot-lock are taken by the store during the instant it writes).
    Maildir needs no lock: each message is its own file, made in ``tmp/`` and renamed into ``new/``.
    """

    __slots__ = ("path", "holder", "since", "stale_after")

    def __init__(self, path: Path | str, *, stale_after: float = STALE_LOCK_TIME) -> None:
        self.path = str(path)
        self.holder: str | None = None
        self.since = 0.0
        self.stale_after = stale_after

    def acquire(self, holder: str, now: float) -> bool:
        """Try once, as local(8) does; a lock held longer than ``stale_after`` seconds is broken."""
        if self.holder is not None and self.holder != holder and now - self.since <= self.stale_after:
            return False
        if self.holder != holder:
            self.since = now
        self.holder = holder
        return True

    def release(self, holder: str) -> None:
        """Give the lock back; releasing a lock one does not hold is a bug in the caller."""
        if self.holder != holder:
            raise RuntimeError(f"{self.path}: {holder!r} releases a lock held by {self.holder!r}")
        self.holder = None

    def check(self, holder: str | None) -> None:
        """Raise :class:`MailboxBusy` unless the lock is free or held by ``holder``."""
        if self.holder is not None and self.holder != holder:
            raise MailboxBusy(self.path, f"unable to lock for exclusive access: held by {self.holder}")


def to_crlf(content: bytes) -> bytes:
    """The message as it travels (RFC 5322 lines end in CRLF): what RFC822.SIZE and POP3 LIST count."""
    return _LINE_END.sub(b"\r\n", content)


def to_lf(content: bytes) -> bytes:
    """The message as Postfix writes files: lines end in LF (queue records carry no line ends)."""
    return _LINE_END.sub(b"\n", content)


def uidl_of(uid: int, uidvalidity: int) -> str:
    """Dovecot's default pop3_uidl_format ``%08Xu%08Xv``: stable as long as the IMAP UID is."""
    return f"{uid:08X}{uidvalidity:08X}"


def asctime(moment: datetime) -> str:
    """C ``asctime()`` without the newline, e.g. ``Mon Jan  5 09:00:01 2026`` (day padded with a space)."""
    return f"{moment:%a %b} {moment.day:2d} {moment:%H:%M:%S} {moment.year}"


def from_line(sender: str, when: datetime) -> bytes:
    """mail_copy()'s ``From sender  asctime`` separator: two spaces, ``MAILER-DAEMON`` for the null sender."""
    who = quote_address(sender) if sender else "MAILER-DAEMON"
    return f"From {who}  {asctime(when)}\n".encode()


def delivery_headers(sender: str, recipient: str, original_recipient: str = "") -> bytes:
    """What local(8)'s mail_copy() prepends, in its order: Return-Path, X-Original-To (if known), Delivered-To."""
    lines = [f"Return-Path: <{quote_address(sender) if sender else ''}>"]
    if original_recipient:
        lines.append(f"X-Original-To: {quote_address(original_recipient)}")
    lines.append(f"Delivered-To: {quote_address(recipient)}")
    return ("\n".join(lines) + "\n").encode()
