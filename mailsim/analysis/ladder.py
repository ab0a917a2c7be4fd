"""Sequence (ladder) diagrams: one SMTP session line by line, and one message's whole journey across hosts.

Theory of operation. :func:`session_ladder` draws the client and the server as two lifelines with time
running down. When both sides of the connection were recorded, the k-th client line written by the client
is the k-th client line read by the server (and likewise for replies), so each arrow starts at the sender's
clock reading and ends at the receiver's: arrows slope by the one-way delay and gaps on a lifeline are
processing time (cleanup writing the queue file before ``250 ... queued as``). Lines one end wrote at the
same moment and the other read at the same moment (a multi-line EHLO reply, pipelined commands, the message
content and its ``.``) share one arrow. With only one side recorded, arrows are drawn one per row, in order,
with that side's times on the axis.

:func:`message_ladder` has one lifeline per host the message touched (the UA's host, the MSA, relays, the
MX, hosts its bounce reached), one row per event in time order: an arrow per SMTP session that carried it
(labelled ``submission 587: 250 2.0.0 Ok: queued as X``), and markers for queue moves, final deliveries,
bounces and deferrals. Hops the trace logged without a recorded transcript (``fidelity = "fast"``) are
drawn from the hop records. Texts are shortened with an ellipsis and wrapped so up to ~30 rows stay legible.

Artists carry a ``gid`` (``lifeline``, ``arrow``, ``label``, ``host``, ``marker``) so tests and notebooks can
find them. Postfix parameters read: none (a view over the trace).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from mailsim.analysis.journey import (
    HOP_SERVICES,
    carrying_sessions,
    hop_address,
    message_records,
    record_fields,
)
from mailsim.analysis.transcripts import (
    Arrow,
    Frames,
    address_book,
    as_frames,
    describe_session,
    paired_arrows,
    pick_side,
    reply_class,
    session_sides,
    side_lines,
    single_arrows,
    split_endpoint,
)
from mailsim.engine.transcript import CLIENT

CLASS_COLOURS = {
    "success": "#2a7a2a",
    "intermediate": "#555555",
    "transient": "#d27b00",
    "permanent": "#c0392b",
    None: "#555555",
}
COMMAND_COLOUR = "#1f4e99"
FONT = 8.5
LINE_INCHES = 0.16  # height of one label line at FONT points, with leading
WIDTH = 58  # characters per label line
TOP = 0.25  # inches between the host boxes and the first arrow
MAX_INCHES = 26.0  # the tallest session ladder; beyond it labels are pushed off their arrows


def shorten(text: str, width: int = WIDTH) -> str:
    """Cut a long text with an ellipsis so labels never run into each other."""
    return text if len(text) <= width else text[: width - 1] + "…"


def arrow_label(texts: Sequence[str], width: int = WIDTH) -> str:
    """One label for an arrow: a multi-line reply as its first line plus its keywords, one long line wrapped
    in two, else up to 3 lines each cut with an ellipsis."""
    if len(texts) > 1 and texts[0][3:4] == "-":
        rest = " · ".join(t[4:] for t in texts[1:])
        return "\n".join([shorten(texts[0], width), *textwrap.wrap(rest, width)[:2]])
    if len(texts) == 1:
        return "\n".join(textwrap.wrap(texts[0], width, max_lines=2, placeholder=" …") or [""])
    shown = [shorten(t, width) for t in texts[:3]]
    if len(texts) > 3:
        shown.append(f"… (+{len(texts) - 3} more lines)")
    return "\n".join(shown)


def _colour(arrow: Arrow) -> str:
    return COMMAND_COLOUR if arrow.direction == CLIENT else CLASS_COLOURS[reply_class(arrow.texts[-1])]


def _spread(wanted: list[float], heights: list[float], gap: float) -> list[float]:
    """Label centres as near ``wanted`` as possible without overlapping (pushed downwards, time order)."""
    placed: list[float] = []
    for y, h in zip(wanted, heights):
        if placed:
            y = max(y, placed[-1] + (heights[len(placed) - 1] + h) / 2 + gap)
        placed.append(y)
    return placed


Layout = tuple[list[tuple[float, float]], list[float], float, float]


def _layout(arrows: list[Arrow], paired: bool) -> Layout:
    """Arrow ends and label centres in inches from the top, the total height, and inches per second."""
    heights = [LINE_INCHES * (arrow_label(a.texts).count("\n") + 1) for a in arrows]
    if not paired:
        ends, y = [], TOP
        for h in heights:
            y += h + 0.12
            ends.append((y, y))
        return ends, [e[0] - 0.06 - h / 2 for e, h in zip(ends, heights)], y + 0.3, 0.0
    start = min(a.sent for a in arrows)
    span = max(max(a.received for a in arrows) - start, 1e-9)
    mids = [(a.sent + a.received) / 2 for a in arrows]
    needs = sorted(
        (heights[i] + heights[i + 1]) / 2 / (mids[i + 1] - mids[i])
        for i in range(len(arrows) - 1)
        if mids[i + 1] > mids[i]
    )
    scale = needs[int(0.9 * (len(needs) - 1))] * 1.15 if needs else 0.0
    scale = min(max(scale, 4.0 / span), MAX_INCHES / span)  # inches per second
    ends = [(TOP + (a.sent - start) * scale, TOP + (a.received - start) * scale) for a in arrows]
    labels = _spread([(s + r) / 2 for s, r in ends], heights, 0.02)
    depth = max(max(r for _, r in ends), labels[-1] + heights[-1] / 2) + 0.3
    return ends, labels, depth, scale


def _lifelines(ax: Any, names: Sequence[str], xs: Sequence[float], depth: float) -> None:
    for name, x in zip(names, xs):
        ax.plot([x, x], [0, depth], color="#444444", linewidth=1.2, gid="lifeline")
        ax.text(x, -0.08, name, ha="center", va="bottom", fontsize=10, fontweight="bold", gid="host",
                bbox={"boxstyle": "round,pad=0.35", "facecolor": "#eef2f8", "edgecolor": "#444444"})  # fmt: skip


def _draw_arrow(ax: Any, x0: float, y0: float, x1: float, y1: float, colour: str) -> None:
    patch = FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, color=colour,
                            linewidth=1.2, shrinkA=0, shrinkB=0, gid="arrow")  # fmt: skip
    ax.add_patch(patch)


def _label(ax: Any, x: float, y: float, text: str, colour: str, **kwargs: Any) -> None:
    ax.text(x, y, text, ha=kwargs.pop("ha", "center"), va=kwargs.pop("va", "center"), fontsize=FONT,
            color=colour, family="monospace", gid=kwargs.pop("gid", "label"), **kwargs)  # fmt: skip


def _tls_notes(ax: Any, arrows: list[Arrow], ends: list[tuple[float, float]]) -> None:
    """Name the silent gap after ``220 Ready to start TLS``: the handshake, after which the wire is encrypted."""
    for k in range(len(arrows) - 1):
        last = arrows[k].texts[-1]
        gap = ends[k + 1][0] - ends[k][1]
        if last.startswith("220") and "TLS" in last and gap >= 2 * LINE_INCHES:
            ax.text(0.5, ends[k][1] + gap / 2, "TLS handshake — the dialogue below is encrypted on the wire",
                    ha="center", va="center", fontsize=FONT, style="italic", color="#666666", gid="note")  # fmt: skip


def _session_title(frames: Frames, chosen: pd.Series) -> tuple[str, str, str]:
    """(title, client name, server name) of the chosen side's connection."""
    book = address_book(frames)
    client_ep = chosen.local if chosen.side == "client" else chosen.peer
    server_ep = chosen.peer if chosen.side == "client" else chosen.local
    client = chosen.host if chosen.side == "client" else book.get(split_endpoint(client_ep)[0], "client")
    server = chosen.host if chosen.side == "server" else book.get(split_endpoint(server_ep)[0], "server")
    title = f"{chosen.key}: {client} → {server} port {split_endpoint(server_ep)[1]}"
    return title, f"{client}\n{client_ep}", f"{server}\n{server_ep}"


