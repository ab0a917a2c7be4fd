"""A small asyncio IMAP4rev1 client (RFC 3501): what a user agent says to read mail "one message at a time".

Python's ``imaplib`` blocks on a socket, so it cannot run on ``SimLoop``; this client speaks the commands a
reading MUA needs over asyncio streams: LOGIN, SELECT, FETCH (a listing with ``UID FLAGS RFC822.SIZE
BODY.PEEK[HEADER.FIELDS (...)]``, then one message's ``BODY.PEEK[]``), UID STORE of flags, EXPUNGE, LOGOUT.
Each tagged command is one round trip (:class:`~mailsim.ua.dialogue.Dialogue`), whatever untagged data comes
before its completion.

Responses are read whole, literals included (a line ending in ``{n}`` is followed by ``n`` octets and the rest
of the line), and cut into tokens: atoms (``FLAGS``, ``\\Seen``, ``BODY[HEADER.FIELDS (FROM)]`` as one atom),
quoted strings and literals (``bytes``), and parenthesised lists. ``NO``/``BAD`` raise
:class:`~mailsim.ua.dialogue.AccessError` (:class:`LoginFailed` for LOGIN); ``* BYE`` ends the conversation.
Postfix parameters read: none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from mailsim.ua.dialogue import MASK, AccessError, Dialogue, LoginFailed, Observe, Unreachable, no_observe

IMAP_PORT = 143  # RFC 3501 §2.1
CRLF = b"\r\n"
LISTING_FIELDS = ("FROM", "TO", "SUBJECT", "DATE", "MESSAGE-ID")
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n$")
_TOKEN = re.compile(rb'[ \t]*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([^\s()"\[\]]+(?:\[[^\]]*\])?(?:<\d+>)?))')
_STATUS = frozenset({b"OK", b"NO", b"BAD", b"BYE", b"PREAUTH"})
_CODE = re.compile(r"\[(UIDVALIDITY|UIDNEXT) (\d+)\]")

Token = str | bytes | list[Any]


@dataclass(frozen=True, slots=True)
class FetchData:
    """One ``* n FETCH (...)`` response: the sequence number and its items by upper-case name."""

    number: int
    items: dict[str, Token]

    @property
    def uid(self) -> int | None:
        value = self.items.get("UID")
        return int(value) if isinstance(value, str) else None

    @property
    def flags(self) -> frozenset[str] | None:
        value = self.items.get("FLAGS")
        return frozenset(str(f) for f in value) if isinstance(value, list) else None

    def body(self) -> bytes | None:
        """The data of the first ``BODY[...]`` item (the server names it without ``.PEEK``)."""
        for name, value in self.items.items():
            if name.startswith("BODY[") and isinstance(value, bytes):
                return value
        return None


@dataclass
class Mailbox:
    """What SELECT told: EXISTS, RECENT, UIDVALIDITY and UIDNEXT."""

    exists: int = 0
    recent: int = 0
    uidvalidity: int = 0
    uidnext: int = 0
    flags: dict[int, frozenset[str]] = field(default_factory=dict)


class ImapClient:
    """One IMAP session; make it with :meth:`open`, end it with :meth:`logout`."""

    def __init__(self, dialogue: Dialogue) -> None:
        self.dialogue = dialogue
        self.greeting = b""
        self.mailbox = Mailbox()
        self.bye: str | None = None
        self._tags = count(1)

    @classmethod
    async def open(cls, address: str, port: int = IMAP_PORT, *, observe: Observe = no_observe) -> ImapClient:
        """Connect and read the ``* OK`` greeting."""
        dialogue = await Dialogue.open(address, port, "imap", observe)
        client = cls(dialogue)
        client.greeting = await dialogue.greeting()
        if not client.greeting.upper().startswith((b"* OK", b"* PREAUTH")):
            await dialogue.close()
            raise AccessError("imap: the server refused the connection", reply=_text(client.greeting))
        return client

    async def command(self, text: str, *, shown: str | None = None) -> list[list[Token]]:
        """Send one tagged command; its untagged responses as token lists (raises on NO/BAD)."""
        tag = f"A{next(self._tags):04d}"
        self.dialogue.write(f"{tag} {text}".encode() + CRLF)
        untagged: list[list[Token]] = []
        while True:
            parts = await self._response()
            first = parts[0]
            if first.startswith(b"* "):
                tokens = _untagged(parts)
                untagged.append(tokens)
                self._note(tokens, first)
                continue
            if first.startswith(b"+"):
                raise AccessError("imap: unexpected continuation request", reply=_text(first), command=text)
            if first.startswith(tag.encode() + b" "):
                break
        self.dialogue.done(shown or text, first)
        completion = first[len(tag) + 1 :]
        if completion.split(b" ", 1)[0].upper() != b"OK":
            reply = _text(completion)
            raise AccessError(f"imap: {reply}", reply=reply, command=text.split()[0])
        return untagged

    async def _response(self) -> list[bytes]:
        """One response: text pieces and literals alternating (text, literal, text, ...)."""
        parts: list[bytes] = []
        while True:
            line = await self.dialogue.line()
            literal = _LITERAL.search(line)
            if literal is None:
                parts.append(line.rstrip(b"\r\n"))
                return parts
            parts.append(line[: literal.start()])
            parts.append(await self.dialogue.exactly(int(literal.group(1))))

    def _note(self, tokens: list[Token], line: bytes) -> None:
        """Keep what untagged data says about the mailbox (EXISTS, RECENT, UIDVALIDITY, UIDNEXT, BYE)."""
        words = [t.upper() if isinstance(t, str) else t for t in tokens[:2]]
        if words and words[0] == "BYE":
            self.bye = _text(line)
        elif len(words) == 2 and words[1] == "EXISTS" and isinstance(tokens[0], str):
            self.mailbox.exists = int(tokens[0])
        elif len(words) == 2 and words[1] == "RECENT" and isinstance(tokens[0], str):
            self.mailbox.recent = int(tokens[0])
        for name, value in _CODE.findall(_text(line)):
            setattr(self.mailbox, name.lower(), int(value))

    async def login(self, user: str, password: str) -> None:
        """LOGIN with quoted strings (LoginFailed on NO)."""
        try:
            await self.command(f"LOGIN {quote(user)} {quote(password)}", shown=f"LOGIN {quote(user)} {MASK}")
        except AccessError as error:
            if isinstance(error, Unreachable):
                raise
            raise LoginFailed(f"imap: login as {user} failed: {error.reply}", reply=error.reply) from None

    async def select(self, mailbox: str = "INBOX") -> Mailbox:
        """SELECT (read-write: flags may change, ``\\Recent`` is claimed by this session)."""
        self.mailbox = Mailbox()
        await self.command(f"SELECT {quote(mailbox)}")
        return self.mailbox

    async def fetch(self, numbers: str, items: str, *, uid: bool = False) -> list[FetchData]:
        """FETCH (or UID FETCH) ``items`` of a message set; the FETCH responses, in order."""
        untagged = await self.command(f"{'UID ' if uid else ''}FETCH {numbers} {items}")
        return fetch_responses(untagged)

    async def listing(self) -> list[FetchData]:
        """Every message's UID, flags, size and a few header fields, without setting ``\\Seen``."""
        if not self.mailbox.exists:
            return []
        fields = " ".join(LISTING_FIELDS)
        return await self.fetch("1:*", f"(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({fields})])")

    async def body(self, uid: int) -> bytes:
        """One whole message by UID, without setting ``\\Seen`` (BODY.PEEK[])."""
        found = await self.fetch(str(uid), "(BODY.PEEK[])", uid=True)
        content = next((f.body() for f in found if f.uid == uid), None)
        if content is None:
            raise AccessError(f"imap: no message with UID {uid}", command="UID FETCH")
        return content

    async def add_flags(self, uid: int, *flags: str) -> frozenset[str] | None:
        """UID STORE +FLAGS: the flags the server now reports for the message."""
        found = await self.fetch_store(uid, f"+FLAGS ({' '.join(flags)})")
        return next((f.flags for f in found if f.uid == uid or f.uid is None), None)

    async def fetch_store(self, uid: int, change: str) -> list[FetchData]:
        """UID STORE ``change``; the FETCH responses it brought."""
        return fetch_responses(await self.command(f"UID STORE {uid} {change}"))

    async def expunge(self) -> int:
        """EXPUNGE: how many messages went."""
        untagged = await self.command("EXPUNGE")
        return sum(1 for tokens in untagged if len(tokens) > 1 and str(tokens[1]).upper() == "EXPUNGE")

    async def logout(self) -> None:
        """LOGOUT, then close."""
        try:
            await self.command("LOGOUT")
        finally:
            await self.dialogue.close()

    async def abandon(self) -> None:
        """Drop the connection without LOGOUT (a client that crashed)."""
        await self.dialogue.close()


