"""All message stores of one host, as real files under the run's output folder.

Delivery agents name mailboxes by the paths Postfix would use (``/var/mail/alice`` from
``mail_spool_directory``, ``/home/alice/Maildir/`` from ``home_mailbox``, ``virtual_mailbox_base`` plus a
map result); :class:`MailStores` places them under ``root`` and hands out one store object per file, so the
delivery agent and the access agents share its lock, its UID index and its watchers. Postfix's rule for
``home_mailbox`` and ``virtual_mailbox_maps`` decides the format: a trailing ``/`` means Maildir.
Postfix parameters read: none (the caller resolves ``mail_spool_directory`` and ``home_mailbox``).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path, PurePosixPath

from mailsim.da.stores.base import Clock
from mailsim.da.stores.maildir import MaildirStore
from mailsim.da.stores.mbox import MboxStore
from mailsim.da.stores.records import StoreError

Store = MboxStore | MaildirStore


class MailStores:
    """The mailboxes of one host under ``root``; ``hostname`` and ``pid`` go into Maildir unique names.

    ``clock`` (``sim.wallclock`` in a run) dates the UIDVALIDITY of a mailbox first looked at before any
    delivery; without it that mailbox gets the time of its first delivery, or 1 when a client saw it empty.
    """

    def __init__(
        self, root: Path | str, *, hostname: str = "localhost", pid: int = 1, clock: Clock | None = None
    ) -> None:
        self.root = Path(root)
        self.hostname = hostname
        self.pid = pid
        self.clock = clock
        self._deliveries = count(1)
        self._stores: dict[Path, Store] = {}

    def resolve(self, path: str) -> Path:
        """Where the simulated absolute ``path`` lives under ``root``; a path that climbs out is refused."""
        parts = PurePosixPath(path).parts
        inside = [part for part in parts if part not in ("/", "", ".")]
        if ".." in inside:
            raise StoreError(path, "mailbox path may not contain '..'")
        return self.root.joinpath(*inside)

    def mbox(self, path: str) -> MboxStore:
        """The mbox file at simulated ``path`` (``/var/mail/alice``)."""
        real = self.resolve(path)
        store = self._stores.get(real)
        if store is None:
            store = self._stores[real] = MboxStore(real, clock=self.clock)
        if not isinstance(store, MboxStore):
            raise StoreError(path, "is a Maildir, not an mbox file")
        return store

    def maildir(self, path: str) -> MaildirStore:
        """The Maildir at simulated ``path`` (``/home/alice/Maildir/``)."""
        real = self.resolve(path)
        store = self._stores.get(real)
        if store is None:
            store = MaildirStore(
                real, hostname=self.hostname, pid=self.pid, counter=self._deliveries.__next__, clock=self.clock
            )
            self._stores[real] = store
        if not isinstance(store, MaildirStore):
            raise StoreError(path, "is an mbox file, not a Maildir")
        return store

    def open(self, path: str) -> Store:
        """Maildir when ``path`` ends in ``/`` (Postfix's convention), else mbox."""
        return self.maildir(path) if path.endswith("/") else self.mbox(path)

    def __iter__(self) -> Iterator[Store]:
        return iter(list(self._stores.values()))
