"""What FETCH returns about a message (RFC 3501 §6.4.5, §7.4.2): sections, ENVELOPE, BODYSTRUCTURE, strings.

Sections must be byte-exact slices of the stored message, so the MIME tree here is cut from the raw bytes
(header, body, parts between boundary lines per RFC 2046 §5.1.1) rather than rebuilt by ``email``, which is
used only to read header fields. Sizes and line counts of BODYSTRUCTURE come from the same slices.
Postfix parameters read: none.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

CRLF = b"\r\n"
_HEADER_PARSER = BytesHeaderParser(policy=compat32)
_UNFOLD = re.compile(rb"\r?\n(?=[ \t])")


@dataclass
class Entity:
    """A message or MIME part: its header block (with the empty line), body, parts or encapsulated message."""

    header: bytes
    body: bytes
    fields: Message
    parts: list[Entity] = field(default_factory=list)
    inner: Entity | None = None

    @property
    def raw(self) -> bytes:
        """The entity as stored: header block and body."""
        return self.header + self.body


def parse_entity(raw: bytes, default_type: str = "text/plain") -> Entity:
    """Cut ``raw`` (CRLF lines) into header and body, and recursively into parts."""
    if raw.startswith(CRLF):
        header, body = CRLF, raw[2:]
    else:
        end = raw.find(CRLF + CRLF)
        header, body = (raw, b"") if end < 0 else (raw[: end + 4], raw[end + 4 :])
    fields = _HEADER_PARSER.parsebytes(header)
    fields.set_default_type(default_type)
    entity = Entity(header, body, fields)
    kind = fields.get_content_type()
    boundary = fields.get_boundary()
    if kind.startswith("multipart/") and boundary:
        child_type = "message/rfc822" if kind == "multipart/digest" else "text/plain"
        entity.parts = [parse_entity(part, child_type) for part in split_parts(body, boundary)]
    elif kind == "message/rfc822":
        entity.inner = parse_entity(body)
    return entity


def split_parts(body: bytes, boundary: str) -> list[bytes]:
    """The parts between ``--boundary`` lines (the CRLF before a delimiter belongs to it), up to the close."""
    delimiter = re.compile(rb"(?:^|\r\n)--" + re.escape(boundary.encode()) + rb"(--)?[ \t]*(?:\r\n|$)")
    marks = list(delimiter.finditer(body))
    parts = []
    for index, mark in enumerate(marks):
        if mark.group(1):
            break
        end = marks[index + 1].start() if index + 1 < len(marks) else len(body)
        parts.append(body[mark.end() : end])
    return parts


# -- sections ---------------------------------------------------------------------------------------------


def section(root: Entity, spec: str, fields: tuple[str, ...] = ()) -> bytes:
    """BODY[spec] of a message: "" (all), HEADER, TEXT, HEADER.FIELDS[.NOT], and part numbers with MIME."""
    path, text = _split_spec(spec)
    part = _part(root, path)
    if part is None:
        return b""
    if path and text == "":
        return part.body
    if text == "MIME":
        return part.header
    message = part.inner if path else part
    if message is None:
        return b""
    if text == "":
        return message.raw
    if text == "TEXT":
        return message.body
    if text == "HEADER":
        return message.header
    keep = text == "HEADER.FIELDS"
    wanted = {name.lower() for name in fields}
    return b"".join(line for name, line in header_lines(message.header) if (name in wanted) == keep) + CRLF


def _split_spec(spec: str) -> tuple[list[int], str]:
    """``1.2.MIME`` into ``([1, 2], "MIME")``."""
    numbers: list[int] = []
    rest = spec.split(".") if spec else []
    while rest and rest[0].isdigit():
        numbers.append(int(rest.pop(0)))
    return numbers, ".".join(rest)


def _part(root: Entity, path: list[int]) -> Entity | None:
    """RFC 3501 §6.4.5 part numbers: parts of multiparts, and of a message/rfc822 part's own body."""
    current = root
    for depth, number in enumerate(path):
        if depth and current.inner is not None:
            current = current.inner
        if current.parts:
            if not 1 <= number <= len(current.parts):
                return None
            current = current.parts[number - 1]
        elif number != 1:
            return None
    return current


def header_lines(header: bytes) -> list[tuple[str, bytes]]:
    """Each field of a header block with its continuation lines, keyed by its lower-case name."""
    found: list[tuple[str, bytes]] = []
    for line in header.split(CRLF)[:-1]:
        if line[:1] in (b" ", b"\t") and found:
            found[-1] = (found[-1][0], found[-1][1] + line + CRLF)
        elif line:
            found.append((line.split(b":", 1)[0].strip().decode("latin-1").lower(), line + CRLF))
    return found


