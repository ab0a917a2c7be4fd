"""What IMAP and POP3 share: the message store as they see it, trace emission, and reading bounded lines.

Access agents never import the delivery agents (DESIGN.md §2: no sideways imports inside L4): they are given a
``mailboxes(user)`` callable returning an object with this module's :class:`MessageStore` shape, which
:class:`mailsim.da.stores.MboxStore` and :class:`~mailsim.da.stores.MaildirStore` have. A store that cannot be
read (a corrupted mbox) raises a :class:`~mailsim.core.errors.MailsimError`; the agents answer with a protocol
error and leave it alone. Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from mailsim.core.simulation import Simulation


class MessageInfo(Protocol):
    """One message in a listing (``mailsim.da.stores.StoredMessage``)."""

    @property
    def uid(self) -> int: ...
    @property
    def uidl(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def flags(self) -> frozenset[str]: ...
    @property
    def internal_date(self) -> datetime: ...


class MailboxListing(Protocol):
    """A mailbox at one moment (``mailsim.da.stores.Listing``)."""

    @property
    def uidvalidity(self) -> int: ...
    @property
    def uidnext(self) -> int: ...
    @property
    def messages(self) -> Sequence[MessageInfo]: ...
    @property
    def recent(self) -> frozenset[int]: ...


class MessageStore(Protocol):
    """The reading API of a message store, as the access agents use it."""

    def listing(self) -> MailboxListing: ...
    def fetch(self, uid: int) -> bytes: ...
    def set_flags(self, flags: Mapping[int, Iterable[str]]) -> None: ...
    def expunge(self, uids: Iterable[int]) -> list[int]: ...
    def claim_recent(self) -> frozenset[int]: ...
    def watch(self, callback: Callable[[], None]) -> Callable[[], None]: ...


Mailboxes = Callable[[str], MessageStore]
Emit = Callable[..., Any]


def no_emit(event: str, **fields: Any) -> None:
    """The default observer: access agents run without a simulation too (live tests, ``mailsim serve``)."""


def emitter(sim: Simulation, host: str, service: str) -> Emit:
    """An ``emit(event, **fields)`` that records into the run's trace as ``host``/``service``."""

    def emit(event: str, **fields: Any) -> None:
        sim.emit(host, service, event, **fields)

    return emit


class LineTooLong(Exception):
    """A command line passed the protocol's limit; the rest of it was read and dropped (``head`` kept)."""

    def __init__(self, head: bytes = b"") -> None:
        super().__init__("line too long")
        self.head = head


async def read_line(reader: asyncio.StreamReader, limit: int) -> bytes:
    """One line with its terminator, at most ``limit`` octets; ``b""`` at end of input (or a cut-off line)."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        return b""
    except asyncio.LimitOverrunError as overrun:
        raise LineTooLong(await _discard_line(reader, overrun.consumed)) from None
    if len(line) > limit:
        raise LineTooLong(line[:HEAD])
    return line


HEAD = 64  # octets of an over-long line kept, so a reply can still carry its tag


async def _discard_line(reader: asyncio.StreamReader, consumed: int) -> bytes:
    """Drop input up to and including the next newline, never holding more than the stream's limit."""
    head = b""
    while True:
        try:
            chunk = await reader.readexactly(max(consumed, 1))
            head = head or chunk[:HEAD]
            await reader.readuntil(b"\n")
            return head
        except asyncio.LimitOverrunError as overrun:
            consumed = overrun.consumed
        except asyncio.IncompleteReadError:
            return head


def peer_of(writer: asyncio.StreamWriter) -> str:
    """The client's address for traces ("unknown" when the transport does not say)."""
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
