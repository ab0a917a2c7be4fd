"""The trace as pandas DataFrames: one documented view per question a user asks.

Every frame is computed from trace records only (DESIGN.md §5). Columns:

- ``trace``: time, host, service, event, queue_id, message_id, fields (JSON of the rest).
- ``messages``: one row per message and final recipient: message_id, sender, recipient, orig_recipient,
  status (sent | bounced | expired), dsn, text, submitted, finished, latency (s), final_host,
  final_service, hops (hosts that queued it). A recipient still queued when the run ends has no row yet:
  the ``queues`` frame, ``mailq`` and ``qshape`` show it.
- ``deliveries``: every delivery attempt at every hop: time, host, service (transport), queue_id,
  message_id, to, orig_to, relay, status, dsn, delay, delays_a/b/c/d (Postfix's delays=a/b/c/d), text.
- ``sessions``: one row per SMTP session side: session, host, service, side (server | client), local,
  peer, start, end, duration, lines, bytes, first_reply, last_reply.
- ``transcripts``: one row per transcript line: session, host, service, side, time, direction (C | S),
  text, size.
- ``queues``: queue depth over time: time, host, queue, depth (after each move into or out of it).
- ``dns``: time, host, qname, qtype, status, from_cache, latency, fault.
- ``net``: time, host, event (connect, accept, refused, timeout, close, reset) and the connection fields.
- ``utilisation``: one row per ``resource`` ``sample`` record (hosts with ``hardware``, see
  :mod:`mailsim.mta.hardware`): time (end of the interval), host, resource (cpu, disk, smtpd:SERVICE,
  a transport), capacity, interval, busy (server-seconds), utilisation (busy / capacity / interval),
  jobs, wait (mean queue wait of the jobs charged in the interval, s).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from mailsim.core.trace import TraceRecord

FINAL_SERVICES = frozenset({"local", "virtual", "pipe", "lmtp", "discard", "error"})
FRAME_NAMES = ("trace", "messages", "deliveries", "sessions", "transcripts", "queues", "dns", "net", "utilisation")
UTILISATION_COLUMNS = ["time", "host", "resource", "capacity", "interval", "busy", "utilisation", "jobs", "wait"]


def trace_frame(records: Iterable[TraceRecord]) -> pd.DataFrame:
    rows = [
        {
            "time": r.time,
            "host": r.host,
            "service": r.service,
            "event": r.event,
            "queue_id": r.queue_id,
            "message_id": r.message_id,
            "fields": json.dumps(dict(r.fields), default=str, sort_keys=True),
        }
        for r in records
    ]
    return pd.DataFrame(rows, columns=["time", "host", "service", "event", "queue_id", "message_id", "fields"])


DELIVERY_COLUMNS = [
    "time",
    "host",
    "service",
    "queue_id",
    "message_id",
    "to",
    "orig_to",
    "relay",
    "status",
    "dsn",
    "delay",
    "delays_a",
    "delays_b",
    "delays_c",
    "delays_d",
    "text",
]


def delivery_row(r: TraceRecord) -> list[Any] | None:
    """The ``deliveries`` row of one record (None unless it is a delivery attempt)."""
    if r.event != "delivery":
        return None
    delays = tuple(r.get("delays") or (0.0, 0.0, 0.0, 0.0))
    return [
        r.time, r.host, r.service, r.queue_id, r.message_id, r.get("to"), r.get("orig_to"), r.get("relay"),
        r.get("status"), r.get("dsn"), r.get("delay"), *delays[:4], r.get("text"),
    ]  # fmt: skip


def deliveries_frame(records: Iterable[TraceRecord]) -> pd.DataFrame:
    rows = [row for r in records if (row := delivery_row(r)) is not None]
    return pd.DataFrame(rows, columns=DELIVERY_COLUMNS)


MESSAGE_COLUMNS = [
    "message_id",
    "sender",
    "recipient",
    "orig_recipient",
    "status",
    "dsn",
    "text",
    "submitted",
    "finished",
    "latency",
    "final_host",
    "final_service",
    "hops",
]


class MessageJoin:
    """The ``messages`` join one record at a time: a final delivery gives a row (streamed runs feed it live).

    What it remembers per Message-ID (submission time, sender, hosts that queued it) is what a later final
    delivery of another recipient needs.
    """

    def __init__(self) -> None:
        self.submitted: dict[str, float] = {}
        self.senders: dict[str, str] = {}
        self.hosts: dict[str, set[str]] = defaultdict(set)

    def feed(self, r: TraceRecord) -> list[Any] | None:
        mid = r.message_id
        if mid is None:
            return None
        if r.service in ("ua", "pickup", "workload") and r.event in ("submit", "pickup"):
            self.submitted.setdefault(mid, r.time)
            self.senders.setdefault(mid, str(r.get("sender", "")))
        if r.service == "qmgr" and r.event == "active":
            self.hosts[mid].add(r.host)
            self.senders.setdefault(mid, str(r.get("sender", "")))
            self.submitted.setdefault(mid, r.time - float(r.get("age", 0.0)))
        final = r.event == "delivery" and (
            (r.service in FINAL_SERVICES and r.get("status") == "sent") or r.get("status") in ("bounced", "expired")
        )
        if not final:
            return None
        start = self.submitted.get(mid, r.time)
        return [
            mid, self.senders.get(mid, ""), r.get("to"), r.get("orig_to") or r.get("to"), r.get("status"),
            r.get("dsn"), r.get("text"), start, r.time, r.time - start, r.host, r.service, len(self.hosts[mid]),
        ]  # fmt: skip


def messages_frame(records: Sequence[TraceRecord]) -> pd.DataFrame:
    """End-to-end outcome per message and final recipient, joined on the Message-ID across hosts."""
    join = MessageJoin()
    rows = [row for r in records if (row := join.feed(r)) is not None]
    return pd.DataFrame(rows, columns=MESSAGE_COLUMNS)


def sessions_frames(records: Iterable[TraceRecord]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(sessions, transcripts) from the engine's per-session transcript records."""
    sessions, lines = [], []
    for r in records:
        if r.event != "transcript":
            continue
        got = list(r.get("lines") or ())
        side = r.get("side")
        replies = [ln.text for ln in got if ln.direction == "S"]
        sessions.append(
            {
                "session": r.get("session"),
                "host": r.host,
                "service": r.service,
                "side": side,
                "local": r.get("local"),
                "peer": r.get("peer"),
                "start": got[0].time if got else r.time,
                "end": r.time,
                "duration": r.time - (got[0].time if got else r.time),
                "lines": len(got),
                "bytes": sum(ln.size for ln in got),
                "first_reply": replies[0] if replies else None,
                "last_reply": replies[-1] if replies else None,
            }
        )
        for ln in got:
            lines.append([r.get("session"), r.host, r.service, side, ln.time, ln.direction, ln.text, ln.size])
    columns = [
        "session",
        "host",
        "service",
        "side",
        "local",
        "peer",
        "start",
        "end",
        "duration",
        "lines",
        "bytes",
        "first_reply",
        "last_reply",
    ]
    return (
        pd.DataFrame(sessions, columns=columns),
        pd.DataFrame(lines, columns=["session", "host", "service", "side", "time", "direction", "text", "size"]),
    )


