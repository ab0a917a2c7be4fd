"""Capacity metrics of a run: throughput, latency percentiles, queue depths, age buckets, shares, utilisation.

Everything is computed from the trace (or the frames of :mod:`mailsim.analysis.frames`), so a metric
means the same thing in a notebook, in a sweep worker and in a test. Conventions:

- A *window* ``[start, end)`` restricts what is counted: messages by their submission time (so a
  warm-up period can be cut off), time-weighted averages by integrating only over the window.
- Latency is end to end (``messages`` frame: submission to final delivery, per final recipient)
  or per hop (``deliveries`` frame: Postfix's ``delay`` at each host, and its ``delays=a/b/c/d``).
- Queue depth is a step function of time (``queues`` frame); its time-weighted mean is the
  integral over the window divided by the window's length (Little's law reads it).
- qshape over time uses Postfix's age buckets (:mod:`mailsim.analysis.qshape`) and counts queue
  *files* per queue from the trace; the live sampler ``attach_qshape_sampler`` counts recipients
  per domain exactly as qshape does.
- Utilisation comes from ``resource`` trace records: ``start``/``end`` (``busy``/``capacity`` changes
  of delivery processes with a ``service_time``, see :mod:`mailsim.scenario.resources`), and the
  ``sample`` records of hosts with ``hardware`` (cpu, disk, smtpd and transport processes, see
  :mod:`mailsim.mta.hardware`; over time in the ``utilisation`` frame); waiting time is qmgr
  activation to the start of service. ``cpu_utilisation``/``disk_utilisation`` give the busiest host.

:func:`run_metrics` flattens a run into one ``{name: float}`` row for sweeps (:data:`METRICS` lists
the names).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mailsim.analysis.frames import deliveries_frame, messages_frame, queues_frame, utilisation_frame
from mailsim.analysis.qshape import QshapeOptions, bucket, headings
from mailsim.core.trace import TraceRecord

QUANTILES = (0.5, 0.9, 0.99)
QSHAPE = QshapeOptions()
FINAL = ("sent", "bounced", "expired")
UTILISATION = ["host", "resource", "capacity", "busy", "utilisation", "served"]


# -- latency and throughput ----------------------------------------------------------------------------------


def _window(frame: pd.DataFrame, column: str, start: float, end: float) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[(frame[column] >= start) & (frame[column] < end)]


def latency_percentiles(
    messages: pd.DataFrame, quantiles: Sequence[float] = QUANTILES, *, by: str | Sequence[str] | None = None,
    status: str = "sent", start: float = 0.0, end: float = math.inf,
) -> pd.DataFrame:  # fmt: skip
    """End-to-end latency: count, mean and quantiles (columns ``p50`` ...) of recipients with ``status``."""
    rows = _window(messages, "submitted", start, end)
    rows = rows[rows.status == status] if not rows.empty else rows
    names = [f"p{_pct(q)}" for q in quantiles]
    if rows.empty:
        return pd.DataFrame([[0, math.nan, *[math.nan] * len(quantiles)]], columns=["count", "mean", *names])
    groups = [("all", rows)] if by is None else list(rows.groupby(by, sort=True))
    out = []
    for key, part in groups:
        values = part.latency.to_numpy(dtype=float)
        out.append([key, len(values), values.mean(), *np.quantile(values, quantiles)])
    frame = pd.DataFrame(out, columns=["group", "count", "mean", *names]).set_index("group")
    return frame if by is not None else frame.reset_index(drop=True)


def hop_latency(deliveries: pd.DataFrame, quantiles: Sequence[float] = QUANTILES) -> pd.DataFrame:
    """Per hop (host, transport) of sent deliveries: count, mean delay, quantiles, and mean delays a/b/c/d."""
    sent = deliveries[deliveries.status == "sent"] if not deliveries.empty else deliveries
    names = [f"p{_pct(q)}" for q in quantiles]
    columns = ["host", "service", "count", "mean", *names, "a", "b", "c", "d"]
    rows = []
    for (host, service), part in sent.groupby(["host", "service"], sort=True):
        delay = part.delay.to_numpy(dtype=float)
        parts = [part[f"delays_{x}"].astype(float).mean() for x in "abcd"]
        rows.append([host, service, len(delay), delay.mean(), *np.quantile(delay, quantiles), *parts])
    return pd.DataFrame(rows, columns=columns)


def throughput(
    messages: pd.DataFrame, *, every: float = 60.0, start: float = 0.0, end: float | None = None
) -> pd.DataFrame:
    """Final recipients per second in bins of ``every`` seconds, by status: columns time, status, count, rate."""
    if messages.empty:
        return pd.DataFrame(columns=["time", "status", "count", "rate"])
    last = float(messages.finished.max()) if end is None else end
    edges = np.arange(start, last + every, every)
    rows: list[tuple[float, str, int, float]] = []
    for status, part in messages.groupby("status", sort=True):
        counts, _ = np.histogram(part.finished.to_numpy(dtype=float), bins=edges)
        rows.extend((edges[i], status, int(c), c / every) for i, c in enumerate(counts))
    return pd.DataFrame(rows, columns=["time", "status", "count", "rate"])


def outcome_shares(messages: pd.DataFrame, deliveries: pd.DataFrame | None = None) -> dict[str, float]:
    """Shares of final recipients by status, and of delivery attempts that were deferred."""
    total = len(messages)
    shares = {f"{s}_share": (float((messages.status == s).sum()) / total if total else math.nan) for s in FINAL}
    if deliveries is not None:
        attempts = len(deliveries)
        deferred = float((deliveries.status == "deferred").sum()) if attempts else 0.0
        shares["deferred_share"] = deferred / attempts if attempts else math.nan
    return shares


def _pct(q: float) -> str:
    text = f"{q * 100:g}"
    return text.replace(".", "_")


# -- queues --------------------------------------------------------------------------------------------------


def time_weighted(times: np.ndarray, values: np.ndarray, start: float, end: float, initial: float = 0.0) -> float:
    """Mean of the step function that takes ``values[i]`` from ``times[i]`` on, over ``[start, end)``."""
    if end <= start:
        return math.nan
    before = times < start
    level = float(values[before][-1]) if before.any() else initial
    inside = (times >= start) & (times < end)
    edges = np.concatenate(([start], times[inside], [end]))
    levels = np.concatenate(([level], values[inside]))
    return float(np.dot(levels, np.diff(edges)) / (end - start))


def queue_depth_stats(queues: pd.DataFrame, *, start: float = 0.0, end: float) -> pd.DataFrame:
    """Per host and queue: time-weighted mean depth over the window, maximum, and depth at ``end``."""
    rows = []
    for (host, queue), part in queues.groupby(["host", "queue"], sort=True):
        times, depth = part.time.to_numpy(dtype=float), part.depth.to_numpy(dtype=float)
        inside = depth[(times >= start) & (times < end)]
        before = depth[times < start]
        peak = max(inside.max() if inside.size else 0.0, before[-1] if before.size else 0.0)
        last = depth[times < end]
        rows.append([host, queue, time_weighted(times, depth, start, end), peak, last[-1] if last.size else 0.0])
    return pd.DataFrame(rows, columns=["host", "queue", "mean", "max", "final"])


def queue_depth_series(queues: pd.DataFrame, *, step: float, end: float, start: float = 0.0) -> pd.DataFrame:
    """Depth of every (host, queue) sampled every ``step`` seconds: columns time, host, queue, depth."""
    grid = np.arange(start, end + step / 2, step)
    frames = []
    for (host, queue), part in queues.groupby(["host", "queue"], sort=True):
        times, depth = part.time.to_numpy(dtype=float), part.depth.to_numpy(dtype=float)
        index = np.searchsorted(times, grid, side="right") - 1
        sampled = np.where(index >= 0, depth[np.clip(index, 0, None)], 0.0)
        frames.append(pd.DataFrame({"time": grid, "host": host, "queue": queue, "depth": sampled}))
    if not frames:
        return pd.DataFrame(columns=["time", "host", "queue", "depth"])
    return pd.concat(frames, ignore_index=True)


def age_buckets_over_time(
    records: Iterable[TraceRecord], times: Sequence[float], *, queues: Sequence[str] = ("incoming", "active", "deferred"),
    options: QshapeOptions = QSHAPE,
) -> pd.DataFrame:  # fmt: skip
    """qshape-like counts of queue files by age bucket at each of ``times``: time, host, queue, T, 5, 10, ...

    A file's age is the time since it first entered a queue of that host (its arrival, as Postfix's).
    """
    wanted = set(queues)
    moments = sorted(times)
    arrival: dict[tuple[str, str], float] = {}
    where: dict[tuple[str, str], str | None] = {}
    heads = headings(options)
    rows: list[list[Any]] = []
    pending = list(moments)
    for r in records:
        while pending and r.time > pending[0]:
            rows.extend(_shape(pending.pop(0), arrival, where, wanted, options, len(heads)))
        if r.event != "queue" or r.queue_id is None:
            continue
        key = (r.host, r.queue_id)
        arrival.setdefault(key, r.time)
        where[key] = r.get("dst")
        if r.get("dst") is None:
            arrival.pop(key, None)
            where.pop(key, None)
    for moment in pending:
        rows.extend(_shape(moment, arrival, where, wanted, options, len(heads)))
    return pd.DataFrame(rows, columns=["time", "host", "queue", *heads])


def _shape(
    now: float, arrival: Mapping[tuple[str, str], float], where: Mapping[tuple[str, str], str | None],
    wanted: set[str], options: QshapeOptions, width: int,
) -> list[list[Any]]:  # fmt: skip
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * width)
    for key, queue in where.items():
        if queue in wanted:
            row = counts[(key[0], queue)]
            row[0] += 1
            row[bucket(now - arrival[key], options)] += 1
    return [[now, host, queue, *row] for (host, queue), row in sorted(counts.items())]


# -- utilisation and waiting (the resource model's records) -------------------------------------------------


def utilisation(
    records: Iterable[TraceRecord], *, start: float = 0.0, end: float, samples: bool = True
) -> pd.DataFrame:
    """Per host and resource: capacity, time-weighted busy servers, utilisation, and service counts.

    Process slots come from ``start``/``end`` records (``service_time``); with ``samples`` the hosts'
    hardware samples are added (cpu, disk, smtpd:SERVICE, transports; a sample counts when its whole
    interval lies in the window) and replace the slot rows of the same resource.
    """
    records = list(records)
    sampled = _sampled(records, start, end) if samples else pd.DataFrame()
    series: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    capacity: dict[tuple[str, str], int] = {}
    served: dict[tuple[str, str], int] = defaultdict(int)
    for r in records:
        if r.service != "resource" or r.event == "sample":
            continue
        key = (r.host, str(r.get("resource")))
        capacity[key] = int(r.get("capacity", capacity.get(key, 1)))
        series[key].append((r.time, int(r.get("busy", 0))))
        if r.event == "start" and start <= r.time < end:
            served[key] += 1
    rows = []
    for key, points in sorted(series.items()):
        times = np.array([p[0] for p in points])
        busy = np.array([p[1] for p in points], dtype=float)
        mean = time_weighted(times, busy, start, end)
        rows.append([key[0], key[1], capacity[key], mean, mean / capacity[key] if capacity[key] else math.nan,
                     served[key]])  # fmt: skip
    table = pd.DataFrame(rows, columns=UTILISATION)
    if sampled.empty:
        return table
    covered = set(zip(sampled.host, sampled.resource, strict=True))
    kept = table[[(h, r) not in covered for h, r in zip(table.host, table.resource, strict=True)]]
    return pd.concat([kept, sampled], ignore_index=True).sort_values(["host", "resource"], ignore_index=True)


def _sampled(records: Sequence[TraceRecord], start: float, end: float) -> pd.DataFrame:
    """Overall utilisation per (host, resource) from the samples whose interval lies in ``[start, end]``."""
    frame = utilisation_frame(records)
    frame = frame[(frame.time - frame.interval >= start - 1e-9) & (frame.time <= end + 1e-9)]
    rows = []
    for (host, resource), part in frame.groupby(["host", "resource"], sort=True):
        span, capacity = float(part.interval.sum()), int(part.capacity.iloc[-1])
        busy = float(part.busy.sum()) / span if span else math.nan
        rows.append([host, resource, capacity, busy, busy / capacity if capacity else math.nan, int(part.jobs.sum())])
    return pd.DataFrame(rows, columns=UTILISATION)


def waiting_times(records: Iterable[TraceRecord], *, start: float = 0.0, end: float = math.inf) -> pd.DataFrame:
    """Per service start of a resource: host, resource, queue_id, activated, started, wait, hold (service time)."""
    activated: dict[tuple[str, str], float] = {}
    rows = []
    for r in records:
        if r.service == "qmgr" and r.event == "active" and r.queue_id is not None:
            activated[(r.host, r.queue_id)] = r.time
        elif r.service == "resource" and r.event == "start" and r.queue_id is not None:
            began = activated.get((r.host, r.queue_id))
            if began is not None and start <= began < end:
                rows.append([r.host, r.get("resource"), r.queue_id, began, r.time, r.time - began, r.get("hold")])
    return pd.DataFrame(rows, columns=["host", "resource", "queue_id", "activated", "started", "wait", "hold"])


# -- one row per run ---------------------------------------------------------------------------------------


@dataclass
class RunView:
    """The frames one run's metrics need, computed once each (sweep workers keep nothing else)."""

    records: Sequence[TraceRecord]
    until: float
    start: float = 0.0
    _cache: dict[str, Any] = field(default_factory=dict)

    def _get(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    @property
    def messages(self) -> pd.DataFrame:
        return self._get("messages", lambda: messages_frame(self.records))

    @property
    def deliveries(self) -> pd.DataFrame:
        return self._get("deliveries", lambda: deliveries_frame(self.records))

    @property
    def queues(self) -> pd.DataFrame:
        return self._get("queues", lambda: queues_frame(self.records))

    @property
    def submitted(self) -> int:
        return sum(1 for r in self.records if r.event == "submit" and self.start <= r.time < self.until)


def _latency(q: float | None) -> Callable[[RunView], float]:
    def metric(view: RunView) -> float:
        table = latency_percentiles(view.messages, (0.5 if q is None else q,), start=view.start, end=view.until)
        return float(table["mean" if q is None else f"p{_pct(q)}"].iloc[0])

    return metric


def _share(status: str) -> Callable[[RunView], float]:
    return lambda view: outcome_shares(_window(view.messages, "submitted", view.start, view.until))[f"{status}_share"]


def _queue(queue: str, how: str) -> Callable[[RunView], float]:
    def metric(view: RunView) -> float:
        stats = queue_depth_stats(view.queues, start=view.start, end=view.until)
        part = stats[stats.queue == queue]
        return float(part[how].sum()) if how != "max" else float(part[how].max() if not part.empty else 0.0)

    return metric


def _throughput(view: RunView) -> float:
    messages = _window(view.messages, "finished", view.start, view.until)
    return float((messages.status == "sent").sum()) / max(view.until - view.start, 1e-12)


def _mean_wait(view: RunView) -> float:
    waits = waiting_times(view.records, start=view.start, end=view.until)
    return float(waits.wait.mean()) if not waits.empty else math.nan


def _utilisation(view: RunView) -> float:
    table = utilisation(view.records, start=view.start, end=view.until, samples=False)
    return float(table.busy.sum() / table.capacity.sum()) if not table.empty else math.nan


def _busiest(resource: str) -> Callable[[RunView], float]:
    """The highest utilisation of this hardware resource over the hosts that declare hardware (the bottleneck)."""

    def metric(view: RunView) -> float:
        table = _sampled(view.records, view.start, view.until)
        part = table[table.resource == resource] if not table.empty else table
        return float(part.utilisation.max()) if not part.empty else math.nan

    return metric


METRICS: dict[str, Callable[[RunView], float]] = {
    "submitted": lambda view: float(view.submitted),
    "delivered": lambda view: float(
        (_window(view.messages, "submitted", view.start, view.until).status == "sent").sum()
    ),
    "throughput": _throughput,
    "latency_mean": _latency(None),
    "latency_p50": _latency(0.5),
    "latency_p90": _latency(0.9),
    "latency_p99": _latency(0.99),
    "bounced_share": _share("bounced"),
    "expired_share": _share("expired"),
    "deferred_share": lambda view: outcome_shares(
        view.messages, _window(view.deliveries, "time", view.start, view.until)
    )["deferred_share"],
    "active_mean": _queue("active", "mean"),
    "active_max": _queue("active", "max"),
    "deferred_mean": _queue("deferred", "mean"),
    "deferred_max": _queue("deferred", "max"),
    "incoming_mean": _queue("incoming", "mean"),
    "wait_mean": _mean_wait,
    "utilisation": _utilisation,
    "cpu_utilisation": _busiest("cpu"),
    "disk_utilisation": _busiest("disk"),
}
DEFAULT_METRICS = ("submitted", "delivered", "throughput", "latency_mean", "latency_p50", "latency_p99",
                   "bounced_share", "deferred_share", "active_mean", "deferred_mean")  # fmt: skip


def run_metrics(
    records: Sequence[TraceRecord], until: float, names: Sequence[str] = DEFAULT_METRICS, *, warmup: float = 0.0
) -> dict[str, float]:
    """One flat row of named metrics over ``[warmup, until)`` (names from :data:`METRICS`)."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise KeyError(f"unknown metric {unknown[0]!r}; known: {', '.join(sorted(METRICS))}")
    view = RunView(records, until, warmup)
    return {name: float(METRICS[name](view)) for name in names}


def measure_run(result: Any, names: Sequence[str] = DEFAULT_METRICS, warmup: float = 0.0) -> dict[str, float]:
    """:func:`run_metrics` of a finished run (a ``RunResult``): what sweep workers send back."""
    return run_metrics(result.world.sim.trace.records, result.until, names, warmup=warmup)
