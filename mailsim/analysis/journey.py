"""Where a message's bytes are at each moment: UA, queue files, the wire, mailboxes, fetching clients.

Theory of operation. A message is found in the trace by its Message-ID and by the queue ids it got on each
host (``(host, queue_id)`` pairs); with ``follow_bounces`` the delivery status notification a bounce
created (``bounce notice`` → ``new_queue_id``) belongs to the journey too, so "where does the bounce go?"
has an answer. :func:`carrying_sessions` finds the SMTP sessions that carried it: a server side that
answered ``queued as Q`` for one of its queue ids, or a client side whose host logged a hop of the message
(``ua submit``, an ``smtp``/``lmtp`` ``delivery``) to that peer while the session was open.

:func:`byte_intervals` turns that into intervals, one kind per place:

- ``ua``: the composed message in the user agent, until the MSA accepted it;
- ``queue``: the queue file on a host, one place per queue (``queue`` moves with ``src``/``dst``);
- ``wire``: the message content in flight between two hosts (client writes DATA → server reads the ``.``);
- ``mailbox``/``file``/``command``: a final delivery (``delivery`` records of local, virtual, pipe, ...);
- ``fetched``: a copy read by an IMAP/POP3 client (``fetch``/``retr`` events of ``imap``/``pop3``; matched by
  Message-ID when the record has one, else by user and host after the delivery — an approximation).

Copies overlap on purpose: a queue file is removed only after the next hop said ``250``, so for a while the
bytes are in two places at once (store and forward). Intervals still open at the end of the run have
``open=True``. :func:`byte_locations` draws them as one bar row per place.

Postfix parameters read: none (a view over the trace).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mailsim.analysis.transcripts import (
    Frames,
    as_frames,
    queue_ids,
    session_sides,
    side_lines,
    split_endpoint,
)
from mailsim.engine.transcript import CLIENT, SERVER, TranscriptLine

FINAL_SERVICES = frozenset({"local", "virtual", "pipe", "lmtp", "discard", "error"})
HOP_SERVICES = frozenset({"ua", "smtp", "lmtp"})
ACCESS_SERVICES = frozenset({"imap", "pop3"})
FETCH_EVENTS = frozenset({"fetch", "retr"})
_IP_IN_BRACKETS = re.compile(r"\[([0-9A-Fa-f:.]+)\]")
_CONTENT = re.compile(r"^\[\d+ bytes of message content\]$")
INTERVAL_COLUMNS = ["place", "kind", "host", "start", "end", "open", "queue_id", "detail"]
KIND_COLOURS = {
    "ua": "#7f7f7f",
    "queue": "#1f77b4",
    "wire": "#ff7f0e",
    "mailbox": "#2ca02c",
    "file": "#17becf",
    "command": "#9467bd",
    "fetched": "#8c564b",
}


def record_fields(row: Any) -> dict[str, Any]:
    """The extra fields of a ``trace`` frame row (stored as JSON text)."""
    try:
        value = json.loads(row.fields) if isinstance(row.fields, str) else dict(row.fields or {})
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def message_keys(
    frames: Frames, message_id: str, *, follow_bounces: bool = True
) -> tuple[set[str], set[tuple[str, str]]]:
    """The Message-IDs and ``(host, queue_id)`` pairs of one message (and of its bounces when followed)."""
    trace = frames["trace"]
    pairs = list(zip(trace.host, trace.queue_id))
    mids: set[str] = {message_id}
    qids: set[tuple[str, str]] = set()
    for _ in range(8):  # a bounce of a bounce is as deep as Postfix goes; stops at a fixed point
        mine = trace.message_id.isin(mids) | pd.Series([p in qids for p in pairs], index=trace.index, dtype=bool)
        rows = trace[mine]
        new_q = {(h, q) for h, q in zip(rows.host, rows.queue_id) if isinstance(q, str) and q}
        if follow_bounces:
            notices = rows[(rows.service == "bounce") & (rows.event == "notice")]
            new_q |= {(r.host, str(record_fields(r)["new_queue_id"])) for r in notices.itertuples()
                      if record_fields(r).get("new_queue_id")}  # fmt: skip
        new_m = {m for p, m in zip(pairs, trace.message_id) if p in new_q and isinstance(m, str) and m}
        if new_q <= qids and new_m <= mids:
            break
        qids |= new_q
        mids |= new_m if follow_bounces else set()
    return mids, qids


def message_records(frames: Frames, message_id: str, *, follow_bounces: bool = True) -> pd.DataFrame:
    """The trace rows of a message (by Message-ID or by one of its queue ids), time-ordered."""
    trace = frames["trace"]
    mids, qids = message_keys(frames, message_id, follow_bounces=follow_bounces)
    by_qid = pd.Series([(h, q) in qids for h, q in zip(trace.host, trace.queue_id)], index=trace.index, dtype=bool)
    rows = trace[trace.message_id.isin(mids) | by_qid]
    return rows.sort_values("time", kind="stable")


def hop_address(fields: dict[str, Any]) -> str | None:
    """The peer IP a hop record names: ``server`` (ua submit) or ``relay`` (``host[ip]:port``)."""
    if fields.get("server"):
        return str(fields["server"])
    match = _IP_IN_BRACKETS.search(str(fields.get("relay") or ""))
    return match.group(1) if match else None


def carrying_sessions(frames_or_result: Any, message_id: str, *, follow_bounces: bool = True) -> pd.DataFrame:
    """The recorded session sides that carried (or tried to carry) the message, with their ``key``."""
    frames = as_frames(frames_or_result)
    sides = session_sides(frames)
    if sides.empty:
        return sides
    _, qids = message_keys(frames, message_id, follow_bounces=follow_bounces)
    keys = set()
    for _, side in sides.iterrows():
        if side.side == "server" and any((side.host, q) in qids for q in queue_ids(side_lines(frames, side))):
            keys.add(side.key)
    records = message_records(frames, message_id, follow_bounces=follow_bounces)
    hops = records[records.service.isin(HOP_SERVICES) & records.event.isin(["submit", "delivery"])]
    for hop in hops.itertuples():
        peer = hop_address(record_fields(hop))
        clients = sides[(sides.side == "client") & (sides.host == hop.host)]
        clients = clients[(clients.start <= hop.time) & (hop.time <= clients.end + 1e-6)]
        clients = clients[[split_endpoint(p)[0] == peer for p in clients.peer]] if peer else clients
        if not clients.empty:
            keys.add(clients.iloc[(clients.end - hop.time).abs().argmin()].key)
    return sides[sides.key.isin(keys)].sort_values("start", kind="stable")


def _content_index(lines: list[TranscriptLine], qids: set[tuple[str, str]], host: str) -> int | None:
    """Index of the content line this message travelled in: the one before its ``queued as``, else the last."""
    last = None
    for i, line in enumerate(lines):
        if line.direction == CLIENT and _CONTENT.match(line.text):
            last = i
        if line.direction == SERVER and last is not None and any((host, q) in qids for q in queue_ids([line])):
            return last
    return last


def _nth_content(lines: list[TranscriptLine], n: int) -> int | None:
    found = [i for i, ln in enumerate(lines) if ln.direction == CLIENT and _CONTENT.match(ln.text)]
    return found[n] if n < len(found) else None


def _wire(frames: Frames, sides: pd.DataFrame, key: str, qids: set[tuple[str, str]]) -> dict[str, Any] | None:
    """The wire interval of one carrying session: client writes the content → server has read the ``.``."""
    pair = sides[sides.key == key]
    server = pair[pair.side == "server"]
    client = pair[pair.side == "client"]
    s_lines = side_lines(frames, server.iloc[0]) if not server.empty else []
    c_lines = side_lines(frames, client.iloc[0]) if not client.empty else []
    s_at = _content_index(s_lines, qids, server.iloc[0].host) if s_lines else None
    ordinal = sum(1 for ln in s_lines[:s_at] if _CONTENT.match(ln.text)) if s_at is not None else -1
    c_at = _nth_content(c_lines, ordinal) if ordinal >= 0 else _content_index(c_lines, qids, "")
    if s_at is not None:
        end = s_lines[s_at].time
        before = (ln.time for ln in reversed(s_lines[:s_at]) if ln.text.startswith("354"))
        start = c_lines[c_at].time if c_at is not None else next(before, end)
    elif c_at is not None:
        start = c_lines[c_at].time
        end = next((ln.time for ln in c_lines[c_at:] if ln.direction == SERVER), start)
    else:
        return None
    a = client.iloc[0].host if not client.empty else server.iloc[0].peer
    b = server.iloc[0].host if not server.empty else client.iloc[0].peer
    return _interval(f"wire {a} → {b}", "wire", a, start, end, detail=key)


def _interval(place: str, kind: str, host: str, start: float, end: float, *, open_: bool = False,
              queue_id: str | None = None, detail: str = "") -> dict[str, Any]:  # fmt: skip
    return {"place": place, "kind": kind, "host": host, "start": start, "end": max(start, end), "open": open_,
            "queue_id": queue_id, "detail": detail}  # fmt: skip


def _queue_intervals(records: pd.DataFrame, until: float) -> Iterable[dict[str, Any]]:
    """One interval per stay of a queue file in one queue, from the ``queue`` moves."""
    moves = records[records.event == "queue"]
    for (host, qid), rows in moves.groupby(["host", "queue_id"], sort=False):
        current: tuple[str, float] | None = None
        for row in rows.itertuples():
            fields = record_fields(row)
            if current is not None:
                yield _interval(f"{host}: {current[0]} queue, file {qid}", "queue", host, current[1], row.time,
                                queue_id=qid)  # fmt: skip
            dst = fields.get("dst")
            current = (dst, row.time) if dst else None
        if current is not None:
            yield _interval(f"{host}: {current[0]} queue, file {qid}", "queue", host, current[1], until, open_=True,
                            queue_id=qid)  # fmt: skip


def _store_interval(row: Any, until: float) -> dict[str, Any] | None:
    """A final delivery as a place: mailbox/Maildir (stays), file (stays), command (consumed at once)."""
    fields = record_fields(row)
    if fields.get("status") != "sent" or row.service not in FINAL_SERVICES or row.service == "discard":
        return None
    text, to = str(fields.get("text") or ""), fields.get("to")
    if text == "discarded":
        return None
    if text.startswith("delivered to command:"):
        return _interval(f"{row.host}: command{text[len('delivered to command') :]}", "command", row.host,
                         row.time, row.time, queue_id=row.queue_id, detail=text)  # fmt: skip
    if text.startswith("delivered to file:"):
        return _interval(f"{row.host}: file{text[len('delivered to file') :]}", "file", row.host, row.time, until,
                         open_=True, queue_id=row.queue_id, detail=text)  # fmt: skip
    store = "Maildir" if "maildir" in text else "mailbox"
    return _interval(f"{row.host}: {store} of {to}", "mailbox", row.host, row.time, until, open_=True,
                     queue_id=row.queue_id, detail=f"{row.service}: {text}")  # fmt: skip


def _fetch_intervals(frames: Frames, mids: set[str], delivered: list[tuple[str, str, float]],
                     until: float) -> list[dict[str, Any]]:  # fmt: skip
    """Copies read over IMAP/POP3: the reading user agent's own records (exact, by Message-ID), else the
    access agents' records matched by Message-ID when recorded, else by user and host after a delivery."""
    trace = frames["trace"]
    exact = _ua_fetches(trace, mids, until)
    if exact:
        return exact
    out: list[dict[str, Any]] = []
    client: dict[tuple[str, str], str] = {}
    for row in trace[trace.service.isin(ACCESS_SERVICES)].itertuples():
        fields = record_fields(row)
        if row.event == "connect":
            client[(row.host, row.service)] = str(fields.get("client") or "?")
        if row.event not in FETCH_EVENTS:
            continue
        user = str(fields.get("user") or "")
        if isinstance(row.message_id, str) and row.message_id:
            mine = row.message_id in mids
        else:
            mine = any(h == row.host and t <= row.time and user in (to, to.split("@")[0]) for h, to, t in delivered)
        if mine and user:
            who = client.get((row.host, row.service), "?")
            out.append(_interval(f"fetched by {who} ({row.service})", "fetched", row.host, row.time, until,
                                 open_=True, detail=f"{row.service} {row.event} by {user}"))  # fmt: skip
    return out


