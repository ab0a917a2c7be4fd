"""What FETCH says about a message: byte-exact sections, ENVELOPE, BODYSTRUCTURE, strings and literals."""

from __future__ import annotations

from mailsim.aa.imap.mime import bodystructure, envelope, parse_entity, section, string

MULTIPART = (
    b'From: "Carol, C." <carol@example.net>\r\nTo: alice@example.org, Bob <bob@example.net>\r\n'
    b"Subject: =?utf-8?q?caf=C3=A9?=\r\n folded\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
    b"preamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst\r\npart\r\n"
    b"--XX\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n"
    b"--XX\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--XX--\r\nepilogue\r\n"
)


def test_sections_are_slices_of_the_stored_bytes() -> None:
    root = parse_entity(MULTIPART)
    assert section(root, "") == MULTIPART
    assert section(root, "HEADER") + section(root, "TEXT") == MULTIPART
    assert section(root, "1") == b"first\r\npart"
    assert section(root, "1.MIME") == b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    assert section(root, "2") == b"Subject: inner\r\n\r\ninner body"
    assert section(root, "2.HEADER") == b"Subject: inner\r\n\r\n" and section(root, "2.TEXT") == b"inner body"
    assert section(root, "2.1") == b"inner body" and section(root, "3") == b"JVBERg=="
    assert section(root, "4") == b"" and section(root, "1.2") == b""
    assert section(root, "HEADER.FIELDS", ("SUBJECT", "TO")) == (
        b"To: alice@example.org, Bob <bob@example.net>\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n folded\r\n\r\n"
    )
    assert b"Subject" not in section(root, "HEADER.FIELDS.NOT", ("SUBJECT",))


def test_a_message_without_mime_has_part_one() -> None:
    root = parse_entity(b"Subject: plain\r\n\r\nline\r\n")
    assert section(root, "1") == b"line\r\n" and section(root, "TEXT") == b"line\r\n"
    assert bodystructure(root) == b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 6 1 NIL NIL NIL NIL)'
    assert bodystructure(root, extensible=False) == b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 6 1)'


def test_envelope_keeps_raw_fields_and_splits_addresses() -> None:
    assert envelope(parse_entity(MULTIPART)) == (
        b'(NIL "=?utf-8?q?caf=C3=A9?= folded" (("Carol, C." NIL "carol" "example.net")) '
        b'(("Carol, C." NIL "carol" "example.net")) (("Carol, C." NIL "carol" "example.net")) '
        b'((NIL NIL "alice" "example.org")("Bob" NIL "bob" "example.net")) NIL NIL NIL NIL)'
    )


def test_bodystructure_of_a_multipart_with_an_attached_message() -> None:
    structure = bodystructure(parse_entity(MULTIPART))
    assert structure.startswith(b'(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 11 2 NIL NIL NIL NIL)')
    assert b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 28 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) ' in structure
    assert (
        b'("APPLICATION" "PDF" ("NAME" "a.pdf") NIL NIL "BASE64" 8 NIL ("ATTACHMENT" ("FILENAME" "a.pdf"))' in structure
    )
    assert structure.endswith(b' "MIXED" ("BOUNDARY" "XX") NIL NIL NIL)')


def test_strings_go_quoted_or_as_literals() -> None:
    assert string(None) == b"NIL" and string('say "hi" \\') == b'"say \\"hi\\" \\\\"'
    assert string("caf\u00e9") == b"{5}\r\ncaf\xc3\xa9" and string(b"two\r\nlines") == b"{10}\r\ntwo\r\nlines"
