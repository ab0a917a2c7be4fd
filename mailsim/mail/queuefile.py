"""The queue file: one message in a Postfix queue, its life-cycle table, and its on-disk record form.

Theory of operation. A message lives in exactly one queue at a time (Postfix ``QSHAPE_README``,
``qmgr(8)``): ``maildrop`` (posted locally, waiting for pickup), ``incoming`` (written by cleanup),
``active`` (qmgr is delivering it), ``deferred`` (waiting for a retry), ``hold`` (parked by an
admin or an access HOLD action) and ``corrupt`` (unreadable). It leaves the queues in one of the
terminal "removed" states. :data:`QUEUE_TRANSITIONS` is the single table of legal moves and
:func:`transition` the one place that refuses an illegal one (STYLE.md principle 4); notebooks
draw the life-cycle diagram from :func:`transition_edges`.

The record format follows Postfix's ``rec_type.h`` (type byte, 7-bit varint length, data; the
envelope first, then ``M``, the content lines, ``X`` and ``E``) without being binary-compatible.
:meth:`QueueFile.from_bytes` checks the size record and the end marker, so a file cut short
raises :class:`CorruptQueueFile`, which cleanup/qmgr answer by moving the message to ``corrupt``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from mailsim.core.errors import MailsimError, SimulationError
from mailsim.mail.address import xtext_decode, xtext_encode
from mailsim.mail.envelope import Body, Envelope, Notify, RcptDsn, Ret

LINE_LENGTH_LIMIT = 2048  # Postfix line_length_limit: longer lines are stored in pieces


class QueueState(StrEnum):
    """Where a queue file is: a queue directory, or a terminal removed state."""

    MAILDROP = "maildrop"
    INCOMING = "incoming"
    ACTIVE = "active"
    DEFERRED = "deferred"
    HOLD = "hold"
    CORRUPT = "corrupt"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    EXPIRED = "expired"
    DELETED = "deleted"


_S = QueueState
QUEUE_TRANSITIONS: Mapping[QueueState, frozenset[QueueState]] = MappingProxyType(
    {
        _S.MAILDROP: frozenset({_S.INCOMING, _S.HOLD, _S.CORRUPT, _S.DELETED}),  # pickup -> cleanup
        _S.INCOMING: frozenset({_S.ACTIVE, _S.HOLD, _S.CORRUPT, _S.DELETED, _S.MAILDROP}),  # qmgr scans incoming
        _S.ACTIVE: frozenset(
            {_S.DEFERRED, _S.DELIVERED, _S.BOUNCED, _S.EXPIRED, _S.HOLD, _S.CORRUPT, _S.DELETED, _S.MAILDROP}
        ),  # postsuper -r requeues through maildrop
        _S.DEFERRED: frozenset({_S.ACTIVE, _S.HOLD, _S.CORRUPT, _S.DELETED, _S.MAILDROP}),
        _S.HOLD: frozenset({_S.DEFERRED, _S.MAILDROP, _S.CORRUPT, _S.DELETED}),  # postsuper -H releases to deferred
        _S.CORRUPT: frozenset({_S.DELETED}),
        _S.DELIVERED: frozenset(),
        _S.BOUNCED: frozenset(),
        _S.EXPIRED: frozenset(),
        _S.DELETED: frozenset(),
    }
)
QUEUES = (_S.MAILDROP, _S.INCOMING, _S.ACTIVE, _S.DEFERRED, _S.HOLD, _S.CORRUPT)
TERMINAL = frozenset(state for state, moves in QUEUE_TRANSITIONS.items() if not moves)


def transition(state: QueueState, new: QueueState) -> QueueState:
    """The new state if the move is legal; SimulationError (a model bug) otherwise."""
    if new not in QUEUE_TRANSITIONS[state]:
        allowed = ", ".join(sorted(QUEUE_TRANSITIONS[state])) or "nothing (terminal)"
        raise SimulationError(f"illegal queue file move {state} -> {new}; {state} may go to {allowed}")
    return new


def transition_edges() -> list[tuple[str, str]]:
    """Every legal move as (from, to), for drawing the life-cycle diagram."""
    return [(str(src), str(dst)) for src, moves in QUEUE_TRANSITIONS.items() for dst in sorted(moves)]


class CorruptQueueFile(MailsimError):
    """A queue file that cannot be read back (cut short, garbled): it belongs in the corrupt queue."""

    def __init__(self, reason: str, *, queue_id: str | None = None, offset: int | None = None) -> None:
        self.reason = reason
        self.queue_id = queue_id
        self.offset = offset
        where = f" at offset {offset}" if offset is not None else ""
        super().__init__(f"{queue_id or 'queue file'}: corrupt{where}: {reason}")


_Record = TypeVar("_Record", "QueueFile", "QueueRecipient")


def _replaced(record: _Record, **changes: Any) -> _Record:
    """``dataclasses.replace`` for these slotted records (no ``__post_init__``), at a tenth of the cost.

    Why: qmgr moves and marks every queue file several times a message.
    """
    new = object.__new__(type(record))
    for name in type(record).__slots__:
        object.__setattr__(new, name, changes.pop(name) if name in changes else getattr(record, name))
    if changes:
        raise TypeError(f"{type(record).__name__} has no field {sorted(changes)[0]!r}")
    return new


@dataclass(frozen=True, slots=True)
class QueueRecipient:
    """A recipient in a queue file; ``original`` is the address before cleanup rewrote it."""

    address: str
    original: str | None = None
    dsn: RcptDsn = RcptDsn()
    done: bool = False


@dataclass(frozen=True, slots=True)
class QueueFile:
    """One queued message: envelope, content (CRLF wire bytes) and where it is in its life cycle."""

    queue_id: str
    state: QueueState
    sender: str
    recipients: tuple[QueueRecipient, ...]
    content: bytes
    arrival_time: float
    attributes: tuple[tuple[str, str], ...] = ()
    ret: Ret | None = None
    envid: str | None = None
    smtputf8: bool = False
    body: Body | None = None
    warning_time: float | None = None

    @classmethod
    def from_envelope(
        cls,
        queue_id: str,
        envelope: Envelope,
        content: bytes,
        *,
        arrival_time: float,
        state: QueueState = QueueState.INCOMING,
        attributes: tuple[tuple[str, str], ...] = (),
        originals: tuple[str | None, ...] = (),
    ) -> QueueFile:
        """What cleanup writes for an accepted transaction."""
        recipients = tuple(
            QueueRecipient(rcpt, originals[i] if originals else None, envelope.dsn_for(i))
            for i, rcpt in enumerate(envelope.rcpt_tos)
        )
        return cls(
            queue_id, state, envelope.mail_from, recipients, content, arrival_time, attributes,
            envelope.ret, envelope.envid, envelope.smtputf8, envelope.body,
        )  # fmt: skip

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def pending(self) -> tuple[QueueRecipient, ...]:
        """Recipients still to be delivered (not yet marked done)."""
        return tuple(rcpt for rcpt in self.recipients if not rcpt.done)

    def envelope(self) -> Envelope:
        """The envelope for the recipients still pending (what a retry hands to delivery agents)."""
        pending = self.pending
        return Envelope(
            self.sender, tuple(r.address for r in pending), smtputf8=self.smtputf8, body=self.body,
            size=self.size, ret=self.ret, envid=self.envid, rcpt_dsn=tuple(r.dsn for r in pending),
        )  # fmt: skip

    def move(self, new: QueueState) -> QueueFile:
        """The same file in its new queue; illegal moves raise SimulationError."""
        return _replaced(self, state=transition(self.state, new))

    def mark_done(self, address: str) -> QueueFile:
        """Record a final status for one recipient (Postfix rewrites its R record into a D record)."""
        recipients = self.recipients
        for i, rcpt in enumerate(recipients):
            if not rcpt.done and rcpt.address == address:
                marked = (*recipients[:i], _replaced(rcpt, done=True), *recipients[i + 1 :])
                return _replaced(self, recipients=marked)
        raise SimulationError(f"{self.queue_id}: {address} is not a pending recipient")

    def attribute(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.attributes:  # a loop, not next(genexp): every trace record of a file asks
            if key == name:
                return value
        return default

    def to_bytes(self) -> bytes:
        """The file as stored in the queue directory (see :func:`from_bytes` for reading it back)."""
        return encode_queue_file(self)

    @classmethod
    def from_bytes(cls, data: bytes, *, state: QueueState = QueueState.INCOMING) -> QueueFile:
        return decode_queue_file(data, state=state)


# --- records ---------------------------------------------------------------------------------------
def encode_record(kind: str, data: bytes) -> bytes:
    """Type byte, length as a little-endian 7-bit varint (high bit: more follows), data (rec_put.c)."""
    length = len(data)
    out = bytearray(kind.encode("ascii"))
    while True:
        byte, length = length & 0x7F, length >> 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out) + data


def iter_records(data: bytes, queue_id: str | None = None) -> Iterator[tuple[str, bytes, int]]:
    """(type, data, offset) for every record; CorruptQueueFile when one is cut short."""
    offset = 0
    while offset < len(data):
        start, kind = offset, chr(data[offset])
        offset += 1
        length, shift = 0, 0
        while True:
            if offset >= len(data):
                raise CorruptQueueFile(f"truncated length of {kind!r} record", queue_id=queue_id, offset=start)
            byte = data[offset]
            offset += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if offset + length > len(data):
            raise CorruptQueueFile(f"truncated {kind!r} record", queue_id=queue_id, offset=start)
        yield kind, data[offset : offset + length], start
        offset += length


def _content_records(content: bytes) -> list[bytes]:
    out = []
    lines = content.split(b"\r\n")
    for number, line in enumerate(lines):
        last = number == len(lines) - 1
        if last and not line:
            break
        while len(line) > LINE_LENGTH_LIMIT:
            out.append(encode_record("L", line[:LINE_LENGTH_LIMIT]))
            line = line[LINE_LENGTH_LIMIT:]
        out.append(encode_record("L" if last else "N", line))
    return out


def _envelope_records(qf: QueueFile) -> list[bytes]:
    attrs = [("log_ident", qf.queue_id), *qf.attributes]
    if qf.ret is not None:
        attrs.append(("dsn_ret", str(qf.ret)))
    if qf.envid is not None:
        attrs.append(("dsn_envid", xtext_encode(qf.envid)))
    if qf.smtputf8:
        attrs.append(("smtputf8", "1"))
    if qf.body is not None:
        attrs.append(("encoding", str(qf.body)))
    out = [encode_record("T", repr(qf.arrival_time).encode())]
    out += [encode_record("A", f"{key}={value}".encode()) for key, value in attrs]
    out.append(encode_record("S", qf.sender.encode()))
    if qf.warning_time is not None:
        out.append(encode_record("W", repr(qf.warning_time).encode()))
    for rcpt in qf.recipients:
        if rcpt.dsn.orcpt is not None:
            out.append(encode_record("A", f"dsn_orig_rcpt={rcpt.dsn.orcpt_type};{rcpt.dsn.orcpt}".encode()))
        if rcpt.dsn.notify is not None:
            out.append(encode_record("A", ("dsn_notify=" + ",".join(rcpt.dsn.notify)).encode()))
        out.append(encode_record("O", (rcpt.original or rcpt.address).encode()))
        out.append(encode_record("D" if rcpt.done else "R", rcpt.address.encode()))
    return out


def encode_queue_file(qf: QueueFile) -> bytes:
    """Size record, envelope records, ``M``, content, ``X``, ``E``."""
    envelope = b"".join(_envelope_records(qf))
    content = b"".join(_content_records(qf.content))
    size_len = len(encode_record("C", b"0" * 95))
    data_offset = size_len + len(envelope)
    numbers = (qf.size, data_offset, len(qf.recipients), 0, qf.size, int(qf.smtputf8))
    size = encode_record("C", " ".join(f"{n:15d}" for n in numbers).encode())
    return size + envelope + encode_record("M", b"") + content + encode_record("X", b"") + encode_record("E", b"")


def _size_record(data: bytes, queue_id: str | None) -> list[int]:
    records = iter_records(data, queue_id)
    first = next(records, None)
    if first is None or first[0] != "C":
        raise CorruptQueueFile("no size record at the start", queue_id=queue_id, offset=0)
    try:
        numbers = [int(field) for field in first[1].split()]
    except ValueError:
        raise CorruptQueueFile("unreadable size record", queue_id=queue_id, offset=0) from None
    if len(numbers) != 6:
        raise CorruptQueueFile("size record has wrong field count", queue_id=queue_id, offset=0)
    return numbers


class _Reader:
    """Accumulates records into QueueFile fields (envelope segment, then content segment)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.times: dict[str, float] = {}
        self.attributes: list[tuple[str, str]] = []
        self.recipients: list[QueueRecipient] = []
        self.pending_dsn: dict[str, str] = {}
        self.original: str | None = None
        self.content = bytearray()
        self.segment = "envelope"

    def envelope(self, kind: str, text: str) -> None:
        if kind in ("T", "W"):
            self.times[kind] = float(text)
        elif kind == "S":
            self.values["sender"] = text
        elif kind == "A":
            key, sep, value = text.partition("=")
            if not sep:
                raise ValueError(f"attribute record without '=': {text!r}")
            self.attribute(key, value)
        elif kind == "O":
            self.original = text
        elif kind in ("R", "D"):
            self.recipient(text, done=kind == "D")
        else:
            raise ValueError(f"unexpected {kind!r} record in the envelope")

    def attribute(self, key: str, value: str) -> None:
        if key in ("dsn_orig_rcpt", "dsn_notify"):
            self.pending_dsn[key] = value
        elif key in ("log_ident", "dsn_ret", "dsn_envid", "smtputf8", "encoding"):
            self.values[key] = value
        else:
            self.attributes.append((key, value))

    def recipient(self, address: str, *, done: bool) -> None:
        orcpt_type, _, orcpt = self.pending_dsn.get("dsn_orig_rcpt", "").partition(";")
        notify = self.pending_dsn.get("dsn_notify")
        dsn = RcptDsn(
            tuple(Notify(word) for word in notify.split(",")) if notify else None,
            orcpt or None,
            orcpt_type or "rfc822",
        )
        original = self.original if self.original != address else None
        self.recipients.append(QueueRecipient(address, original, dsn, done))
        self.pending_dsn, self.original = {}, None

    def build(self, state: QueueState) -> QueueFile:
        values = self.values
        return QueueFile(
            queue_id=values.get("log_ident", ""),
            state=state,
            sender=values["sender"],
            recipients=tuple(self.recipients),
            content=bytes(self.content),
            arrival_time=self.times["T"],
            attributes=tuple(self.attributes),
            ret=Ret(values["dsn_ret"]) if "dsn_ret" in values else None,
            envid=xtext_decode(values["dsn_envid"]) if "dsn_envid" in values else None,
            smtputf8=values.get("smtputf8") == "1",
            body=Body(values["encoding"]) if "encoding" in values else None,
            warning_time=self.times.get("W"),
        )