def _ua_fetches(trace: pd.DataFrame, mids: set[str], until: float) -> list[dict[str, Any]]:
    """``ua``/``fetch`` records of a reading user agent name the message they fetched."""
    rows = trace[(trace.service == "ua") & (trace.event == "fetch") & trace.message_id.isin(list(mids))]
    out = []
    for row in rows.itertuples():
        protocol = str(record_fields(row).get("protocol") or "imap")
        out.append(_interval(f"fetched by {row.host} ({protocol})", "fetched", row.host, row.time, until,
                             open_=True, detail=f"{protocol} fetch by {row.host}"))  # fmt: skip
    return out


def _ua_interval(frames: Frames, records: pd.DataFrame, sides: pd.DataFrame) -> dict[str, Any] | None:
    """The composed message in the user agent: from its submission session's start to the MSA's answer."""
    ua = sides[(sides.side == "client") & (sides.service == "ua")] if not sides.empty else sides
    if not ua.empty:
        first = ua.iloc[0]
        replies = [ln.time for ln in side_lines(frames, first) if ln.direction == SERVER and queue_ids([ln])]
        end = replies[0] if replies else float(first.end)
        return _interval(f"{first.host}: user agent", "ua", first.host, float(first.start), end, detail="composed")
    submits = records[(records.service == "ua") & (records.event == "submit")]
    if submits.empty:
        return None
    first = submits.iloc[0]
    return _interval(f"{first.host}: user agent", "ua", first.host, float(first.time), float(first.time),
                     detail="composed")  # fmt: skip


