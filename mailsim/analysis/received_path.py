"""A message's Received chain read the way the seed teaches: from the bottom, the sender's side first.

:func:`received_table` lists the hops (hop 1 is the lowest Received header) with who connected (HELO name,
reverse DNS, IP), who received (``by`` host and software), the protocol (RFC 3848: ``ESMTPSA`` = ESMTP
over TLS with SMTP AUTH), TLS, the queue id, the recipient and the stamp, and the delay since the previous
hop (hop 1: since the ``Date:`` header, i.e. time spent in the user agent). Clocks of different hosts are
compared as written, so a negative delay means the clocks disagree.

:func:`received_path_figure` draws the same path as boxes left to right — the host that sent hop 1, then
the ``by`` host of each hop — with arrows labelled by protocol, TLS, the client IP the receiver saw and
the delay. Long paths wrap onto a new row. Both work on any message bytes: a header the parser cannot
read still becomes a hop, its unknown parts shown as ``?`` and its oddities in ``notes``.

Postfix parameters read: none (a reader of headers).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path as DrawPath

from mailsim.mail.message import parse_date, parse_message
from mailsim.mail.received import ReceivedHop, received_chain

MessageLike = EmailMessage | bytes | str | Path
TABLE_COLUMNS = ["hop", "from_helo", "from_rdns", "from_ip", "by_host", "by_software", "protocol", "tls",
                 "authenticated", "encrypted", "id", "for", "date", "delay", "notes"]  # fmt: skip
BOX = (2.0, 0.95)  # inches: width, height of a host box
GAP = 1.75  # inches between boxes (room for the arrow's label)
ROW = 2.4  # inches from one row of boxes to the next
UNKNOWN = "?"
LEGEND = "green: encrypted hop (TLS) · blue: plaintext · red: header partly unreadable (see received_table's notes)"


def as_message(message: MessageLike) -> EmailMessage:
    """An EmailMessage from a message, its bytes, its text, or the path of an ``.eml`` file."""
    if isinstance(message, EmailMessage):
        return message
    if isinstance(message, Path):
        return parse_message(message.read_bytes())
    return parse_message(message)


def _delays(hops: list[ReceivedHop], msg: EmailMessage) -> list[float | None]:
    """Seconds from the previous stamp (hop 1: from the Date header); None when either is unknown."""
    previous = parse_date(str(msg.get("Date", ""))) if msg.get("Date") else None
    out: list[float | None] = []
    for hop in hops:
        out.append((hop.date - previous).total_seconds() if hop.date and previous else None)
        previous = hop.date or None
    return out


def received_table(message: MessageLike) -> pd.DataFrame:
    """One row per Received header, bottom-up (hop 1 = the sender's side); see the module docstring."""
    msg = as_message(message)
    hops = received_chain(msg)
    rows = [
        [number, hop.from_helo, hop.from_rdns, hop.from_ip, hop.by_host, hop.by_software, hop.with_protocol,
         hop.tls, hop.authenticated, hop.encrypted, hop.id, hop.for_rcpt, hop.date, delay, "; ".join(hop.notes)]
        for number, (hop, delay) in enumerate(zip(hops, _delays(hops, msg)), start=1)
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table["delay"] = table["delay"].astype(float)
    text = [c for c in TABLE_COLUMNS if c not in ("hop", "authenticated", "encrypted", "date", "delay")]
    table[text] = table[text].astype(object).where(table[text].notna(), None)
    return table


@dataclass(frozen=True, slots=True)
class Node:
    """A box of the path: a host name and what else the headers say about it."""

    name: str
    detail: str


@dataclass(frozen=True, slots=True)
class Edge:
    """An arrow of the path: hop ``hop`` from node ``source`` to node ``source + 1``."""

    hop: int
    source: int
    label: str
    colour: str


def delay_text(seconds: float | None) -> str:
    """``+1 s``, ``+2.5 min``, ``-3 s (clocks disagree)`` or ``+?``."""
    if seconds is None or pd.isna(seconds):
        return "+?"
    size = abs(seconds)
    unit, scale = next(((u, s) for u, s in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)) if size >= s), ("s", 1.0))
    text = f"{'+' if seconds >= 0 else '−'}{size / scale:.3g} {unit}"
    return text if seconds >= 0 else text + " (clocks disagree)"


def _edge_label(hop: ReceivedHop, delay: float | None) -> str:
    lines = [hop.with_protocol or UNKNOWN]
    if hop.tls:
        first = hop.tls.split()[0]
        lines.append(
            first if first.upper().startswith(("TLS", "SSL")) else textwrap.shorten(hop.tls, 24, placeholder="…")
        )
    if hop.from_ip or hop.from_helo:
        lines.append(f"from [{hop.from_ip or UNKNOWN}]")
    lines.append(delay_text(delay))
    return "\n".join(lines)