def quote(text: str) -> str:
    """An IMAP quoted string (RFC 3501 §4.3); line breaks cannot be quoted."""
    if "\r" in text or "\n" in text:
        raise AccessError("imap: a user name or password cannot contain a line break")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tokenize(parts: list[bytes]) -> list[Token]:
    """Atoms (str), strings and literals (bytes) and lists of one response; see the module docstring."""
    stack: list[list[Token]] = [[]]
    for index, part in enumerate(parts):
        if index % 2:
            stack[-1].append(part)
            continue
        position = 0
        while position < len(part):
            match = _TOKEN.match(part, position)
            if match is None or match.end() == position:
                if part[position:].strip():
                    raise AccessError(f"imap: unreadable response near {part[position : position + 30]!r}")
                break
            position = match.end()
            opening, closing, quoted, atom = match.groups()
            if opening:
                stack.append([])
            elif closing and len(stack) > 1:
                inner = stack.pop()
                stack[-1].append(inner)
            elif quoted is not None:
                stack[-1].append(re.sub(rb"\\(.)", rb"\1", quoted))
            elif atom is not None:
                stack[-1].append(atom.decode("utf-8", "replace"))
    while len(stack) > 1:
        inner = stack.pop()
        stack[-1].append(inner)
    return stack[0]


def _untagged(parts: list[bytes]) -> list[Token]:
    """An untagged response after ``*``: status responses keep their text whole, data is tokenized."""
    word, _, rest = parts[0][2:].partition(b" ")
    if word.upper() in _STATUS:
        return [word.decode("ascii", "replace").upper(), rest.decode("utf-8", "replace")]
    return tokenize([parts[0][2:], *parts[1:]])


def fetch_responses(untagged: list[list[Token]]) -> list[FetchData]:
    """The ``n FETCH (...)`` responses among untagged data."""
    found = []
    for tokens in untagged:
        if len(tokens) == 3 and isinstance(tokens[0], str) and str(tokens[1]).upper() == "FETCH":
            pairs = tokens[2] if isinstance(tokens[2], list) else []
            items = {str(pairs[i]).upper(): pairs[i + 1] for i in range(0, len(pairs) - 1, 2)}
            found.append(FetchData(int(tokens[0]), items))
    return found


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r\n")