def _feed(reader: _Reader, kind: str, data: bytes) -> bool:
    """Feed one record; True at the end record."""
    if reader.segment == "envelope":
        if kind == "M":
            reader.segment = "content"
        else:
            reader.envelope(kind, data.decode("utf-8", errors="surrogateescape"))
    elif reader.segment == "content":
        if kind == "X":
            reader.segment = "extracted"
        elif kind in "NL":
            reader.content += data + (b"\r\n" if kind == "N" else b"")
        else:
            raise ValueError(f"unexpected {kind!r} record in the message content")
    elif kind == "E":
        return True
    return False


def decode_queue_file(data: bytes, *, state: QueueState = QueueState.INCOMING) -> QueueFile:
    """Read a queue file back; CorruptQueueFile when it is cut short, garbled or inconsistent."""
    numbers = _size_record(data, None)
    reader = _Reader()
    ended_at: int | None = None
    for kind, body, offset in iter_records(data):
        if ended_at is not None:
            raise CorruptQueueFile("data after the end record", offset=offset)
        try:
            if kind != "C" and _feed(reader, kind, body):
                ended_at = offset
        except (ValueError, KeyError) as error:
            raise CorruptQueueFile(str(error), queue_id=reader.values.get("log_ident"), offset=offset) from None
    queue_id = reader.values.get("log_ident") or None
    if ended_at is None:
        raise CorruptQueueFile("no end record: the file was cut short", queue_id=queue_id)
    if len(reader.content) != numbers[0] or len(reader.recipients) != numbers[2]:
        raise CorruptQueueFile("content or recipient count disagrees with the size record", queue_id=queue_id)
    try:
        return reader.build(state)
    except (KeyError, ValueError) as error:
        raise CorruptQueueFile(f"missing or bad envelope field: {error}", queue_id=queue_id) from None