def path_of(message: MessageLike) -> tuple[list[Node], list[Edge]]:
    """The boxes and arrows of :func:`received_path_figure`: the first sender, then each hop's receiver."""
    msg = as_message(message)
    hops = received_chain(msg)
    nodes: list[Node] = []
    edges: list[Edge] = []
    for number, (hop, delay) in enumerate(zip(hops, _delays(hops, msg)), start=1):
        receiver = Node(hop.by_host or UNKNOWN, hop.by_software or "")
        if number == 1 and hop.from_host is None and hop.from_ip is None:
            made = "(made here)" if hop.by_host else ""
            nodes.append(Node(receiver.name, "\n".join(d for d in (receiver.detail, made) if d)))
            continue
        if not nodes:
            helo = f"HELO {hop.from_helo}" if hop.from_helo and hop.from_helo != hop.from_host else ""
            nodes.append(Node(hop.from_host or hop.from_ip or UNKNOWN, helo))
        colour = "#2a7a2a" if hop.encrypted else "#c0392b" if hop.notes else "#1f4e99"
        edges.append(Edge(number, len(nodes) - 1, _edge_label(hop, delay), colour))
        nodes.append(receiver)
    return nodes, edges


def _position(index: int, per_row: int) -> tuple[float, float]:
    """Top-left corner of box ``index`` (inches; y grows downwards)."""
    row, column = divmod(index, per_row)
    return 0.3 + column * (BOX[0] + GAP), 0.4 + row * ROW


def wrap_host(name: str, width: int) -> str:
    """A host name on at most two lines, broken after a dot (``198-51-100-23.`` / ``dclient.hispeed.ch``)."""
    if len(name) <= width:
        return name or UNKNOWN
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head, tail = ".".join(parts[:cut]) + ".", ".".join(parts[cut:])
        if len(head) <= width:
            return f"{head}\n{tail if len(tail) <= width else tail[: width - 1] + '…'}"
    return "\n".join(textwrap.wrap(name, width, max_lines=2, placeholder="…"))


def _draw_box(ax: Any, node: Node, x: float, y: float) -> None:
    ax.add_patch(FancyBboxPatch((x, y), BOX[0], BOX[1], boxstyle="round,pad=0.04", facecolor="#eef2f8",
                                edgecolor="#444444", linewidth=1.0, gid="box"))  # fmt: skip
    name = wrap_host(node.name, 24)
    ax.text(x + BOX[0] / 2, y + 0.3, name, ha="center", va="center", fontsize=9, fontweight="bold", gid="host")
    if node.detail:
        detail = "\n".join(textwrap.shorten(d, 30, placeholder="…") for d in node.detail.split("\n")[:2])
        ax.text(x + BOX[0] / 2, y + 0.72, detail, ha="center", va="center", fontsize=7.5, color="#444444")


def _draw_edge(ax: Any, edge: Edge, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A straight arrow within a row; an elbow (down, back left, down) to the next row."""
    if abs(start[1] - end[1]) < 1e-9:
        a, b = (start[0] + BOX[0] + 0.06, start[1] + BOX[1] / 2), (end[0] - 0.06, end[1] + BOX[1] / 2)
        path = DrawPath([a, b])
        where = ((a[0] + b[0]) / 2, a[1] - 0.08)
    else:
        mid_y = start[1] + BOX[1] + (ROW - BOX[1]) / 2
        a, b = (start[0] + BOX[0] / 2, start[1] + BOX[1] + 0.06), (end[0] + BOX[0] / 2, end[1] - 0.06)
        path = DrawPath([a, (a[0], mid_y), (b[0], mid_y), b])
        where = ((a[0] + b[0]) / 2, mid_y - 0.06)
    ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=14, color=edge.colour,
                                 linewidth=1.4, gid="arrow"))  # fmt: skip
    ax.text(*where, f"hop {edge.hop}: {edge.label}", ha="center", va="bottom", fontsize=8, color=edge.colour,
            gid="label", bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"})  # fmt: skip


def received_path_figure(message: MessageLike, *, per_row: int = 4, title: str | None = None) -> Figure:
    """The Received chain as a path of hosts, sender first, arrows labelled by protocol, TLS and delay."""
    msg = as_message(message)
    nodes, edges = path_of(msg)
    columns = max(1, min(per_row, len(nodes)))
    rows = max(1, -(-len(nodes) // max(per_row, 1)))
    width = 0.6 + columns * BOX[0] + (columns - 1) * GAP
    height = 0.8 + (rows - 1) * ROW + BOX[1]
    fig = Figure(figsize=(max(width, 6.0), height + 1.2), layout="constrained")
    ax = fig.add_subplot()
    subject = textwrap.shorten(str(msg.get("Subject", "") or ""), 60, placeholder="…")
    ax.set_title(title or f"Received path, read bottom-up{': ' + subject if subject else ''}", fontsize=11)
    ax.set_xlim(0, max(width, 6.0))
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    if not nodes:
        ax.text(0.5, 0.5, "no Received headers", ha="center", va="center", transform=ax.transAxes, color="grey")
        return fig
    places = [_position(i, per_row) for i in range(len(nodes))]
    for node, (x, y) in zip(nodes, places):
        _draw_box(ax, node, x, y)
    for edge in edges:
        _draw_edge(ax, edge, places[edge.source], places[edge.source + 1])
    fig.text(0.5, 0.0, LEGEND, ha="center", va="bottom", fontsize=8, color="#444444")
    return fig