def session_ladder(frames_or_result: Any, session: str | None = None, *, host: str | None = None,
                   service: str | None = None, index: int = 0, paired: bool = True) -> Figure:  # fmt: skip
    """One SMTP session as a ladder diagram: client and server lifelines, one arrow per line (or burst)."""
    frames = as_frames(frames_or_result)
    chosen = pick_side(frames, session, host=host, service=service, index=index)
    sides = session_sides(frames)
    partner = sides.iloc[chosen.partner] if paired and chosen.partner >= 0 else None
    lines = side_lines(frames, chosen)
    if partner is not None:
        client, server = (chosen, partner) if chosen.side == "client" else (partner, chosen)
        arrows = paired_arrows(side_lines(frames, client), side_lines(frames, server))
    else:
        arrows = single_arrows(lines)
    title, client_name, server_name = _session_title(frames, chosen)
    if not arrows:
        fig = Figure(figsize=(6, 2))
        fig.add_subplot().set_title(title + " (no lines recorded)")
        return fig
    ends, label_ys, depth, scale = _layout(arrows, partner is not None)
    fig = Figure(figsize=(9.5, depth + 1.6), layout="constrained")
    ax = fig.add_subplot()
    _lifelines(ax, [client_name, server_name], [0.0, 1.0], depth)
    t0 = min(a.sent for a in arrows)
    for arrow, (y0, y1), ly in zip(arrows, ends, label_ys):
        x0, x1 = (0.0, 1.0) if arrow.direction == CLIENT else (1.0, 0.0)
        _draw_arrow(ax, x0, y0, x1, y1, _colour(arrow))
        box = {"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
        _label(ax, 0.5, ly, arrow_label(arrow.texts), _colour(arrow), bbox=box)
        if partner is None:
            _label(ax, -0.03, y0, f"+{(arrow.sent - t0) * 1000:.1f} ms", "#333333", ha="right", gid="time")
    if scale:
        _tls_notes(ax, arrows, ends)
    _time_axis(ax, max(a.received for a in arrows) - t0, depth, scale)
    how = "both ends recorded: arrows slope by the one-way delay" if scale else "one end recorded: a row per line"
    ax.set_title(f"{title}\n{how}", fontsize=11)
    return fig


def _time_axis(ax: Any, span: float, depth: float, scale: float) -> None:
    """Inches on the axis, labelled in virtual milliseconds since the session's first line."""
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylim(depth, -0.75)
    ax.set_xticks([])
    for spine in ("top", "right", "bottom"):
        ax.spines[spine].set_visible(False)
    if not scale:
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        return
    ticks = _nice_ticks(span)
    ax.set_yticks([TOP + t * scale for t in ticks], [f"{t * 1000:g}" for t in ticks], fontsize=8)
    ax.set_ylabel("virtual time since the first line (ms)")


def _nice_ticks(span: float) -> list[float]:
    steps = [x * m for m in (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0) for x in (1, 2, 5)]
    step = next((s for s in steps if span / s <= 12), steps[-1])
    return [k * step for k in range(int(span / step) + 1)]


@dataclass(frozen=True, slots=True)
class Step:
    """One row of a message ladder: a session arrow between two hosts, or a marker on one host.

    ``order`` breaks ties in time: the trace position of the record (cause before effect), -1 for sessions.
    """

    time: float
    order: int
    hosts: tuple[str, ...]
    label: str
    colour: str


STEP_COLOURS = {"queue": "#1f77b4", "sent": "#2a7a2a", "deferred": "#d27b00", "bounced": "#c0392b"}


def _session_steps(frames: Frames, message_id: str, follow: bool) -> tuple[list[Step], list[tuple[str, float, float]]]:
    """An arrow per carrying session, and the (client host, start, end) windows they cover."""
    carrying = carrying_sessions(frames, message_id, follow_bounces=follow)
    sides, book = session_sides(frames), address_book(frames)
    steps, covered = [], []
    for key in dict.fromkeys(carrying.key):
        row = describe_session(frames, sides, book, int(carrying[carrying.key == key].index[0]))
        reply = row["final_reply"] or "no reply"
        label = f"{row['service']} {row['port']}: {reply}\n{row['start']:.3f}–{row['end']:.3f} s, {row['commands']} commands"
        colour = CLASS_COLOURS[reply_class(reply)]
        steps.append(Step(float(row["start"]), -1, (row["client"], row["server"]), label, colour))
        covered.append((row["client"], row["start"], row["end"]))
    return steps, covered


def _hop_peer(fields: dict[str, Any], book: dict[str, str]) -> str:
    relay = str(fields.get("relay") or "")
    if "[" in relay:
        return relay.split("[", 1)[0]
    address = hop_address(fields)
    return book.get(address, address) if address else "?"


def _record_step(row: Any, book: dict[str, str], covered: list[tuple[str, float, float]]) -> Step | None:
    """A marker (or, for a hop without a recorded session, an arrow) for one trace record of the message."""
    fields = record_fields(row)
    status = str(fields.get("status") or "")
    if row.event == "delivery" or (row.service == "ua" and row.event == "submit"):
        inside = any(h == row.host and s - 1e-6 <= row.time <= e + 1e-6 for h, s, e in covered)
        if row.service in HOP_SERVICES and not inside:
            text = fields.get("reply") or f"{status} ({fields.get('text', '')})"
            colour = STEP_COLOURS.get(status, CLASS_COLOURS[reply_class(str(text))])
            name = fields.get("via") or row.service
            return Step(row.time, row.Index, (row.host, _hop_peer(fields, book)), f"{name}: {text}", colour)
        if row.service in HOP_SERVICES and status in ("sent", ""):
            return None
        orig = fields.get("orig_to")
        via = f" (for <{orig}>)" if orig and orig != fields.get("to") else ""
        what = f"{row.service}: <{fields.get('to')}>{via} {status} ({fields.get('dsn', '')}) {fields.get('text', '')}"
        return Step(row.time, row.Index, (row.host,), what, STEP_COLOURS.get(status, "#555555"))
    if row.service == "bounce" and row.event == "notice":
        what = f"bounce: {fields.get('kind')} notice to <{fields.get('recipient')}> as {fields.get('new_queue_id')}"
        return Step(row.time, row.Index, (row.host,), what, STEP_COLOURS["bounced"])
    if row.service == "qmgr" and row.event == "expired":
        return Step(row.time, row.Index, (row.host,), f"{row.queue_id}: expired, returned to sender", "#c0392b")
    return None


def _queue_runs(records: pd.DataFrame) -> list[list[Any]]:
    """Consecutive queue moves of one queue file at one instant (nothing else of the message between)."""
    runs: list[list[Any]] = []
    last = None
    for row in records.itertuples():
        key = (row.host, row.queue_id, row.time) if row.event == "queue" else None
        if key is not None and key == last:
            runs[-1].append(row)
        elif key is not None:
            runs.append([row])
        last = key
    return runs


def _queue_steps(records: pd.DataFrame) -> list[Step]:
    """Each run of queue moves as one marker ``queue file QID: incoming → active``."""
    steps = []
    for rows in _queue_runs(records):
        chain: list[str] = []
        for row in rows:
            fields = record_fields(row)
            for queue in (fields.get("src"), fields.get("dst")):
                if queue and (not chain or chain[-1] != queue):
                    chain.append(str(queue))
            if not fields.get("dst"):
                chain.append(f"removed ({fields['final']})" if fields.get("final") else "removed")
        label = f"queue file {rows[0].queue_id}: {' → '.join(chain)}"
        steps.append(Step(float(rows[0].time), int(rows[0].Index), (str(rows[0].host),), label, STEP_COLOURS["queue"]))
    return steps


def message_steps(frames_or_result: Any, message_id: str, *, follow_bounces: bool = True) -> list[Step]:
    """The rows of :func:`message_ladder` in time order (sessions, queue moves, deliveries, bounces)."""
    frames = as_frames(frames_or_result)
    records = message_records(frames, message_id, follow_bounces=follow_bounces)
    steps, covered = _session_steps(frames, message_id, follow_bounces) if not frames["sessions"].empty else ([], [])
    book = address_book(frames)
    steps += [s for row in records.itertuples() if (s := _record_step(row, book, covered)) is not None]
    steps += _queue_steps(records)
    return sorted(steps, key=lambda s: (s.time, s.order))


def _wrapped(text: str, width: int, lines: int) -> str:
    out = []
    for part in text.split("\n"):
        out += textwrap.wrap(part, width, max_lines=lines, placeholder=" …") or [""]
    return "\n".join(out)


SPACING = 3.4  # inches between host lifelines in a message ladder
MARGIN = (1.3, 3.1)  # inches left of the first and right of the last lifeline (marker labels go right)


def message_ladder(frames_or_result: Any, message_id: str, *, follow_bounces: bool = True,
                   title: str | None = None) -> Figure:  # fmt: skip
    """A message's journey: a lifeline per host, an arrow per SMTP session, markers for queue and delivery."""
    steps = message_steps(frames_or_result, message_id, follow_bounces=follow_bounces)
    hosts = list(dict.fromkeys(h for s in steps for h in s.hosts))
    xs = {h: i * SPACING for i, h in enumerate(hosts)}
    labels = [_step_label(s, xs) for s in steps]
    rows, depth = _rows(steps, labels)
    width = SPACING * max(len(hosts) - 1, 0) + sum(MARGIN)
    fig = Figure(figsize=(width + 1.0, depth + 1.8), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title or f"Journey of <{shorten(message_id, 70)}>", fontsize=12)
    if not steps:
        ax.text(0.5, 0.5, "no trace of this message", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    _lifelines(ax, hosts, list(xs.values()), depth)
    for step, label, y in zip(steps, labels, rows):
        _draw_step(ax, step, label, [xs[h] for h in step.hosts], y)
    ax.set_xlim(-MARGIN[0], SPACING * max(len(hosts) - 1, 0) + MARGIN[1])
    ax.set_ylim(depth, -0.6)
    ax.set_yticks(rows, [f"{s.time:.3f} s" for s in steps], fontsize=8)
    ax.set_ylabel("virtual time (one row per event)")
    ax.set_xticks([])
    for spine in ("top", "right", "bottom"):
        ax.spines[spine].set_visible(False)
    return fig


def _rows(steps: list[Step], labels: list[str]) -> tuple[list[float], float]:
    """Row positions (inches from the top): an arrow's label sits above it, a marker's is centred on it."""
    rows, bottom = [], TOP
    for step, label in zip(steps, labels):
        height = LINE_INCHES * (label.count("\n") + 1)
        above, below = (height + 0.08, 0.04) if len(step.hosts) > 1 else (height / 2, height / 2)
        rows.append(bottom + above + 0.1)
        bottom = rows[-1] + below
    return rows, bottom + 0.3


def _compact(text: str) -> str:
    """Postfix's remote-reply wording, shortened for a label: ``host X[ip] said:`` → ``X said:``."""
    text = re.sub(r"host (\S+?)\[[^\]]*\](?::\d+)? said: ", r"\1 said: ", text)
    return re.sub(r"\(in reply to ([A-Z ]+?) command\)", r"(after \1)", text)


def _step_label(step: Step, xs: dict[str, float]) -> str:
    """Arrow labels as wide as the lifelines they span; marker labels fit the right margin."""
    if len(step.hosts) > 1:
        gaps = abs(xs[step.hosts[1]] - xs[step.hosts[0]]) / SPACING
        return _wrapped(step.label, min(int(52 * max(gaps, 1)), 100), 2)
    return _wrapped(_compact(step.label), 42, 5)


def _draw_step(ax: Any, step: Step, label: str, xs: list[float], y: float) -> None:
    if len(xs) == 2 and xs[0] != xs[1]:
        _draw_arrow(ax, xs[0], y, xs[1], y, step.colour)
        box = {"boxstyle": "square,pad=0.05", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
        _label(ax, (xs[0] + xs[1]) / 2, y - 0.06, label, step.colour, va="bottom", bbox=box)
        return
    ax.plot([xs[0]], [y], marker="o", markersize=7, color=step.colour, gid="marker")
    box = {"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
    _label(ax, xs[0] + 0.12, y, label, step.colour, ha="left", bbox=box)
