"""What mbox and Maildir stores share: the UID index, the cached scan, watchers and the reading API.

A format supplies ``_scan()`` (the messages on disk, in file order, or :class:`CorruptMailbox`) and
``_content(entry)`` (a message's bytes as stored); everything an access agent calls is here, so IMAP and POP3
see both formats alike. The scan is cached on the file's (or directories') ``stat`` and dropped after every
change this process makes. Postfix parameters read: none.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailsim.da.stores.records import (
    SYSTEM_FLAGS,
    CorruptMailbox,
    Listing,
    MailboxLock,
    StoredMessage,
    StoreProblem,
    to_crlf,
    uidl_of,
)
from mailsim.da.stores.uidlist import UidIndex

Watcher = Callable[[], None]
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Entry:
    """A message as the scan found it; ``where`` is the format's locator (mbox position, Maildir sub-path)."""

    key: str
    size: int
    flags: frozenset[str]
    internal_date: datetime
    where: Any


class BaseStore:
    """The reading and flag API over one mailbox; subclasses add delivery and the file format."""

    kind = "store"
    ordered = True  # mbox: file order is sequence order; Maildir: UID order is

    def __init__(self, path: Path, index_path: Path, clock: Clock | None = None) -> None:
        self.path = path
        self.lock = MailboxLock(path)
        self.clock = clock
        self._index_path = index_path
        self._index: UidIndex | None = None
        self._unsaved = False
        self._cache: tuple[Any, list[Entry]] | None = None
        self._watchers: list[Watcher] = []

    # -- what subclasses provide ------------------------------------------------------------------------

    def _stamp(self) -> Any:
        """Something that changes whenever the files change (a ``stat`` tuple)."""
        raise NotImplementedError

    def _scan(self) -> list[Entry]:
        raise NotImplementedError

    def _content(self, entry: Entry) -> bytes:
        """The message as an access agent serves it, before CRLF conversion."""
        raise NotImplementedError

    def check(self) -> tuple[StoreProblem, ...]:
        """Problems with the files, without changing them; empty when the store is sound."""
        raise NotImplementedError

    def set_flags(self, flags: Mapping[int, Iterable[str]]) -> None:
        """Give each UID exactly these system flags (others are ignored)."""
        raise NotImplementedError

    def expunge(self, uids: Iterable[int]) -> list[int]:
        """Remove these messages; the UIDs actually removed."""
        raise NotImplementedError

    # -- reading ----------------------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """The messages on disk in file order (cached); raises :class:`CorruptMailbox`."""
        stamp = self._stamp()
        if self._cache is None or self._cache[0] != stamp or stamp is None:
            self._cache = (stamp, self._scan())
        return self._cache[1]

    def listing(self, *, when: datetime | None = None) -> Listing:
        """Messages in sequence order with UIDs and UIDLs; the UID index is brought up to date first."""
        entries = self.entries()
        index = self._synced(entries, when)
        messages = [
            StoredMessage(
                uid=index.uids[e.key],
                uidl=uidl_of(index.uids[e.key], index.uidvalidity),
                size=e.size,
                flags=e.flags,
                internal_date=e.internal_date,
                key=e.key,
            )
            for e in entries
        ]
        messages.sort(key=lambda m: m.uid)
        recent = frozenset(m.uid for m in messages if m.uid >= index.recent_from)
        return Listing(index.uidvalidity, index.uidnext, tuple(messages), recent)

    def fetch(self, uid: int) -> bytes:
        """The message with ``uid`` in RFC 822 form (CRLF line ends); KeyError when it is gone."""
        return to_crlf(self._content(self._entry(uid)))

    def claim_recent(self) -> frozenset[int]:
        """The first SELECT of new mail: the recent UIDs are handed over and are not recent any more."""
        self.listing()
        assert self._index is not None
        claimed = self._index.claim_recent()
        self._unsaved = True
        self._save()
        return claimed

    def watch(self, callback: Watcher) -> Callable[[], None]:
        """Call ``callback()`` after every change made through this store (IMAP IDLE); returns the unsubscriber."""
        self._watchers.append(callback)
        return lambda: self._watchers.remove(callback) if callback in self._watchers else None

    # -- helpers for subclasses -------------------------------------------------------------------------

    def _entry(self, uid: int) -> Entry:
        entries = self.entries()
        index = self._synced(entries, None)
        for entry in entries:
            if index.uids.get(entry.key) == uid:
                return entry
        raise KeyError(uid)

    def _by_uid(self, uids: Iterable[int]) -> dict[int, Entry]:
        wanted = set(uids)
        entries = self.entries()
        index = self._synced(entries, None)
        return {index.uids[e.key]: e for e in entries if index.uids[e.key] in wanted}

    def _synced(self, entries: list[Entry], when: datetime | None) -> UidIndex:
        """The UID index, loaded or begun (kept in memory until the mailbox exists), brought up to date."""
        if self._index is None:
            self._index = UidIndex.load(self._index_path)
            if self._index is None:
                moment = when or (self.clock() if self.clock else None)
                self._index, self._unsaved = UidIndex(self._index_path, _first_validity(entries, moment)), True
        if self._index.sync([e.key for e in entries], ordered=self.ordered):
            self._unsaved = True
        self._save()
        return self._index

    def _save(self) -> None:
        """Write a changed index once the mailbox exists (a mailbox nobody delivered to has no files)."""
        if self._index is not None and self._unsaved and self.path.exists():
            self._index.save()
            self._unsaved = False

    def _changed(self) -> None:
        self._cache = None
        for callback in list(self._watchers):
            callback()

    def _corrupt(self) -> CorruptMailbox:
        return CorruptMailbox(self.path, "corrupted mailbox, left untouched", self.check())


def known_flags(flags: Iterable[str]) -> frozenset[str]:
    """The system flags among ``flags`` (keywords and ``\\Recent`` are not stored)."""
    return frozenset(flag for flag in flags if flag in SYSTEM_FLAGS)


def file_time(path: Path) -> datetime:
    """A file's modification time as an aware datetime (Maildir's arrival time)."""
    return datetime.fromtimestamp(os.stat(path).st_mtime, UTC)


def _first_validity(entries: list[Entry], when: datetime | None) -> int:
    """UIDVALIDITY of a new index: the virtual time it was made, else the newest message's date (never 0)."""
    if when is not None:
        return max(1, int(when.timestamp()))
    if entries:
        return max(1, int(max(e.internal_date for e in entries).timestamp()))
    return 1
