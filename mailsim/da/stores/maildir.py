"""A Maildir as Postfix local(8) and virtual(8) write it: one file per message, made in tmp/, renamed into new/.

A delivery writes ``Return-Path:``, ``X-Original-To:`` (when known) and ``Delivered-To:`` before the message
(LF line ends, no From_ line, no ``>From`` quoting, mode 0600, folders 0700), gives the file the delivery's
virtual time as its modification time (which Dovecot and mutt read as the arrival date) and renames it from
``tmp/`` to ``new/``. Unique names follow cr.yp.to/proto/maildir.html: ``<seconds>.M<usec>P<pid>Q<n>.<host>``
from the virtual time, the simulated process id and a per-host delivery counter; Postfix itself puts the
device and inode numbers (``V..I..``) in the name, which a simulation cannot make reproducible. Host names
have ``/`` and ``:`` written as ``\\057`` and ``\\072``.

A message moves to ``cur/`` with an info suffix when it is first seen (the first SELECT) or flagged:
``:2,`` then, in ASCII order, D (draft), F (flagged), P (passed), R (replied), S (seen), T (trashed =
``\\Deleted``); letters this store does not map (P) are kept. Expunge unlinks. Postfix parameters read: none.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from itertools import count
from pathlib import Path

from mailsim.da.stores.base import BaseStore, Clock, Entry, file_time, known_flags
from mailsim.da.stores.records import (
    MAILDIR_LETTERS,
    Delivered,
    MailboxFull,
    StoreProblem,
    delivery_headers,
    to_crlf,
    to_lf,
)

SUBDIRS = ("tmp", "new", "cur")
_LETTER_FLAGS = {letter: flag for flag, letter in MAILDIR_LETTERS.items()}
_NAME = re.compile(r"^(\d+)\.([^.]*)")


class MaildirStore(BaseStore):
    """One Maildir (``~/Maildir/``); its UID index is ``mailsim-uidlist`` inside it (mutt ignores it)."""

    kind = "maildir"
    ordered = False

    def __init__(
        self,
        path: Path,
        *,
        hostname: str = "localhost",
        pid: int = 1,
        counter: Callable[[], int] | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(path, path / "mailsim-uidlist", clock)
        self.hostname = hostname.replace("/", "\\057").replace(":", "\\072")
        self.pid = pid
        self._counter = counter or count(1).__next__
        self._sizes: dict[str, int] = {}

    def unique_name(self, when: datetime, pid: int | None = None) -> str:
        """``<seconds>.M<usec>P<pid>Q<n>.<host>``: reproducible, and unique per host through the counter."""
        seconds = int(when.timestamp())
        return f"{seconds}.M{when.microsecond}P{self.pid if pid is None else pid}Q{self._counter()}.{self.hostname}"

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
        pid: int | None = None,
    ) -> Delivered:
        """Write the message into tmp/ and rename it into new/ (``holder`` is accepted for symmetry: no lock)."""
        content = delivery_headers(sender, recipient, original_recipient) + to_lf(message)
        content += b"" if content.endswith(b"\n") else b"\n"
        if size_limit and len(content) > size_limit:
            raise MailboxFull(self.path, "cannot update maildir: File too large")
        for sub in SUBDIRS:
            (self.path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        name = self.unique_name(when, pid)
        while (self.path / "new" / name).exists():
            name = self.unique_name(when, pid)
        temporary = self.path / "tmp" / name
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, content)
        finally:
            os.close(descriptor)
        moment = when.timestamp()
        os.utime(temporary, (moment, moment))
        os.rename(temporary, self.path / "new" / name)
        self._cache = None
        stored = self.listing(when=when).find(name)
        self._changed()
        return Delivered(self.path / "new" / name, name, len(content), stored.uid if stored else None)

    # -- the format -------------------------------------------------------------------------------------

    def _stamp(self) -> tuple[int, ...]:
        stamp: list[int] = []
        for sub in ("new", "cur"):
            try:
                st = os.stat(self.path / sub)
                stamp += [st.st_ino, st.st_mtime_ns, st.st_nlink]
            except FileNotFoundError:
                stamp += [0, 0, 0]
        return tuple(stamp)

    def _scan(self) -> list[Entry]:
        entries = []
        for sub in ("new", "cur"):
            try:
                names = os.listdir(self.path / sub)
            except FileNotFoundError:
                continue
            for name in names:
                if name.startswith("."):
                    continue
                base, _, info = name.partition(":")
                path = self.path / sub / name
                if base not in self._sizes:
                    self._sizes[base] = len(to_crlf(path.read_bytes()))
                entries.append(Entry(base, self._sizes[base], _flags(info), file_time(path), (sub, name)))
        entries.sort(key=lambda e: _natural(e.key))
        return entries

    def _content(self, entry: Entry) -> bytes:
        sub, name = entry.where
        return (self.path / sub / name).read_bytes()

    def check(self) -> tuple[StoreProblem, ...]:
        """Missing tmp/, new/ or cur/ folders (a Maildir needs all three)."""
        if not self.path.exists():
            return ()
        return tuple(
            StoreProblem(str(self.path), 0, 0, f"missing folder {sub}/")
            for sub in SUBDIRS
            if not (self.path / sub).is_dir()
        )

    # -- changes ----------------------------------------------------------------------------------------

    def set_flags(self, flags: Mapping[int, Iterable[str]]) -> None:
        """Rename each message into cur/ with the info suffix of its new flags."""
        changed = False
        for uid, entry in self._by_uid(flags).items():
            wanted = known_flags(flags[uid])
            if wanted != entry.flags or entry.where[0] == "new":
                self._move(entry, wanted)
                changed = True
        if changed:
            self._changed()

    def claim_recent(self) -> frozenset[int]:
        """Hand the recent UIDs over and move new/ messages into cur/ (Dovecot does the same on SELECT)."""
        claimed = super().claim_recent()
        moved = [entry for entry in self.entries() if entry.where[0] == "new"]
        for entry in moved:
            self._move(entry, entry.flags)
        if moved:
            self._changed()
        return claimed

    def expunge(self, uids: Iterable[int]) -> list[int]:
        """Unlink these messages; returns the UIDs removed."""
        targets = self._by_uid(uids)
        for entry in targets.values():
            sub, name = entry.where
            (self.path / sub / name).unlink(missing_ok=True)
            self._sizes.pop(entry.key, None)
        if targets:
            self._cache = None
            self.listing()
            self._changed()
        return sorted(targets)

    def _move(self, entry: Entry, flags: frozenset[str]) -> None:
        sub, name = entry.where
        info = name.partition(":")[2]
        kept = {c for c in info[2:] if c not in _LETTER_FLAGS} if info.startswith("2,") else set()
        letters = "".join(sorted(kept | {MAILDIR_LETTERS[f] for f in flags}))
        (self.path / "cur").mkdir(mode=0o700, exist_ok=True)
        os.rename(self.path / sub / name, self.path / "cur" / f"{entry.key}:2,{letters}")


def _flags(info: str) -> frozenset[str]:
    if not info.startswith("2,"):
        return frozenset()
    return frozenset(_LETTER_FLAGS[c] for c in info[2:] if c in _LETTER_FLAGS)


def _natural(base: str) -> tuple[int, int, int, str]:
    """Delivery order of unique names: seconds, then microseconds, then the delivery counter."""
    match = _NAME.match(base)
    if match is None:
        return (0, 0, 0, base)
    usec = re.search(r"M(\d+)", match.group(2))
    queue = re.search(r"Q(\d+)", match.group(2))
    return (int(match.group(1)), int(usec.group(1)) if usec else 0, int(queue.group(1)) if queue else 0, base)