class QueueDepths:
    """Queue depths one record at a time: each ``queue`` move gives a row per queue it leaves or enters."""

    def __init__(self) -> None:
        self.depth: dict[tuple[str, str], int] = defaultdict(int)

    def feed(self, r: TraceRecord) -> list[list[Any]]:
        if r.event != "queue":
            return []
        rows = []
        for queue, step in ((r.get("src"), -1), (r.get("dst"), +1)):
            if queue:
                key = (r.host, queue)
                self.depth[key] += step
                rows.append([r.time, r.host, queue, self.depth[key]])
        return rows


QUEUE_COLUMNS = ["time", "host", "queue", "depth"]


def queues_frame(records: Iterable[TraceRecord]) -> pd.DataFrame:
    """Depth of each queue of each host after every move (``queue`` events with ``src``/``dst``)."""
    depths = QueueDepths()
    rows = [row for r in records for row in depths.feed(r)]
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS)


def _simple(records: Iterable[TraceRecord], service: str, columns: list[str]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for r in records:
        if r.service == service:
            row = {"time": r.time, "host": r.host, "event": r.event}
            row.update({c: r.get(c) for c in columns})
            rows.append(row)
    return pd.DataFrame(rows, columns=["time", "host", "event", *columns])


def dns_frame(records: Iterable[TraceRecord]) -> pd.DataFrame:
    return _simple(records, "dns", ["qname", "qtype", "status", "from_cache", "latency", "fault"])


def net_frame(records: Iterable[TraceRecord]) -> pd.DataFrame:
    return _simple(records, "net", ["conn", "local", "local_port", "peer", "peer_port", "sent", "received", "reason"])


def utilisation_row(r: TraceRecord) -> list[Any] | None:
    """The ``utilisation`` row of a hardware ``sample`` record (None for any other record)."""
    if r.event != "sample" or r.service != "resource":
        return None
    capacity, interval, busy, jobs = r.get("capacity"), r.get("interval"), r.get("busy"), r.get("jobs")
    share = busy / (capacity * interval) if capacity and interval else float("nan")
    wait = r.get("wait") / jobs if jobs else 0.0
    return [r.time, r.host, r.get("resource"), capacity, interval, busy, share, jobs, wait]


def utilisation_frame(records: Iterable[TraceRecord]) -> pd.DataFrame:
    """Utilisation of each host resource over time, from the hardware's samples."""
    rows = [row for r in records if (row := utilisation_row(r)) is not None]
    return pd.DataFrame(rows, columns=UTILISATION_COLUMNS)


def all_frames(records: Sequence[TraceRecord]) -> dict[str, pd.DataFrame]:
    """Every frame by name (see the module docstring for columns)."""
    sessions, transcripts = sessions_frames(records)
    return {
        "trace": trace_frame(records),
        "messages": messages_frame(records),
        "deliveries": deliveries_frame(records),
        "sessions": sessions,
        "transcripts": transcripts,
        "queues": queues_frame(records),
        "dns": dns_frame(records),
        "net": net_frame(records),
        "utilisation": utilisation_frame(records),
    }