# -- strings, ENVELOPE and BODYSTRUCTURE ----------------------------------------------------------------------


def string(value: bytes | str | None) -> bytes:
    """NIL, a quoted string, or a literal for anything a quoted string cannot carry (8-bit, CR, LF)."""
    if value is None:
        return b"NIL"
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    if len(data) < 1024 and all(32 <= c < 127 for c in data):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(data) + data


def _raw_field(fields: Message, name: str) -> bytes | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):  # a Header object when the field holds 8-bit bytes
        value = str(value)
    return _UNFOLD.sub(b"", value.encode("utf-8", "surrogateescape")).strip()


def _addresses(fields: Message, name: str, fallback: str | None = None) -> bytes:
    values = fields.get_all(name) or (fields.get_all(fallback) if fallback else None)
    if not values:
        return b"NIL"
    entries = []
    for display, address in email.utils.getaddresses([str(v) for v in values]):
        if not address and not display:
            continue
        mailbox, at, host = address.rpartition("@") if "@" in address else (address, "", "")
        entries.append(
            b"(" + b" ".join([string(display or None), b"NIL", string(mailbox or None), string(host or None)]) + b")"
        )
    return b"(" + b"".join(entries) + b")" if entries else b"NIL"


def envelope(message: Entity) -> bytes:
    """(date subject from sender reply-to to cc bcc in-reply-to message-id); sender and reply-to default to from."""
    fields = message.fields
    parts = [
        string(_raw_field(fields, "Date")),
        string(_raw_field(fields, "Subject")),
        _addresses(fields, "From"),
        _addresses(fields, "Sender", "From"),
        _addresses(fields, "Reply-To", "From"),
        _addresses(fields, "To"),
        _addresses(fields, "Cc"),
        _addresses(fields, "Bcc"),
        string(_raw_field(fields, "In-Reply-To")),
        string(_raw_field(fields, "Message-ID")),
    ]
    return b"(" + b" ".join(parts) + b")"


def _params(fields: Message, header: str = "content-type") -> bytes:
    params = fields.get_params(header=header) or []
    pairs = [(k, v) for k, v in params[1:]] if params else []
    if (
        header == "content-type"
        and fields.get_content_maintype() == "text"
        and not any(k.lower() == "charset" for k, _ in pairs)
    ):
        pairs.insert(0, ("charset", "us-ascii"))
    if not pairs:
        return b"NIL"
    flat = [string(k.upper()) + b" " + string(email.utils.collapse_rfc2231_value(v)) for k, v in pairs]
    return b"(" + b" ".join(flat) + b")"


def _disposition(fields: Message) -> bytes:
    value = fields.get("Content-Disposition")
    if value is None:
        return b"NIL"
    kind = str(value).split(";", 1)[0].strip().upper()
    return b"(" + string(kind) + b" " + _params(fields, "content-disposition") + b")"


def _lines(body: bytes) -> int:
    return body.count(CRLF) + (1 if body and not body.endswith(CRLF) else 0)


def bodystructure(entity: Entity, extensible: bool = True) -> bytes:
    """BODYSTRUCTURE (``extensible``) or BODY of an entity, recursively."""
    fields = entity.fields
    if entity.parts:
        inner = b"".join(bodystructure(part, extensible) for part in entity.parts)
        out = inner + b" " + string(fields.get_content_subtype().upper())
        if extensible:
            out += b" " + _params(fields) + b" " + _disposition(fields) + b" NIL NIL"
        return b"(" + out + b")"
    items = [
        string(fields.get_content_maintype().upper()),
        string(fields.get_content_subtype().upper()),
        _params(fields),
        string(_raw_field(fields, "Content-ID")),
        string(_raw_field(fields, "Content-Description")),
        string((_raw_field(fields, "Content-Transfer-Encoding") or b"7BIT").upper()),
        str(len(entity.body)).encode(),
    ]
    if entity.inner is not None:
        items += [envelope(entity.inner), bodystructure(entity.inner, extensible), str(_lines(entity.body)).encode()]
    elif fields.get_content_maintype() == "text":
        items.append(str(_lines(entity.body)).encode())
    if extensible:
        items += [b"NIL", _disposition(fields), b"NIL", b"NIL"]
    return b"(" + b" ".join(items) + b")"
