"""IMAP4rev1 command syntax (RFC 3501 §9): tokens, sequence sets and FETCH attributes.

A command arrives whole, its literals inline (the server has already answered ``{n}`` with a continuation):
``tag SP command [SP arguments] CRLF``. Arguments become tokens: ``str`` for atoms (``NIL``, ``\\Seen``,
``1:*``, ``BODY.PEEK[HEADER.FIELDS (FROM)]<0.100>``: a ``[...]`` inside an atom is read to its ``]``),
``bytes`` for strings (quoted or literal) and ``list`` for parenthesised lists. Anything malformed raises
:class:`ParseError`, which the session answers with ``BAD``. Postfix parameters read: none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Token = str | bytes | list["Token"]
STAR = 0  # "*" in a sequence set (no message has number or UID 0)
LITERAL = re.compile(rb"\{(\d+)(\+?)\}\r?\n$")


class ParseError(ValueError):
    """The client sent something RFC 3501's grammar does not allow."""


@dataclass(frozen=True, slots=True)
class Command:
    """One tagged command; ``uid`` marks the UID form of COPY, FETCH, SEARCH, STORE and EXPUNGE."""

    tag: str
    name: str
    args: list[Token]
    uid: bool = False


@dataclass(frozen=True, slots=True)
class FetchItem:
    """One FETCH data item; ``section`` is None for items that are not ``BODY[...]``."""

    name: str
    section: str | None = None
    fields: tuple[str, ...] = ()
    partial: tuple[int, int] | None = None
    peek: bool = False

    def label(self) -> str:
        """The item's name in the response (PEEK dropped, only the partial's origin kept)."""
        if self.section is None:
            return self.name
        spec = self.section + (f" ({' '.join(self.fields)})" if self.fields else "")
        origin = f"<{self.partial[0]}>" if self.partial else ""
        return f"BODY[{spec}]{origin}"


def literal_size(line: bytes) -> tuple[int, bool] | None:
    """``(octets, non_synchronizing)`` when ``line`` ends in a literal announcement, else None."""
    match = LITERAL.search(line)
    return (int(match.group(1)), bool(match.group(2))) if match else None


def parse_tag(data: bytes) -> str | None:
    """The tag of a command line, if it has one (so even a BAD reply can be tagged)."""
    match = re.match(rb"([\x21-\x7e]+?) ", data)
    if match is None or any(c in match.group(1) for c in b'(){%*"\\+'):
        return None
    return match.group(1).decode()


def parse_command(data: bytes) -> Command:
    """Split a whole command (literals inline) into tag, name and argument tokens."""
    tag = parse_tag(data)
    if tag is None:
        raise ParseError("missing or invalid tag")
    reader = _Reader(data, len(tag) + 1)
    name = reader.atom().upper()
    if not name:
        raise ParseError("missing command")
    uid = name == "UID"
    if uid:
        reader.space()
        name = reader.atom().upper()
    return Command(tag, name, reader.tokens(), uid)


class _Reader:
    """A cursor over one command's bytes."""

    def __init__(self, data: bytes, position: int) -> None:
        self.data = data
        self.pos = position

    def at_end(self) -> bool:
        return self.pos >= len(self.data) or self.data[self.pos] in b"\r\n"

    def space(self) -> None:
        if self.data[self.pos : self.pos + 1] != b" ":
            raise ParseError("expected a space")
        self.pos += 1

    def tokens(self, closing: bool = False) -> list[Token]:
        found: list[Token] = []
        while True:
            if self.at_end():
                if closing:
                    raise ParseError("missing )")
                return found
            char = self.data[self.pos : self.pos + 1]
            if char == b" ":
                self.pos += 1
            elif char == b"(":
                self.pos += 1
                found.append(self.tokens(closing=True))
            elif char == b")":
                if not closing:
                    raise ParseError("unexpected )")
                self.pos += 1
                return found
            elif char == b'"':
                found.append(self.quoted())
            elif char == b"{":
                found.append(self.literal())
            else:
                found.append(self.atom())

    def atom(self) -> str:
        start = self.pos
        while not self.at_end() and self.data[self.pos] not in b' ()"':
            if self.data[self.pos] == ord("["):
                end = self.data.find(b"]", self.pos)
                if end < 0:
                    raise ParseError("missing ]")
                self.pos = end
            self.pos += 1
        try:
            return self.data[start : self.pos].decode("ascii")
        except UnicodeDecodeError:
            raise ParseError("8-bit data in an atom") from None

    def quoted(self) -> bytes:
        out = bytearray()
        self.pos += 1
        while self.pos < len(self.data):
            char = self.data[self.pos]
            self.pos += 1
            if char == ord('"'):
                return bytes(out)
            if char in b"\r\n":
                break
            if char == ord("\\"):
                char = self.data[self.pos]
                self.pos += 1
                if char not in b'\\"':
                    raise ParseError("bad escape in a quoted string")
            out.append(char)
        raise ParseError("unterminated quoted string")

    def literal(self) -> bytes:
        match = re.compile(rb"\{(\d+)\+?\}\r?\n").match(self.data, self.pos)
        if match is None:
            raise ParseError("bad literal")
        size, start = int(match.group(1)), match.end()
        if start + size > len(self.data):
            raise ParseError("literal shorter than announced")
        self.pos = start + size
        return self.data[start : self.pos]


