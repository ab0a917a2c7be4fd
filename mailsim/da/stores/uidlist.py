"""The UID index kept beside a store, so IMAP UIDs and POP3 UIDLs survive restarts and other programs.

RFC 3501 §2.3.1.1 asks that a message keep its UID for as long as the mailbox keeps its UIDVALIDITY, and that
UIDs ascend with sequence numbers. Neither mbox nor Maildir holds UIDs, so, like Dovecot's
``dovecot-uidlist``, a small text file maps each message's key to its UID::

    mailsim-uidlist 1 V1767603600 N4 R3
    1 1767603600.M0P1Q1.mail.example
    2 1767603660.M0P1Q2.mail.example
    3 1767603720.M0P1Q3.mail.example

``V`` is UIDVALIDITY, ``N`` the next UID, ``R`` the first UID no session has seen yet (``\\Recent``). A Maildir's
key is the file's base name; an mbox's key is a digest of the message (without its flag headers) plus an
occurrence number. Messages another program added get the next UIDs; when the order no longer ascends (an
mbox edited in the middle) every message is renumbered under UIDVALIDITY + 1, as RFC 3501 requires. The file is
written atomically (a temporary file renamed over it). Postfix parameters read: none.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

MAGIC = "mailsim-uidlist"
VERSION = "1"


class UidIndex:
    """UIDVALIDITY, UIDNEXT, the recent mark and the key of every UID, loaded from and saved to ``path``."""

    __slots__ = ("path", "uidvalidity", "uidnext", "recent_from", "uids")

    def __init__(self, path: Path, uidvalidity: int, uidnext: int = 1, recent_from: int = 1) -> None:
        self.path = path
        self.uidvalidity = uidvalidity
        self.uidnext = uidnext
        self.recent_from = recent_from
        self.uids: dict[str, int] = {}

    @classmethod
    def load(cls, path: Path) -> UidIndex | None:
        """The index at ``path``; None when it is missing or unreadable (the store then starts a new one)."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        head = lines[0].split() if lines else []
        if len(head) != 5 or head[:2] != [MAGIC, VERSION]:
            return None
        try:
            fields = {item[0]: int(item[1:]) for item in head[2:]}
            index = cls(path, fields["V"], fields["N"], fields["R"])
            for line in lines[1:]:
                uid, key = line.split(" ", 1)
                index.uids[key] = int(uid)
        except (KeyError, ValueError):
            return None
        return index

    def save(self) -> None:
        """Write the index atomically, in UID order."""
        rows = sorted((uid, key) for key, uid in self.uids.items())
        text = f"{MAGIC} {VERSION} V{self.uidvalidity} N{self.uidnext} R{self.recent_from}\n"
        text += "".join(f"{uid} {key}\n" for uid, key in rows)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.path)

    def sync(self, keys: Sequence[str], *, ordered: bool) -> bool:
        """Give every key a UID (new ones in ``keys`` order) and forget vanished keys; True when changed.

        ``ordered`` keys are in the mailbox's sequence order (mbox): their UIDs must ascend, or the mailbox
        is renumbered under a new UIDVALIDITY. Unordered keys (Maildir) are sorted by UID afterwards.
        """
        before = (self.uidvalidity, self.uidnext, dict(self.uids))
        present = set(keys)
        self.uids = {key: uid for key, uid in self.uids.items() if key in present}
        for key in keys:
            if key not in self.uids:
                self.uids[key] = self.uidnext
                self.uidnext += 1
        if ordered and not _ascending([self.uids[key] for key in keys]):
            self.renumber(keys)
        return (self.uidvalidity, self.uidnext, self.uids) != before

    def renumber(self, keys: Sequence[str]) -> None:
        """Start over: UIDs 1..n in ``keys`` order under a new UIDVALIDITY; every message is recent again."""
        self.uidvalidity += 1
        self.uids = {key: number for number, key in enumerate(keys, start=1)}
        self.uidnext = len(keys) + 1
        self.recent_from = 1

    def claim_recent(self) -> frozenset[int]:
        """The UIDs that were recent, which no longer are (the first session to SELECT sees ``\\Recent``)."""
        claimed = frozenset(uid for uid in self.uids.values() if uid >= self.recent_from)
        self.recent_from = self.uidnext
        return claimed


def _ascending(uids: list[int]) -> bool:
    return all(a < b for a, b in zip(uids, uids[1:]))
