"""Capacity-planning figures: throughput, latency percentiles over time, queue depths, age buckets, sweeps with CIs.

Each function takes the DataFrames of :mod:`mailsim.analysis.metrics` (or a sweep's summary) and returns a
``matplotlib.figure.Figure`` built without pyplot, so notebooks and workers can draw many at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mailsim.analysis.plots import _empty


def throughput_figure(throughput: pd.DataFrame, *, title: str = "Throughput") -> Figure:
    """Final recipients per second over time, one line per status (:func:`metrics.throughput`)."""
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    ax.set_title(title)
    if throughput.empty:
        return _empty(fig, ax, "no final deliveries")
    for status, part in throughput.groupby("status", sort=True):
        ax.step(part.time, part.rate, where="post", label=str(status))
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("recipients per second")
    ax.legend(fontsize="small")
    return fig


def latency_over_time(
    messages: pd.DataFrame, *, every: float = 300.0, quantiles: Sequence[float] = (0.5, 0.99),
    title: str = "Delivery latency by submission time",
) -> Figure:  # fmt: skip
    """Latency quantiles of sent recipients, binned by submission time: is the system keeping up?"""
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    ax.set_title(title)
    sent = messages[messages.status == "sent"] if not messages.empty else messages
    if sent.empty:
        return _empty(fig, ax, "no delivered messages")
    bins = (sent.submitted // every) * every
    table = sent.groupby(bins).latency.quantile(list(quantiles)).unstack()
    for q in quantiles:
        ax.plot(table.index, table[q], marker=".", label=f"p{q * 100:g}")
    ax.set_xlabel("submitted at (virtual s)")
    ax.set_ylabel("latency (s)")
    ax.set_yscale("log")
    ax.legend(fontsize="small")
    return fig


def queue_depth_figure(series: pd.DataFrame, *, title: str = "Queue depth") -> Figure:
    """Sampled depth per (host, queue) (:func:`metrics.queue_depth_series`), one panel per queue."""
    queues = sorted(series.queue.unique()) if not series.empty else []
    fig = Figure(figsize=(7, 2.2 * max(1, len(queues))))
    if not queues:
        return _empty(fig, fig.add_subplot(), "no queue activity")
    axes = fig.subplots(len(queues), 1, sharex=True, squeeze=False)[:, 0]
    for ax, queue in zip(axes, queues):
        for host, part in series[series.queue == queue].groupby("host", sort=True):
            ax.plot(part.time, part.depth, label=str(host))
        ax.set_ylabel(f"{queue}\n(messages)")
        ax.legend(fontsize="x-small", loc="upper left")
    axes[0].set_title(title)
    axes[-1].set_xlabel("virtual time (s)")
    return fig


def age_buckets_figure(buckets: pd.DataFrame, *, host: str, queue: str, title: str | None = None) -> Figure:
    """qshape over time for one host's queue: stacked counts per age bucket (:func:`metrics.age_buckets_over_time`)."""
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    ax.set_title(title or f"{host}: {queue} queue by age (minutes)")
    part = buckets[(buckets.host == host) & (buckets.queue == queue)] if not buckets.empty else buckets
    if part.empty:
        return _empty(fig, ax, f"{queue} stayed empty")
    columns = [c for c in part.columns if c not in ("time", "host", "queue", "T")]
    ax.stackplot(part.time.to_numpy(), part[columns].to_numpy(dtype=float).T, labels=columns)
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("queue files")
    ax.legend(fontsize="x-small", ncol=2, loc="upper left", title="age <=")
    return fig


def sweep_figure(summary: pd.DataFrame, *, x: str, metric: str, title: str | None = None) -> Figure:
    """One metric's mean with its confidence interval (error bars) against a swept parameter ``x``."""
    fig = Figure(figsize=(5.5, 3.5))
    ax = fig.add_subplot()
    rows = summary[summary.metric == metric]
    ax.set_title(title or f"{metric} against {x}")
    if rows.empty:
        return _empty(fig, ax, f"no {metric} in the summary")
    labels = [str(v) for v in rows[x]]
    positions = np.arange(len(rows))
    errors = np.nan_to_num(rows.half_width.to_numpy(dtype=float), nan=0.0, posinf=0.0)
    ax.errorbar(positions, rows["mean"], yerr=errors, fmt="o-", capsize=4)
    ax.set_xticks(positions, labels)
    ax.set_xlabel(x)
    ax.set_ylabel(f"{metric} (mean and CI)")
    return fig


def utilisation_figure(table: pd.DataFrame, *, title: str = "Utilisation of delivery processes") -> Figure:
    """Bars of utilisation per (host, resource) (:func:`metrics.utilisation`)."""
    fig = Figure(figsize=(5.5, 3))
    ax = fig.add_subplot()
    ax.set_title(title)
    if table.empty:
        return _empty(fig, ax, "no resource records (no service_time or hardware in the scenario)")
    labels = [f"{h}\n{r} (c={c})" for h, r, c in zip(table.host, table.resource, table.capacity)]
    ax.bar(labels, table.utilisation)
    ax.set_ylim(0, 1)
    ax.set_ylabel("busy / capacity")
    return fig


def attempts_figure(runs: Mapping[str, pd.DataFrame], *, title: str = "Delivery attempts") -> Figure:
    """Cumulative sent and deferred attempts per labelled run (deliveries frames): how a throttle bites."""
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_subplot()
    ax.set_title(title)
    if all(frame.empty for frame in runs.values()):
        return _empty(fig, ax, "no delivery attempts")
    for label, frame in runs.items():
        ordered = frame.sort_values("time")
        for status, style in (("sent", "-"), ("deferred", ":")):
            part = ordered[ordered.status == status]
            ax.step(part.time, np.arange(1, len(part) + 1), style, where="post", label=f"{status}, {label}")
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("attempts so far")
    ax.legend(fontsize="small")
    return fig