def byte_intervals(frames_or_result: Any, message_id: str, *, follow_bounces: bool = True,
                   until: float | None = None) -> pd.DataFrame:  # fmt: skip
    """Every place the message's bytes were, with when: columns place, kind, host, start, end, open,
    queue_id, detail (kinds in the module docstring); ``until`` defaults to the last trace record's time."""
    frames = as_frames(frames_or_result)
    trace = frames["trace"]
    end = float(until if until is not None else (trace.time.max() if not trace.empty else 0.0))
    records = message_records(frames, message_id, follow_bounces=follow_bounces)
    mids, qids = message_keys(frames, message_id, follow_bounces=follow_bounces)
    carrying = carrying_sessions(frames, message_id, follow_bounces=follow_bounces)
    wires = [w for key in dict.fromkeys(carrying.get("key", ())) if (w := _wire(frames, carrying, key, qids))]
    finals = records[records.event == "delivery"]
    stores = [s for row in finals.itertuples() if (s := _store_interval(row, end))]
    delivered = [(r.host, str(record_fields(r).get("to") or ""), r.time) for r in finals.itertuples()]
    rows = [*_queue_intervals(records, end), *wires, *stores, *_fetch_intervals(frames, mids, delivered, end)]
    ua = _ua_interval(frames, records, carrying)
    frame = pd.DataFrame(([ua] if ua else []) + rows, columns=INTERVAL_COLUMNS)
    bounces = _bounce_qids(records, message_id)
    mark = [(h, q) in bounces for h, q in zip(frame.host, frame.queue_id)]
    frame.loc[mark, "place"] = frame.place[mark] + " (bounce)"
    return frame.sort_values(["start", "end"], kind="stable").reset_index(drop=True)


