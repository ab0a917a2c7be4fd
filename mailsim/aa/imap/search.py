"""SEARCH (RFC 3501 §6.4.4): the search program becomes one predicate over a message, built from small ones.

Supported keys: ALL, the flag keys (ANSWERED ... UNSEEN, NEW, OLD, RECENT), FROM/TO/CC/BCC/SUBJECT and
HEADER (case-insensitive substring of the raw or RFC 2047-decoded field), BODY and TEXT (substring of the
stored bytes, without decoding transfer encodings), BEFORE/ON/SINCE and SENT*, LARGER/SMALLER, UID sets,
sequence sets, NOT, OR and parenthesised groups; KEYWORD matches nothing (no keywords are stored).
CHARSET may name US-ASCII or UTF-8. Postfix parameters read: none.
"""

from __future__ import annotations

import email.header
import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from mailsim.aa.imap.mime import Entity
from mailsim.aa.imap.parser import ParseError, SequenceSet, Token, is_set, parse_set


class BadCharset(ParseError):
    """``SEARCH CHARSET`` named a charset this server does not search in (NO [BADCHARSET])."""


@dataclass
class Candidate:
    """What a search key may look at; ``content`` parses the message only when a key needs it."""

    seq: int
    uid: int
    flags: frozenset[str]
    size: int
    internal_date: datetime
    recent: bool
    content: Callable[[], Entity]


Predicate = Callable[[Candidate], bool]

FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}
ADDRESS_KEYS = {"FROM", "TO", "CC", "BCC", "SUBJECT"}


def parse_search(args: list[Token], largest_seq: int, largest_uid: int) -> Predicate:
    """The whole search program (an implicit AND of its keys)."""
    tokens = list(args)
    if tokens and isinstance(tokens[0], str) and tokens[0].upper() == "CHARSET":
        if len(tokens) < 2:
            raise ParseError("CHARSET needs a name")
        name = _text(tokens[1]).upper()
        if name not in ("US-ASCII", "UTF-8"):
            raise BadCharset(name)
        tokens = tokens[2:]
    if not tokens:
        raise ParseError("empty search program")
    keys = []
    while tokens:
        keys.append(_key(tokens, largest_seq, largest_uid))
    return lambda c: all(key(c) for key in keys)


def _key(tokens: list[Token], largest_seq: int, largest_uid: int) -> Predicate:
    token = tokens.pop(0)
    if isinstance(token, list):
        return parse_search(token, largest_seq, largest_uid)
    if not isinstance(token, str):
        raise ParseError("a search key must be an atom")
    word = token.upper()
    if word in FLAG_KEYS:
        flag, present = FLAG_KEYS[word]
        return lambda c: (flag in c.flags) == present
    simple = _simple(word)
    if simple is not None:
        return simple
    if word == "NOT":
        inner = _key(tokens, largest_seq, largest_uid)
        return lambda c: not inner(c)
    if word == "OR":
        first, second = _key(tokens, largest_seq, largest_uid), _key(tokens, largest_seq, largest_uid)
        return lambda c: first(c) or second(c)
    if word == "UID":
        uids = SequenceSet(parse_set(_arg(tokens)), largest_uid)
        return lambda c: c.uid in uids
    if is_set(token):
        numbers = SequenceSet(parse_set(token), largest_seq)
        return lambda c: c.seq in numbers
    return _with_argument(word, tokens)


def _simple(word: str) -> Predicate | None:
    return {
        "ALL": lambda c: True,
        "NEW": lambda c: c.recent and "\\Seen" not in c.flags,
        "OLD": lambda c: not c.recent,
        "RECENT": lambda c: c.recent,
    }.get(word)


def _with_argument(word: str, tokens: list[Token]) -> Predicate:
    if word in ADDRESS_KEYS:
        needle = _text(_arg(tokens)).lower()
        return lambda c: needle in _field_text(c.content(), word)
    if word == "HEADER":
        name, needle = _text(_arg(tokens)), _text(_arg(tokens)).lower()
        return lambda c: needle in _field_text(c.content(), name) if needle else _has_field(c.content(), name)
    if word in ("BODY", "TEXT"):
        pattern = _text(_arg(tokens)).lower().encode()
        part = (lambda e: e.body) if word == "BODY" else (lambda e: e.raw)
        return lambda c: pattern in part(c.content()).lower()
    if word in ("LARGER", "SMALLER"):
        size = _int(_arg(tokens))
        return (lambda c: c.size > size) if word == "LARGER" else (lambda c: c.size < size)
    if word in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
        return _date_key(word, _date(_arg(tokens)))
    if word in ("KEYWORD", "UNKEYWORD"):
        _arg(tokens)
        return lambda c: word == "UNKEYWORD"
    raise ParseError(f"unknown search key {word}")


def _date_key(word: str, day: date) -> Predicate:
    sent = word.startswith("SENT")
    compare = {"BEFORE": lambda d: d < day, "ON": lambda d: d == day, "SINCE": lambda d: d >= day}[
        word[4:] if sent else word
    ]

    def when(c: Candidate) -> date | None:
        if not sent:
            return c.internal_date.date()
        value = c.content().fields.get("Date")
        parsed = email.utils.parsedate_to_datetime(str(value)) if value else None
        return parsed.date() if parsed else None

    def matches(c: Candidate) -> bool:
        try:
            found = when(c)
        except (TypeError, ValueError):
            return False
        return found is not None and compare(found)

    return matches


def _field_text(entity: Entity, name: str) -> str:
    """A field's raw and decoded text, lower case, all occurrences."""
    values = [str(v) for v in entity.fields.get_all(name) or []]
    decoded = []
    for value in values:
        try:
            decoded.append(str(email.header.make_header(email.header.decode_header(value))))
        except (ValueError, LookupError):
            decoded.append(value)
    return "\n".join(values + decoded).lower()


def _has_field(entity: Entity, name: str) -> bool:
    return entity.fields.get(name) is not None


def _arg(tokens: list[Token]) -> Token:
    if not tokens:
        raise ParseError("search key needs an argument")
    return tokens.pop(0)


def _text(token: Token) -> str:
    if isinstance(token, list):
        raise ParseError("expected a string")
    return token.decode("utf-8", "replace") if isinstance(token, bytes) else token


def _int(token: Token) -> int:
    text = _text(token)
    if not text.isdigit():
        raise ParseError("expected a number")
    return int(text)


def _date(token: Token) -> date:
    try:
        return datetime.strptime(_text(token), "%d-%b-%Y").date()
    except ValueError:
        raise ParseError("expected a date like 5-Jan-2026") from None
