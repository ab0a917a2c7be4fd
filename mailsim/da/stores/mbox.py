"""An mbox mailbox as Postfix local(8) writes it, read and changed through Python's ``mailbox``.

Each delivery appends, under the mailbox lock (``fcntl`` + ``FILE.lock`` dot-lock, which ``mailbox.mbox.lock()``
takes too): the ``From sender  asctime`` separator, ``Return-Path:``, ``X-Original-To:`` (when known),
``Delivered-To:``, the message with LF line ends and every line that starts with ``From `` quoted as
``>From `` (mboxo, as mail_copy() does: ``>From`` lines are not quoted again, so reading cannot undo it), a
final newline if the message lacked one, and one blank line. A failed write is cut back to the old length.

Flags live in ``Status:``/``X-Status:`` headers (mutt, s-nail and Dovecot read and write them); like Dovecot,
the access agents never see those two headers, so a message's size and bytes do not change when it is marked
read. Setting flags and expunging rewrite the file through ``mailbox.mbox`` (temporary file, rename), never
when :meth:`MboxStore.check` finds a problem: a corrupted mailbox raises :class:`CorruptMailbox` and stays
byte for byte as it was. Postfix parameters read: none (``mailbox_size_limit`` is passed to ``deliver``).
"""

from __future__ import annotations

import hashlib
import mailbox
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from mailsim.da.stores.base import BaseStore, Clock, Entry, known_flags
from mailsim.da.stores.records import (
    SEEN,
    XSTATUS_LETTERS,
    CorruptMailbox,
    Delivered,
    MailboxBusy,
    MailboxFull,
    StoreError,
    StoreProblem,
    delivery_headers,
    from_line,
    to_crlf,
    to_lf,
)

FROM_LINE = re.compile(rb'^From (?:"[^"\n]*"|\S)+ +(\w{3} \w{3} +\d{1,2} \d{1,2}:\d\d:\d\d \d{4})')
_FLAG_HEADER = re.compile(rb"^(status|x-status):[ \t]*(.*)$", re.IGNORECASE)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MboxStore(BaseStore):
    """One mbox file (``/var/mail/<user>``); its UID index is ``.<name>.mailsim-uidlist`` beside it."""

    kind = "mbox"
    ordered = True

    def __init__(self, path: Path, *, clock: Clock | None = None) -> None:
        super().__init__(path, path.with_name(f".{path.name}.mailsim-uidlist"), clock)

    # -- delivery ---------------------------------------------------------------------------------------

    def deliver(
        self,
        message: bytes,
        *,
        sender: str,
        recipient: str,
        when: datetime,
        original_recipient: str = "",
        holder: str | None = None,
        size_limit: int = 0,
        check: bool = True,
    ) -> Delivered:
        """Append one message as local(8) does; ``holder`` must hold :attr:`lock` if anyone does.

        A corrupted mailbox raises :class:`CorruptMailbox` (4.2.0: the recipient is deferred) and stays as it
        is. Postfix appends blindly, and after a truncated last message the new one would be swallowed by it;
        ``check=False`` does what Postfix does and returns the problems found afterwards in the result.
        """
        self.lock.check(holder)
        if check and not self._known_sound() and (found := self.check()):
            raise CorruptMailbox(self.path, "corrupted mailbox, delivery deferred, file left as it is", found)
        entry = from_line(sender, when) + delivery_headers(sender, recipient, original_recipient) + to_lf(message)
        written = _written_size(entry)
        _create(self.path)
        if size_limit and self.path.stat().st_size + written > size_limit:
            raise MailboxFull(self.path, "cannot update mailbox: File too large")
        with _opened(self.path) as box:
            box.add(entry)  # quotes "\nFrom ", ends the message with a newline and a blank line
        self._cache = None
        uid: int | None = None
        problems: tuple[StoreProblem, ...] = ()
        try:
            listing = self.listing(when=when)
            uid = listing.messages[-1].uid if listing.messages else None
        except StoreError as error:
            problems = error.problems
        self._changed()
        return Delivered(self.path, self.path.name, written, uid, problems)

    def _known_sound(self) -> bool:
        """The file is unchanged since a scan that found no problem (saves a scan per delivery)."""
        return self._cache is not None and self._cache[0] == self._stamp()

    # -- the format -------------------------------------------------------------------------------------

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _scan(self) -> list[Entry]:
        data = _read(self.path)
        spans, problems = split_mbox(data, str(self.path))
        if problems:
            raise self._corrupt()
        entries: list[Entry] = []
        seen: dict[str, int] = {}
        for position, (start, stop) in enumerate(spans):
            raw = data[start:stop]
            first, _, rest = raw.partition(b"\n")
            served, flags = _served(rest)
            digest = hashlib.sha1(first + b"\n" + served).hexdigest()[:24]
            seen[digest] = seen.get(digest, -1) + 1
            key = f"{digest}.{seen[digest]}"
            entries.append(Entry(key, len(to_crlf(served)), flags, _arrival(first), (position, raw)))
        return entries

    def _content(self, entry: Entry) -> bytes:
        return _served(entry.where[1].partition(b"\n")[2])[0]

    def check(self) -> tuple[StoreProblem, ...]:
        """Problems of the file (garbage before the first From_ line, truncation, a bad separator)."""
        return tuple(split_mbox(_read(self.path), str(self.path))[1])

    # -- changes ----------------------------------------------------------------------------------------

    def set_flags(self, flags: Mapping[int, Iterable[str]]) -> None:
        """Give messages these system flags, written as Status/X-Status headers (the file is rewritten)."""
        targets = self._by_uid(flags)
        changes = {}
        for uid, entry in targets.items():
            wanted = known_flags(flags[uid])
            if wanted != entry.flags:
                changes[entry.where[0]] = _with_flags(entry.where[1], wanted)
        if changes:
            self._rewrite(changes)

    def expunge(self, uids: Iterable[int]) -> list[int]:
        """Remove these messages (the file is rewritten); returns the UIDs that were removed."""
        targets = self._by_uid(uids)
        if targets:
            self._rewrite({entry.where[0]: None for entry in targets.values()})
        return sorted(targets)

    def _rewrite(self, changes: Mapping[int, bytes | None]) -> None:
        expected = len(self.entries())
        with _opened(self.path) as box:
            if len(box) != expected:
                raise MailboxBusy(self.path, "mailbox changed by another program; try again")
            keys = list(box.keys())  # in file order, as this store numbers the messages
            for position, raw in changes.items():
                if raw is None:
                    box.remove(keys[position])
                else:
                    box[keys[position]] = raw
        self._cache = None
        self.listing()  # the index forgets expunged keys while the rest keep their UIDs
        self._changed()


