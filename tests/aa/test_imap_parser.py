"""IMAP command syntax: tokens and literals, sequence sets, FETCH items, search programs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailsim.aa.imap.mime import parse_entity
from mailsim.aa.imap.parser import (
    STAR,
    Command,
    FetchItem,
    ParseError,
    SequenceSet,
    literal_size,
    parse_command,
    parse_fetch,
    parse_set,
    parse_tag,
)
from mailsim.aa.imap.search import BadCharset, Candidate, parse_search


def test_a_command_becomes_tag_name_and_tokens() -> None:
    command = parse_command(b'a1 LOGIN "al\\"ice" {5}\r\npa ss\r\n')
    assert command == Command("a1", "LOGIN", [b'al"ice', b"pa ss"])
    fetch = parse_command(b"t2 uid fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)\r\n")
    assert (fetch.name, fetch.uid) == ("FETCH", True)
    assert fetch.args == ["1:*", ["FLAGS", "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>"]]


@pytest.mark.parametrize(
    "line",
    [b"\r\n", b"a1\r\n", b'a1 LOGIN "open\r\n', b"a1 FETCH (1\r\n", b"a1 FETCH 1)\r\n", b"a1 X {9}\r\nshort\r\n"],
    ids=["empty", "no-command", "open-quote", "open-paren", "stray-paren", "short-literal"],
)
def test_malformed_commands_are_parse_errors(line: bytes) -> None:
    with pytest.raises(ParseError):
        parse_command(line)


def test_tags_literal_announcements() -> None:
    assert parse_tag(b"a1 NOOP\r\n") == "a1" and parse_tag(b"* NOOP\r\n") is None and parse_tag(b"x+y NOOP") is None
    assert literal_size(b"a LOGIN {12}\r\n") == (12, False) and literal_size(b"a LOGIN {3+}\r\n") == (3, True)
    assert literal_size(b"a LOGIN alice\r\n") is None


def test_sequence_sets_bind_star_and_never_list_their_members() -> None:
    assert parse_set("1,3:5,7:*") == [(1, 1), (3, 5), (7, STAR)]
    numbers = SequenceSet(parse_set("4:2,9:*"), largest=12)
    assert [n for n in range(1, 14) if n in numbers] == [2, 3, 4, 9, 10, 11, 12] and numbers.highest() == 12
    assert 4_000_000_000 in SequenceSet(parse_set("1:4294967295"), largest=3)
    for bad in ("", "0", "1:", "a", "1,,2", "01"):
        with pytest.raises(ParseError):
            parse_set(bad)


def test_fetch_items_macros_and_sections() -> None:
    assert [i.name for i in parse_fetch(["FAST"])] == ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
    items = parse_fetch([["uid", "BODY[]", "BODY.PEEK[1.2.MIME]", "BODY[HEADER.FIELDS.NOT (Received)]<10.20>"]])
    assert items == [
        FetchItem("UID"),
        FetchItem("BODY", ""),
        FetchItem("BODY", "1.2.MIME", peek=True),
        FetchItem("BODY", "HEADER.FIELDS.NOT", ("RECEIVED",), (10, 20)),
    ]
    assert [i.label() for i in items[1:]] == ["BODY[]", "BODY[1.2.MIME]", "BODY[HEADER.FIELDS.NOT (RECEIVED)]<10>"]
    for bad in (["BODY[MIME]"], ["BODY[HEADER.FIELDS]"], ["BODY[TEXT (A)]"], ["FOO"], [[]], ["BODY[1.X]"]):
        with pytest.raises(ParseError):
            parse_fetch(bad)


def candidate(seq: int, flags: set[str], subject: str = "hello") -> Candidate:
    raw = f"From: Bob <bob@example.net>\r\nSubject: {subject}\r\nDate: Mon, 05 Jan 2026 09:00:00 +0000\r\n\r\nbody text\r\n"
    entity = parse_entity(raw.encode())
    return Candidate(
        seq, seq * 10, frozenset(flags), 100 * seq, datetime(2026, 1, seq, tzinfo=UTC), seq == 3, lambda: entity
    )


def test_search_programs() -> None:
    messages = [
        candidate(1, {"\\Seen"}),
        candidate(2, set(), "=?utf-8?q?Gr=C3=BC=C3=9Fe?="),
        candidate(3, {"\\Deleted"}),
    ]

    def hits(*args: object) -> list[int]:
        predicate = parse_search(list(args), largest_seq=3, largest_uid=30)  # type: ignore[arg-type]
        return [c.seq for c in messages if predicate(c)]

    assert hits("ALL") == [1, 2, 3] and hits("UNSEEN") == [2, 3] and hits("DELETED", "UNSEEN") == [3]
    assert hits("OR", "SEEN", "DELETED") == [1, 3] and hits("NOT", ["OR", "SEEN", "DELETED"]) == [2]
    assert (
        hits("SUBJECT", b"GR\xc3\xbc") == [2] and hits("FROM", "bob") == [1, 2, 3] and hits("BODY", "TEXT") == [1, 2, 3]
    )
    assert hits("UID", "20:*") == [2, 3] and hits("2:*") == [2, 3] and hits("LARGER", "150") == [2, 3]
    assert hits("SINCE", "2-Jan-2026") == [2, 3] and hits("SENTON", "5-Jan-2026") == [1, 2, 3]
    assert hits("NEW") == [3] and hits("RECENT") == [3] and hits("CHARSET", "UTF-8", "ALL") == [1, 2, 3]
    assert hits("HEADER", "Date", "") == [1, 2, 3] and hits("KEYWORD", "$Junk") == []
    with pytest.raises(BadCharset):
        hits("CHARSET", "KOI8-R", "ALL")
    for bad in ([], ["FROM"], ["BOGUS"], ["SINCE", "yesterday"], ["LARGER", "x"]):
        with pytest.raises(ParseError):
            hits(*bad)
