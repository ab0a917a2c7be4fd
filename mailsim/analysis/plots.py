"""Standard figures of a run, drawn from the frames. Each function returns a matplotlib ``Figure``.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot state), so many runs and
notebooks can draw at once and nothing needs a display.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def _empty(fig: Figure, ax, text: str) -> Figure:  # type: ignore[no-untyped-def]
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def queue_depths(queues: pd.DataFrame, *, title: str = "Queue depth over time") -> Figure:
    """One step line per (host, queue): how much mail waits where, and when."""
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_subplot()
    ax.set_title(title)
    if queues.empty:
        return _empty(fig, ax, "no queue activity")
    for (host, queue), rows in queues.groupby(["host", "queue"], sort=True):
        ax.step(rows.time, rows.depth, where="post", label=f"{host}: {queue}")
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("messages")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def latency_cdf(messages: pd.DataFrame, *, title: str = "End-to-end delivery latency") -> Figure:
    """Empirical CDF of submission-to-mailbox latency, with p50/p99 marked."""
    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    ax.set_title(title)
    sent = messages[messages.status == "sent"] if not messages.empty else messages
    if sent.empty:
        return _empty(fig, ax, "no delivered messages")
    values = np.sort(sent.latency.to_numpy(dtype=float))
    ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post")
    for q, style in ((0.5, ":"), (0.99, "--")):
        x = float(np.quantile(values, q))
        ax.axvline(x, linestyle=style, color="grey")
        ax.annotate(f"p{int(q * 100)}={x:.3g}s", (x, q), textcoords="offset points", xytext=(4, -12), fontsize="small")
    ax.set_xlabel("seconds from submission to final delivery")
    ax.set_ylabel("fraction of recipients")
    return fig


def outcomes(messages: pd.DataFrame, *, title: str = "Final outcome per recipient") -> Figure:
    fig = Figure(figsize=(5, 3))
    ax = fig.add_subplot()
    ax.set_title(title)
    if messages.empty:
        return _empty(fig, ax, "no final outcomes")
    counts = messages.groupby("status").size()
    ax.bar(counts.index.astype(str), counts.to_numpy())
    ax.set_ylabel("recipients")
    return fig


def standard_figures(frames: dict[str, pd.DataFrame]) -> dict[str, Figure]:
    """The figures every run writes: queue depths, latency CDF, outcomes."""
    return {
        "queue_depths": queue_depths(frames["queues"]),
        "latency_cdf": latency_cdf(frames["messages"]),
        "outcomes": outcomes(frames["messages"]),
    }
