"""``postcat``-style rendering of a queue file, in the layout of Postfix 3.7's ``postcat -q``.

Reads the stored records (:func:`mailsim.mail.queuefile.iter_records`) rather than the parsed
record, so what is shown is what is on "disk"; a file cut short is rendered up to the damage with
a closing ``*** ... CORRUPT ...`` marker instead of raising, because an administrator looks at
exactly those files. Times print like ``ctime(3)`` in the run's calendar (``epoch`` + virtual time).
Postfix parameter: ``hash_queue_names`` (default ``deferred, defer``) decides the hashed path.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mailsim.core.clock import DEFAULT_EPOCH
from mailsim.mail.queuefile import CorruptQueueFile, QueueFile, QueueState, iter_records
from mailsim.mail.queueid import hash_directory

HASHED_QUEUES = frozenset({QueueState.DEFERRED})
_LABELS = {
    "C": "message_size",
    "S": "sender",
    "O": "original_recipient",
    "R": "recipient",
    "D": "done_recipient",
    "A": "named_attribute",
}
_TIMES = {"T": "message_arrival_time", "W": "warning_message_time"}


def queue_path(queue_id: str, state: QueueState) -> str:
    """``deferred/8/8AE9820C3AB`` or ``active/8AE9820C3AB``: where Postfix keeps the file."""
    sub = hash_directory(queue_id) if state in HASHED_QUEUES else ""
    return f"{state}/{sub}{queue_id}"


def _ctime(epoch: datetime, virtual: str) -> str:
    return (epoch + timedelta(seconds=float(virtual))).ctime()


def _envelope_line(kind: str, text: str, epoch: datetime) -> list[str]:
    if kind in _TIMES:
        lines = [f"{_TIMES[kind]}: {_ctime(epoch, text)}"]
        return lines + ([f"create_time: {_ctime(epoch, text)}"] if kind == "T" else [])
    return [f"{_LABELS.get(kind, f'record type {kind!r}')}: {text}"]


def render_postcat(data: bytes | QueueFile, *, state: QueueState | None = None, epoch: datetime = DEFAULT_EPOCH) -> str:
    """The text ``postcat -q QUEUEID`` prints for this queue file."""
    if isinstance(data, QueueFile):
        state = state or data.state
        data = data.to_bytes()
    state = state or QueueState.INCOMING
    out: list[str] = []
    path = "?"
    pending = ""
    damage: CorruptQueueFile | None
    try:
        records = list(iter_records(data))
    except CorruptQueueFile as error:
        records, damage = _readable_prefix(data), error
    else:
        damage = None
    ident = next(
        (body[10:].decode() for kind, body, _ in records if kind == "A" and body.startswith(b"log_ident=")), ""
    )
    path = queue_path(ident or "unknown", state)
    out.append(f"*** ENVELOPE RECORDS {path} ***")
    for kind, body, _ in records:
        text = body.decode("utf-8", errors="replace")
        if kind == "M":
            out.append(f"*** MESSAGE CONTENTS {path} ***")
        elif kind == "X":
            out.append(f"*** HEADER EXTRACTED {path} ***")
        elif kind == "E":
            out.append(f"*** MESSAGE FILE END {path} ***")
        elif kind == "L":
            pending += text
        elif kind == "N":
            out.append(pending + text)
            pending = ""
        else:
            out.extend(_envelope_line(kind, text, epoch))
    if damage is not None:
        out.append(f"*** CORRUPT {path}: {damage.reason} ***")
    return "\n".join(out) + "\n"


def _readable_prefix(data: bytes) -> list[tuple[str, bytes, int]]:
    records: list[tuple[str, bytes, int]] = []
    try:
        for record in iter_records(data):
            records.append(record)
    except CorruptQueueFile:
        pass
    return records
