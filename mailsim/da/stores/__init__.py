"""Message stores (DESIGN.md §3: the message's final resting place): mbox and Maildir as real files.

The delivery side is what local(8)/virtual(8) need: :meth:`MboxStore.deliver` and :meth:`MaildirStore.deliver`
write exactly what Postfix writes (see :mod:`.mbox` and :mod:`.maildir`), take the envelope sender, the final
recipient (``Delivered-To``), the original recipient (``X-Original-To``, empty to omit) and the virtual time
of delivery as a ``datetime``, and raise :class:`MailboxBusy` (4.2.0), :class:`MailboxFull` (5.2.2) or
``OSError`` so the caller can defer or bounce. :class:`MailboxLock` models local(8)'s lock for simulated
contention. :class:`MailStores` maps Postfix paths under the run's output folder and shares one store per file.

The reading side is what IMAP and POP3 need, the same for both formats: :meth:`listing` (UIDVALIDITY, UIDNEXT,
messages in sequence order with UID, UIDL, RFC 822 size, flags, arrival time), :meth:`fetch` (CRLF bytes),
:meth:`set_flags`, :meth:`expunge`, :meth:`claim_recent` and :meth:`watch`. A corrupted mbox is reported
(:meth:`check`, :class:`CorruptMailbox` with each :class:`StoreProblem`) and never rewritten.
Files written here open unchanged in Python's ``mailbox``, mutt and s-nail (tests/da/test_stores.py).

Postfix parameters read: none; the caller passes mailbox_size_limit, and the lock timing defaults of local(8)
(deliver_lock_attempts 20, deliver_lock_delay 1s, stale_lock_time 500s) are exported for it.
"""

from mailsim.da.stores.maildir import MaildirStore
from mailsim.da.stores.mbox import MboxStore, split_mbox
from mailsim.da.stores.records import (
    ANSWERED,
    DELETED,
    DELIVER_LOCK_ATTEMPTS,
    DELIVER_LOCK_DELAY,
    DRAFT,
    FLAGGED,
    MAILBOX_DELIVERY_LOCK,
    SEEN,
    STALE_LOCK_TIME,
    SYSTEM_FLAGS,
    CorruptMailbox,
    Delivered,
    Listing,
    MailboxBusy,
    MailboxFull,
    MailboxLock,
    StoredMessage,
    StoreError,
    StoreProblem,
    asctime,
    delivery_headers,
    from_line,
    to_crlf,
    uidl_of,
)
from mailsim.da.stores.registry import MailStores, Store

__all__ = [
    "ANSWERED",
    "DELETED",
    "DELIVER_LOCK_ATTEMPTS",
    "DELIVER_LOCK_DELAY",
    "DRAFT",
    "FLAGGED",
    "MAILBOX_DELIVERY_LOCK",
    "SEEN",
    "STALE_LOCK_TIME",
    "SYSTEM_FLAGS",
    "CorruptMailbox",
    "Delivered",
    "Listing",
    "MailStores",
    "MailboxBusy",
    "MailboxFull",
    "MailboxLock",
    "MaildirStore",
    "MboxStore",
    "Store",
    "StoreError",
    "StoreProblem",
    "StoredMessage",
    "asctime",
    "delivery_headers",
    "from_line",
    "split_mbox",
    "to_crlf",
    "uidl_of",
]