def _bounce_qids(records: pd.DataFrame, message_id: str) -> set[tuple[str, str]]:
    """Queue files that hold a delivery status notification about the message rather than the message."""
    others = records[records.message_id.notna() & (records.message_id != message_id)]
    return {(h, q) for h, q in zip(others.host, others.queue_id) if isinstance(q, str)}


def _view(intervals: pd.DataFrame) -> tuple[float, float]:
    """The time window worth showing: every start and every closed end, plus a margin."""
    times = [*intervals.start, *intervals.end[~intervals.open.astype(bool)]]
    low, high = min(times), max(times)
    span = max(high - low, 1e-3)
    return low - 0.04 * span, high + 0.18 * span


def duration_text(seconds: float) -> str:
    """A short human duration: ``40 ms``, ``1.2 s``, ``5 min``, ``2.0 h``, ``3.0 d``."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds * 1000:.3g} ms"


def _bar(ax: Any, y: int, row: Any, high: float, min_width: float) -> None:
    stop = high if row.open else row.end
    bar = ax.barh(y, max(stop - row.start, min_width), left=row.start, height=0.6,
                  color=KIND_COLOURS.get(row.kind, "grey"), edgecolor="black", linewidth=0.5)  # fmt: skip
    bar.patches[0].set_gid("bar")
    if row.open:
        ax.text(high, y, "still there ▶ ", va="center", ha="right", fontsize=8, color="white", gid="open")
    elif row.end > row.start:
        ax.text(max(row.end, row.start + min_width), y, " " + duration_text(row.end - row.start), va="center",
                ha="left", fontsize=8, color="#333333", gid="duration")  # fmt: skip


def byte_locations(frames_or_result: Any, message_id: str, *, follow_bounces: bool = True,
                   until: float | None = None, title: str | None = None) -> Figure:  # fmt: skip
    """One bar row per place the message's bytes occupied (queue files, wire, mailbox, ...) over time."""
    intervals = byte_intervals(frames_or_result, message_id, follow_bounces=follow_bounces, until=until)
    places = list(dict.fromkeys(intervals.place))
    fig = Figure(figsize=(10, 1.6 + 0.42 * max(len(places), 2)), layout="constrained")
    ax = fig.add_subplot()
    fig.suptitle(title or f"Where the bytes of <{_short(message_id, 60)}> are", fontsize=12)
    if intervals.empty:
        ax.text(0.5, 0.5, "no trace of this message", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    low, high = _view(intervals)
    for row in intervals.itertuples():
        _bar(ax, places.index(row.place), row, high, (high - low) * 0.004)
    ax.set_yticks(range(len(places)), [_short(p, 60) for p in places], fontsize=9)
    ax.set_ylim(len(places) - 0.4, -0.6)
    ax.set_xlim(low, high)
    ax.set_xlabel(f"virtual time (s); ▶ = still there when the run ended (t={intervals.end.max():g} s)")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    kinds = list(dict.fromkeys(intervals.kind))
    handles = [Patch(facecolor=KIND_COLOURS.get(k, "grey"), edgecolor="black", label=k) for k in kinds]
    fig.legend(handles=handles, loc="outside lower center", fontsize=9, ncols=len(kinds), frameon=False)
    return fig


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