# -- sequence sets (RFC 3501 §9 sequence-set) ------------------------------------------------------------


def parse_set(token: Token) -> list[tuple[int, int]]:
    """``1,3:5,7:*`` into ranges; ``*`` is :data:`STAR`."""
    if not isinstance(token, str) or not token:
        raise ParseError("expected a sequence set")
    ranges = []
    for item in token.split(","):
        first, colon, last = item.partition(":")
        low = _number(first)
        ranges.append((low, _number(last) if colon else low))
    return ranges


def _number(text: str) -> int:
    if text == "*":
        return STAR
    if not text.isdigit() or text.startswith("0"):
        raise ParseError(f"bad number in a sequence set: {text!r}")
    return int(text)


def is_set(token: Token) -> bool:
    """Whether ``token`` reads as a sequence set (SEARCH keys may be bare sets)."""
    return isinstance(token, str) and re.fullmatch(r"(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*", token) is not None


class SequenceSet:
    """Ranges with ``*`` bound to ``largest``; membership without listing the numbers (``1:4294967295``)."""

    __slots__ = ("ranges",)

    def __init__(self, ranges: list[tuple[int, int]], largest: int) -> None:
        bound = [(low or largest, high or largest) for low, high in ranges]
        self.ranges = [(min(low, high), max(low, high)) for low, high in bound]

    def __contains__(self, number: object) -> bool:
        return any(low <= number <= high for low, high in self.ranges)  # type: ignore[operator]

    def highest(self) -> int:
        """The largest number named (to refuse message numbers past the last message)."""
        return max(high for _, high in self.ranges)


# -- FETCH attributes (RFC 3501 §6.4.5) ------------------------------------------------------------------

MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
SIMPLE = {"FLAGS", "UID", "RFC822.SIZE", "INTERNALDATE", "ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822"}
SIMPLE |= {"RFC822.HEADER", "RFC822.TEXT"}
_SECTION = re.compile(r"^(BODY(?:\.PEEK)?)\[([^\]]*)\](?:<(\d+)\.(\d+)>)?$", re.IGNORECASE)
_SECTION_TEXT = re.compile(r"^((?:[1-9]\d*\.)*[1-9]\d*)?\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?$")


def parse_fetch(args: list[Token]) -> list[FetchItem]:
    """The data items of a FETCH command (a macro, one item, or a parenthesised list)."""
    if len(args) != 1:
        raise ParseError("expected one FETCH item or a list")
    raw = args[0]
    if isinstance(raw, str) and raw.upper() in MACROS:
        return [FetchItem(name) for name in MACROS[raw.upper()]]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ParseError("empty FETCH list")
    return [_fetch_item(item) for item in items]


def _fetch_item(token: Token) -> FetchItem:
    if not isinstance(token, str):
        raise ParseError("bad FETCH item")
    upper = token.upper()
    if upper in SIMPLE:
        return FetchItem(upper)
    match = _SECTION.match(token)
    if match is None:
        raise ParseError(f"unknown FETCH item {token}")
    spec, _, fields = match.group(2).partition(" ")
    inner = _SECTION_TEXT.match(spec.upper())
    if inner is None or (inner.group(2) == "MIME" and not inner.group(1)):
        raise ParseError(f"bad section {spec}")
    names: tuple[str, ...] = ()
    if (inner.group(2) or "").startswith("HEADER.FIELDS"):
        names = tuple(fields.strip().strip("()").upper().split())
        if not names or not fields.strip().startswith("("):
            raise ParseError("HEADER.FIELDS needs a list of field names")
    elif fields:
        raise ParseError(f"bad section {match.group(2)}")
    partial = (int(match.group(3)), int(match.group(4))) if match.group(3) else None
    return FetchItem("BODY", spec.upper(), names, partial, peek=match.group(1).upper() == "BODY.PEEK")