class _opened:
    """``mailbox.mbox`` locked (fcntl + dot-lock) for one change, closed (flushed, unlocked) afterwards."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.box = mailbox.mbox(path, create=False)

    def __enter__(self) -> mailbox.mbox:
        try:
            self.box.lock()
        except mailbox.ExternalClashError as error:
            self.box.close()
            raise MailboxBusy(self.path, f"unable to lock for exclusive access: {error}") from error
        return self.box

    def __exit__(self, *exc: object) -> None:
        self.box.close()


def split_mbox(data: bytes, name: str = "mbox") -> tuple[list[tuple[int, int]], list[StoreProblem]]:
    """Message spans as Python's ``mailbox.mbox`` finds them (From_ line to before the blank line) and problems."""
    spans: list[tuple[int, int]] = []
    problems: list[StoreProblem] = []
    start, offset, number, blank = -1, 0, 0, False
    while offset < len(data):
        end = data.find(b"\n", offset)
        end = len(data) if end < 0 else end + 1
        line, number = data[offset:end], number + 1
        if line.startswith(b"From "):
            if start >= 0:
                spans.append((start, offset - 1 if blank else offset))
                if not blank:
                    problems.append(StoreProblem(name, number, offset, "no blank line before this From_ line"))
            elif offset:
                problems.append(StoreProblem(name, 1, 0, f"{offset} bytes of garbage before the first From_ line"))
            if not FROM_LINE.match(line):
                problems.append(StoreProblem(name, number, offset, "malformed From_ line"))
            start = offset
        blank, offset = line == b"\n", end
    if data and start < 0:
        problems.append(StoreProblem(name, 1, 0, "no From_ line: not an mbox file"))
    elif start >= 0:
        spans.append((start, len(data) - 1 if blank else len(data)))
        if not data.endswith(b"\n"):
            problems.append(StoreProblem(name, number, offset, "truncated: the file ends in the middle of a line"))
        elif not blank:
            problems.append(StoreProblem(name, number, offset, "truncated: the last message lacks its blank line"))
    return spans, problems


def _header_end(text: bytes) -> int:
    """Where the header block ends: the offset of the empty line (or the end when there is none)."""
    if text.startswith(b"\n"):
        return 0
    at = text.find(b"\n\n")
    return len(text) if at < 0 else at + 1


def _served(rest: bytes) -> tuple[bytes, frozenset[str]]:
    """The message without its Status/X-Status headers, and the flags those headers carried."""
    head_end = _header_end(rest)
    kept, flags = [], set()
    for line in rest[:head_end].splitlines(keepends=True):
        match = _FLAG_HEADER.match(line.rstrip(b"\r\n"))
        if match is None:
            kept.append(line)
        elif match.group(1).lower() == b"status":
            flags.update({SEEN} if b"R" in match.group(2) else set())
        else:
            flags.update(flag for flag, letter in XSTATUS_LETTERS.items() if letter.encode() in match.group(2))
    return b"".join(kept) + rest[head_end:], frozenset(flags)


def _with_flags(raw: bytes, flags: frozenset[str]) -> bytes:
    """The stored message with fresh Status/X-Status headers at the end of its header block."""
    first, _, rest = raw.partition(b"\n")
    served, _ = _served(rest)
    head_end = _header_end(served)
    letters = "".join(letter for flag, letter in XSTATUS_LETTERS.items() if flag in flags)
    extra = b"Status: RO\n" if SEEN in flags else b"Status: O\n"
    extra += f"X-Status: {letters}\n".encode() if letters else b""
    return first + b"\n" + served[:head_end] + extra + served[head_end:]


def _arrival(first: bytes) -> datetime:
    match = FROM_LINE.match(first)
    if match is None:
        return _EPOCH
    try:
        return datetime.strptime(match.group(1).decode(), "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC)
    except ValueError:
        return _EPOCH


def _written_size(entry: bytes) -> int:
    """Bytes that ``mailbox.mbox.add`` writes for ``entry``: quoting, the final newline, the blank line."""
    quoted = entry.count(b"\nFrom ")
    return len(entry) + quoted + (0 if entry.endswith(b"\n") else 1) + 1


def _create(path: Path) -> None:
    """Make the mailbox file as local(8) does when it is missing: mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
