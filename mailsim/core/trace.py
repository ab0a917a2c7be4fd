"""The one observation channel: every event in a run is a :class:`TraceRecord`.

DataFrames, the maillog, qshape, plots and transcripts are all views built from these records
(DESIGN.md §5). A trace keeps its records in memory by default; large capacity runs pass
``keep=False`` and attach sinks that aggregate as records arrive, so memory follows messages in
flight rather than messages simulated.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Sink = Callable[["TraceRecord"], None]


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One event: when, where (host and service, named as in master.cf), what, and about which message."""

    time: float
    host: str
    service: str
    event: str
    queue_id: str | None = None
    message_id: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        row = {
            "time": self.time,
            "host": self.host,
            "service": self.service,
            "event": self.event,
            "queue_id": self.queue_id,
            "message_id": self.message_id,
        }
        row.update(self.fields)
        return row


def _canonical(record: TraceRecord) -> bytes:
    """The record's values as bytes that are the same in every process: exact floats, cheap to make.

    marshal format 2 has no back-references and no interning marks, so its bytes depend on the values
    alone; a value it does not know (a frozen record, an enum) makes the whole record go by its ``repr``.
    Field values are plain data (str, int, float, bool, None, tuples/lists/dicts of them, frozen records);
    a ``set`` would make the digest depend on PYTHONHASHSEED, so none is ever put in a trace.
    """
    values: Any = (
        record.time,
        record.host,
        record.service,
        record.event,
        record.queue_id,
        record.message_id,
        record.fields,
    )
    try:
        return marshal.dumps(values, 2)
    except ValueError:
        return repr(values).encode()


class Trace:
    """An append-only sequence of records with subscribers and a digest for determinism checks."""

    def __init__(self, clock: Callable[[], float], *, keep: bool = True) -> None:
        self._clock = clock
        self.keep = keep
        self.records: list[TraceRecord] = []
        self._sinks: list[Sink] = []
        self._hash = hashlib.sha256()
        self.count = 0

    def subscribe(self, sink: Sink) -> None:
        """Call ``sink`` with every record from now on (maillog writers, live printers, aggregators)."""
        self._sinks.append(sink)

    def emit(
        self,
        host: str,
        service: str,
        event: str,
        *,
        queue_id: str | None = None,
        message_id: str | None = None,
        **fields: Any,
    ) -> TraceRecord:
        record = TraceRecord(self._clock(), host, service, event, queue_id, message_id, fields)
        self.append(record)
        return record

    def append(self, record: TraceRecord) -> None:
        self.count += 1
        self._hash.update(_canonical(record))
        if self.keep:
            self.records.append(record)
        for sink in self._sinks:
            sink(record)

    def digest(self) -> str:
        """SHA-256 over every record so far: equal digests mean identical traces."""
        return self._hash.hexdigest()

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def select(
        self,
        event: str | Iterable[str] | None = None,
        *,
        host: str | None = None,
        service: str | None = None,
        queue_id: str | None = None,
    ) -> list[TraceRecord]:
        """Records matching every given criterion (``event`` may be one name or several)."""
        events = {event} if isinstance(event, str) else (set(event) if event is not None else None)
        return [
            r
            for r in self.records
            if (events is None or r.event in events)
            and (host is None or r.host == host)
            and (service is None or r.service == service)
            and (queue_id is None or r.queue_id == queue_id)
        ]
