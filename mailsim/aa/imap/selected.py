"""The SELECTED state (RFC 3501 §6.4): a session's view of INBOX and the commands that work on it.

The view is the list of UIDs the client knows, in sequence order, with the flags it was last told. Every
command ends with :meth:`Selected.refresh`, which tells the client what other sessions and deliveries changed:
``EXISTS`` (and ``RECENT``) for new mail, ``FETCH (FLAGS ...)`` for changed flags and ``EXPUNGE`` for messages
that vanished, except while answering FETCH, STORE or SEARCH (RFC 3501 §7.4.1). ``\\Recent`` goes to the first
session that selects new mail read-write. Postfix parameters read: none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from mailsim.aa.access import Emit, MessageInfo, MessageStore
from mailsim.aa.imap.mime import Entity, bodystructure, envelope, parse_entity, section
from mailsim.aa.imap.parser import Command, FetchItem, ParseError, SequenceSet, Token, parse_fetch, parse_set
from mailsim.aa.imap.replies import FLAGS, ImapError, flag_list, untagged
from mailsim.aa.imap.search import BadCharset, Candidate, parse_search
from mailsim.core.errors import MailsimError

SEEN, DELETED = "\\Seen", "\\Deleted"
_SETS_SEEN = {"RFC822", "RFC822.TEXT"}


def internal_date(moment: datetime) -> str:
    """RFC 3501 date-time: ``" 5-Jan-2026 09:00:00 +0000"``."""
    offset = moment.strftime("%z") or "+0000"
    return f'"{moment.day:2d}-{moment:%b-%Y %H:%M:%S} {offset}"'


class Selected:
    """INBOX as one session sees it; ``readonly`` for EXAMINE."""

    def __init__(self, store: MessageStore, readonly: bool, emit: Emit, user: str) -> None:
        self.store, self.readonly, self.emit, self.user = store, readonly, emit, user
        listing = store.listing()
        self.recent = set(listing.recent if readonly else store.claim_recent())
        self.uidvalidity, self.uidnext = listing.uidvalidity, listing.uidnext
        self.uids = [m.uid for m in listing.messages]
        self.info: dict[int, MessageInfo] = {m.uid: m for m in listing.messages}
        self.flags = {m.uid: m.flags for m in listing.messages}

    def opening(self) -> list[bytes]:
        """The untagged data of SELECT/EXAMINE."""
        permanent = "()" if self.readonly else flag_list(set(FLAGS))
        lines = [
            untagged(f"FLAGS {flag_list(set(FLAGS))}"),
            untagged(f"OK [PERMANENTFLAGS {permanent}] Flags permitted."),
            untagged(f"{len(self.uids)} EXISTS"),
            untagged(f"{len(self.recent)} RECENT"),
        ]
        unseen = [seq for seq, uid in enumerate(self.uids, 1) if SEEN not in self.flags[uid]]
        if unseen:
            lines.append(untagged(f"OK [UNSEEN {unseen[0]}] First unseen."))
        lines.append(untagged(f"OK [UIDVALIDITY {self.uidvalidity}] UIDs valid"))
        lines.append(untagged(f"OK [UIDNEXT {self.uidnext}] Predicted next UID"))
        return lines

    def shown_flags(self, uid: int) -> str:
        """The flag list as this session shows it (stored flags plus its own ``\\Recent``)."""
        return flag_list(self.flags[uid] | ({"\\Recent"} if uid in self.recent else set()))

    # -- what changed -----------------------------------------------------------------------------------

    def refresh(self, allow_expunge: bool) -> list[bytes]:
        """Untagged updates since the client was last told (raises ImapError on a new UIDVALIDITY)."""
        listing = self.store.listing()
        if listing.uidvalidity != self.uidvalidity:
            raise ImapError("uidvalidity_changed")
        current = {m.uid: m for m in listing.messages}
        lines: list[bytes] = []
        if allow_expunge:
            lines += self._forget([uid for uid in self.uids if uid not in current])
        highest = max(self.uids, default=0)
        new = [m for m in listing.messages if m.uid > highest]
        if new:
            self.uids += [m.uid for m in new]
            self.info.update({m.uid: m for m in new})
            self.flags.update({m.uid: m.flags for m in new})
            if not self.readonly:
                self.recent |= self.store.claim_recent()
            lines += [untagged(f"{len(self.uids)} EXISTS"), untagged(f"{len(self.recent)} RECENT")]
        for seq, uid in enumerate(self.uids, 1):
            if uid in current and current[uid].flags != self.flags[uid]:
                self.flags[uid] = current[uid].flags
                lines.append(untagged(f"{seq} FETCH (FLAGS {self.shown_flags(uid)})"))
        self.uidnext = listing.uidnext
        return lines

    def _forget(self, gone: list[int]) -> list[bytes]:
        """``* n EXPUNGE`` for each vanished UID, ascending, each number counted after the previous removal."""
        lines, index, gone_set = [], 0, set(gone)
        while index < len(self.uids):
            uid = self.uids[index]
            if uid in gone_set:
                lines.append(untagged(f"{index + 1} EXPUNGE"))
                del self.uids[index]
                self.flags.pop(uid, None)
                self.recent.discard(uid)
            else:
                index += 1
        return lines

    # -- message sets -----------------------------------------------------------------------------------

    def targets(self, command: Command, token: Token) -> list[tuple[int, int]]:
        """(sequence number, UID) of the messages a set names; BAD for numbers past the last message."""
        ranges = parse_set(token)
        if command.uid:
            wanted = SequenceSet(ranges, max(self.uids, default=0))
            return [(seq, uid) for seq, uid in enumerate(self.uids, 1) if self.uids and uid in wanted]
        numbers = SequenceSet(ranges, len(self.uids))
        if not self.uids or numbers.highest() > len(self.uids) or any(low < 1 for low, _ in numbers.ranges):
            raise ImapError("bad_set", name=command.name)
        return [(seq, uid) for seq, uid in enumerate(self.uids, 1) if seq in numbers]

    # -- FETCH ------------------------------------------------------------------------------------------

    def fetch(self, command: Command) -> Iterator[bytes]:
        """One ``* n FETCH (...)`` per message; marks ``\\Seen`` first when a body is read (not PEEK)."""
        if len(command.args) < 2:
            raise ParseError("FETCH needs a set and items")
        targets = self.targets(command, command.args[0])
        items = parse_fetch(command.args[1:])
        if command.uid and not any(item.name == "UID" for item in items):
            items.insert(0, FetchItem("UID"))
        marks = not self.readonly and any(_sets_seen(item) for item in items)
        if marks:
            self._set({uid: self.flags[uid] | {SEEN} for _, uid in targets if SEEN not in self.flags[uid]})
            if not any(item.name == "FLAGS" for item in items):
                items.append(FetchItem("FLAGS"))
        missing, sent = 0, 0
        for seq, uid in targets:
            try:
                chunk = self._render(seq, uid, items)
            except KeyError:
                missing += 1
                continue
            sent += len(chunk)
            yield chunk
        self.emit("fetch", user=self.user, messages=len(targets) - missing, bytes=sent)
        if missing:
            raise ImapError("expunge_issued")

    def _render(self, seq: int, uid: int, items: list[FetchItem]) -> bytes:
        info = self.info[uid]
        raw: list[bytes] = []
        entity: list[Entity] = []

        def content() -> bytes:
            if not raw:
                raw.append(self.store.fetch(uid))
            return raw[0]

        def tree() -> Entity:
            if not entity:
                entity.append(parse_entity(content()))
            return entity[0]

        parts = []
        for item in items:
            if item.name == "FLAGS":
                parts.append(f"FLAGS {self.shown_flags(uid)}".encode())
            elif item.name == "UID":
                parts.append(f"UID {uid}".encode())
            elif item.name == "RFC822.SIZE":
                parts.append(f"RFC822.SIZE {info.size}".encode())
            elif item.name == "INTERNALDATE":
                parts.append(f"INTERNALDATE {internal_date(info.internal_date)}".encode())
            elif item.name == "ENVELOPE":
                parts.append(b"ENVELOPE " + envelope(tree()))
            elif item.name in ("BODYSTRUCTURE", "BODY") and item.section is None:
                parts.append(item.name.encode() + b" " + bodystructure(tree(), item.name == "BODYSTRUCTURE"))
            else:
                parts.append(item.label().encode() + b" " + _literal(_data(item, content, tree)))
        return b"* %d FETCH (" % seq + b" ".join(parts) + b")\r\n"

    # -- STORE, SEARCH, EXPUNGE -------------------------------------------------------------------------

    def store_flags(self, command: Command) -> list[bytes]:
        """STORE set (+|-)FLAGS[.SILENT] flags: the new flags, told back unless silent."""
        if self.readonly:
            raise ImapError("read_only")
        if len(command.args) < 3 or not isinstance(command.args[1], str):
            raise ParseError("STORE needs a set, an item and flags")
        targets = self.targets(command, command.args[0])
        item = command.args[1].upper()
        mode, _, silent = item.partition(".")
        if mode not in ("FLAGS", "+FLAGS", "-FLAGS") or silent not in ("", "SILENT"):
            raise ParseError(f"bad STORE item {item}")
        given = command.args[2] if isinstance(command.args[2], list) else command.args[2:]
        flags = {_flag(token) for token in given} & set(FLAGS)
        wanted = {}
        for _, uid in targets:
            old = self.flags[uid]
            wanted[uid] = frozenset(flags if mode == "FLAGS" else old | flags if mode == "+FLAGS" else old - flags)
        self._set({uid: new for uid, new in wanted.items() if new != self.flags[uid]})
        self.emit("store", user=self.user, messages=len(targets), item=item, flags=" ".join(sorted(flags)))
        if silent:
            return []
        uid_part = "UID {} "
        return [
            untagged(f"{seq} FETCH ({uid_part.format(uid) if command.uid else ''}FLAGS {self.shown_flags(uid)})")
            for seq, uid in targets
        ]

    def _set(self, changes: dict[int, frozenset[str]]) -> None:
        if not changes:
            return
        try:
            self.store.set_flags(changes)
        except (MailsimError, OSError) as error:
            raise ImapError("store_failed", why=type(error).__name__) from error
        self.flags.update(changes)

    def search(self, command: Command) -> list[bytes]:
        """``* SEARCH`` with sequence numbers (or UIDs for UID SEARCH) of the matching messages."""
        try:
            predicate = parse_search(command.args, len(self.uids), max(self.uids, default=0))
        except BadCharset:
            raise ImapError("bad_charset") from None
        hits = []
        for seq, uid in enumerate(self.uids, 1):
            info = self.info[uid]
            candidate = Candidate(
                seq, uid, self.flags[uid], info.size, info.internal_date, uid in self.recent, self._parsed(uid)
            )
            try:
                if predicate(candidate):
                    hits.append(uid if command.uid else seq)
            except KeyError:
                continue
        self.emit("search", user=self.user, hits=len(hits))
        return [untagged("SEARCH" + "".join(f" {hit}" for hit in hits))]

    def _parsed(self, uid: int) -> Callable[[], Entity]:
        """A loader of the message's MIME tree, run only when a search key needs the content."""
        return lambda: parse_entity(self.store.fetch(uid))

    def expunge(self, silent: bool = False) -> list[bytes]:
        """Remove the messages marked ``\\Deleted`` (as the store has them now) and tell the client."""
        if self.readonly:
            if silent:
                return []
            raise ImapError("read_only")
        current = {m.uid: m for m in self.store.listing().messages}
        doomed = [uid for uid in self.uids if uid in current and DELETED in current[uid].flags]
        try:
            removed = self.store.expunge(doomed)
        except (MailsimError, OSError) as error:
            raise ImapError("store_failed", why=type(error).__name__) from error
        self.emit("expunge", user=self.user, messages=len(removed))
        lines = self._forget(removed)
        return [] if silent else lines


def _sets_seen(item: FetchItem) -> bool:
    return item.name in _SETS_SEEN or (item.section is not None and not item.peek)


def _data(item: FetchItem, content: Callable[[], bytes], tree: Callable[[], Entity]) -> bytes:
    """The bytes of a body item (RFC822*, BODY[...]), cut to its partial range."""
    if item.name == "RFC822":
        data = content()
    elif item.name == "RFC822.HEADER":
        data = tree().header
    elif item.name == "RFC822.TEXT":
        data = tree().body
    else:
        data = section(tree(), item.section or "", item.fields)
    if item.partial is not None:
        start, length = item.partial
        data = data[start : start + length]
    return data


def _literal(data: bytes) -> bytes:
    """Message data always goes as a literal (as Dovecot sends it), even when empty."""
    return b"{%d}\r\n" % len(data) + data


def _flag(token: Token) -> str:
    if not isinstance(token, str):
        raise ParseError("a flag must be an atom")
    return next((flag for flag in FLAGS if flag.lower() == token.lower()), token)
