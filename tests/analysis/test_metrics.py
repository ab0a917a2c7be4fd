"""Capacity metrics from the trace: time-weighted depths, percentiles, age buckets, utilisation, one row per run."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from mailsim.analysis import capacity_plots as plots
from mailsim.analysis.frames import queues_frame
from mailsim.analysis.metrics import (
    METRICS,
    age_buckets_over_time,
    hop_latency,
    latency_percentiles,
    outcome_shares,
    queue_depth_series,
    queue_depth_stats,
    run_metrics,
    throughput,
    time_weighted,
    utilisation,
    waiting_times,
)
from mailsim.api import run
from mailsim.core.trace import TraceRecord

MMC = Path(__file__).resolve().parents[2] / "scenarios" / "capacity-mmc"


def queue_move(time: float, qid: str, src: str | None, dst: str | None, host: str = "mx") -> TraceRecord:
    return TraceRecord(time, host, "qmgr", "queue", qid, None, {"src": src, "dst": dst})


def test_a_time_weighted_mean_integrates_the_step_function() -> None:
    import numpy as np

    times, values = np.array([0.0, 10.0, 30.0]), np.array([2.0, 4.0, 0.0])
    assert time_weighted(times, values, 0.0, 40.0) == pytest.approx((2 * 10 + 4 * 20) / 40)
    assert time_weighted(times, values, 20.0, 40.0) == pytest.approx((4 * 10) / 20)  # level carried in
    assert math.isnan(time_weighted(times, values, 5.0, 5.0))


def test_queue_depth_statistics_per_host_and_queue() -> None:
    records = [
        queue_move(0, "A", None, "incoming"), queue_move(0, "A", "incoming", "active"),
        queue_move(10, "B", None, "incoming"), queue_move(10, "B", "incoming", "active"),
        queue_move(20, "A", "active", "deferred"), queue_move(30, "B", "active", None),
    ]  # fmt: skip
    stats = queue_depth_stats(queues_frame(records), end=40).set_index("queue")
    assert stats.loc["active", "mean"] == pytest.approx((1 * 10 + 2 * 10 + 1 * 10) / 40)
    assert stats.loc["active", "max"] == 2 and stats.loc["deferred", "final"] == 1
    series = queue_depth_series(queues_frame(records), step=10, end=40)
    assert list(series[series.queue == "active"].depth) == [1, 2, 1, 0, 0]


def test_age_buckets_follow_qshape_and_count_files_per_queue() -> None:
    records = [queue_move(0, "A", None, "incoming"), queue_move(0, "A", "incoming", "active"),
               queue_move(1, "A", "active", "deferred"), queue_move(400, "B", None, "incoming")]  # fmt: skip
    shape = age_buckets_over_time(records, [100.0, 700.0])
    row = shape[(shape.time == 700.0) & (shape.queue == "deferred")].iloc[0]
    assert row["T"] == 1 and row["20"] == 1  # 700 s old: more than 10, at most 20 minutes
    assert list(shape.columns[:5]) == ["time", "host", "queue", "T", "5"]
    assert len(shape[shape.time == 100.0]) == 1  # B not yet arrived


def test_latency_percentiles_throughput_and_shares_from_a_messages_frame() -> None:
    messages = pd.DataFrame({
        "status": ["sent"] * 4 + ["bounced"], "latency": [1.0, 2.0, 3.0, 4.0, 9.0],
        "submitted": [0.0, 10.0, 20.0, 130.0, 5.0], "finished": [1.0, 12.0, 23.0, 134.0, 14.0],
    })  # fmt: skip
    table = latency_percentiles(messages, (0.5,))
    assert table["count"].iloc[0] == 4 and table.p50.iloc[0] == 2.5 and table["mean"].iloc[0] == 2.5
    assert latency_percentiles(messages, (0.5,), start=15).p50.iloc[0] == 3.5  # warm-up cut by submission
    rate = throughput(messages, every=60)
    assert list(rate[rate.status == "sent"]["count"]) == [3, 0, 1]
    assert outcome_shares(messages)["bounced_share"] == pytest.approx(0.2)


def test_utilisation_and_waiting_come_from_resource_records() -> None:
    def resource(time: float, event: str, busy: int, qid: str) -> TraceRecord:
        return TraceRecord(time, "mx", "resource", event, qid, None, {"resource": "mmc", "busy": busy, "capacity": 2})

    records = [
        TraceRecord(0.0, "mx", "qmgr", "active", "A", None, {}), resource(0.0, "start", 1, "A"),
        TraceRecord(1.0, "mx", "qmgr", "active", "B", None, {}), resource(1.0, "start", 2, "B"),
        TraceRecord(1.0, "mx", "qmgr", "active", "C", None, {}), resource(4.0, "end", 1, "A"),
        resource(4.0, "start", 2, "C"), resource(6.0, "end", 1, "B"), resource(8.0, "end", 0, "C"),
    ]  # fmt: skip
    table = utilisation(records, end=10.0).iloc[0]
    assert table.busy == pytest.approx((1 * 1 + 2 * 5 + 1 * 2) / 10) and table.utilisation == pytest.approx(0.65)
    waits = waiting_times(records)
    assert list(waits.wait) == [0.0, 0.0, 3.0]


def test_run_metrics_gives_one_flat_row_and_rejects_unknown_names() -> None:
    result = run(MMC, until=300)
    row = run_metrics(result.trace.records, 300.0, ["submitted", "wait_mean", "utilisation", "active_max"], warmup=60)
    assert set(row) == {"submitted", "wait_mean", "utilisation", "active_max"}
    assert 350 < row["submitted"] < 620 and 0.4 < row["utilisation"] < 0.9 and row["active_max"] >= 3
    with pytest.raises(KeyError, match="unknown metric 'p99'"):
        run_metrics(result.trace.records, 300.0, ["p99"])
    assert {"throughput", "latency_p99", "deferred_share", "bounced_share"} <= set(METRICS)
    frames = result.frames()
    assert isinstance(plots.queue_depth_figure(queue_depth_series(frames["queues"], step=10, end=300)), Figure)
    assert isinstance(plots.utilisation_figure(utilisation(result.trace.records, end=300)), Figure)
    assert hop_latency(frames["deliveries"]).empty or "a" in hop_latency(frames["deliveries"]).columns


def test_figures_are_built_for_empty_and_full_frames() -> None:
    summary = pd.DataFrame({"arm": [0, 1], "rate": ["1/s", "2/s"], "metric": ["wait_mean"] * 2,
                            "mean": [0.1, 0.4], "half_width": [0.02, 0.05]})  # fmt: skip
    figures = [
        plots.sweep_figure(summary, x="rate", metric="wait_mean"),
        plots.throughput_figure(pd.DataFrame(columns=["time", "status", "count", "rate"])),
        plots.latency_over_time(
            pd.DataFrame({"status": ["sent"] * 3, "latency": [1.0, 2.0, 3.0], "submitted": [0.0, 400.0, 800.0]})
        ),  # fmt: skip
        plots.age_buckets_figure(pd.DataFrame(), host="mx", queue="deferred"),
    ]
    assert all(isinstance(f, Figure) for f in figures)


def test_attempts_figure_counts_each_status_per_run() -> None:
    deliveries = pd.DataFrame({"time": [3.0, 1.0, 2.0, 4.0], "status": ["sent", "sent", "deferred", "sent"]})
    fig = plots.attempts_figure({"feedback 1": deliveries})
    [ax] = fig.axes
    sent, deferred = ax.lines
    assert list(sent.get_xdata()) == [1.0, 3.0, 4.0] and list(sent.get_ydata()) == [1, 2, 3]
    assert list(deferred.get_xdata()) == [2.0] and sent.get_label() == "sent, feedback 1"
    assert isinstance(plots.attempts_figure({"x": deliveries.iloc[:0]}), Figure)
