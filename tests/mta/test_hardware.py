"""A host's CPU cores and disk: a CPU-bound MX, the queue file's fsync, and both fidelities agreeing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mailsim import api
from mailsim.analysis.metrics import utilisation
from mailsim.scenario.loader import load
from mailsim.scenario.spec import ScenarioSpec

ROOT = Path(__file__).resolve().parents[2]
CPU_BOUND = ROOT / "scenarios" / "capacity-cpu"  # 40 ms of CPU per message at the MX
COST = 0.040
WARMUP, UNTIL = 4.0, 16.0  # the measured window; the runs go on a second so that the sample at UNTIL exists


def _cpu_bound(rate: float, cores: int = 1) -> ScenarioSpec:
    def edit(data: dict[str, Any]) -> None:
        data["until"] = f"{UNTIL + 1}s"
        data["workload"][0]["rate"] = f"{rate}/s"
        data["hosts"][1]["hardware"]["cores"] = cores
        data["hosts"][1]["hardware"]["sample"] = "2s"

    return load(CPU_BOUND, edit=edit)


@pytest.fixture(scope="module")
def runs() -> dict[tuple[float, int], api.Result]:
    return {(rate, cores): api.run(_cpu_bound(rate, cores)) for rate, cores in [(8, 1), (16, 1), (23, 1), (23, 2)]}


def _cpu(result: api.Result) -> pd.Series:
    table = utilisation(result.trace.records, start=WARMUP, end=UNTIL)
    return table[(table.host == "mx.example.net") & (table.resource == "cpu")].iloc[0]


def _arrivals(result: api.Result) -> float:
    """The arrival rate the run actually drew, over the measured window."""
    submits = [r for r in result.trace.select("submit") if WARMUP <= r.time < UNTIL]
    return len(submits) / (UNTIL - WARMUP)


@pytest.mark.parametrize(("rate", "cores"), [(8, 1), (16, 1), (23, 2)])
def test_cpu_utilisation_is_arrival_rate_times_cost_over_cores(runs: Any, rate: float, cores: int) -> None:
    result = runs[(rate, cores)]
    # the arrivals the run drew in the window (a Poisson count: 96 at 8/s is +-10 %), times 40 ms, over the cores
    assert _cpu(result).utilisation == pytest.approx(_arrivals(result) * COST / cores, rel=0.05)


def test_near_saturation_the_backlog_keeps_the_core_busy(runs: Any) -> None:
    busy = _cpu(runs[(23, 1)]).utilisation  # offered 0.92: work queued before the window spills into it
    assert 0.9 < busy <= 1.0


def test_latency_grows_as_the_cpu_saturates(runs: Any) -> None:
    latency = [runs[(rate, 1)].frame("messages").latency.mean() for rate in (8, 16, 23)]
    waits = [runs[(rate, 1)].frame("utilisation").query("resource == 'cpu'").wait.mean() for rate in (8, 16, 23)]
    assert latency[0] < latency[1] < latency[2] and latency[2] > 2 * latency[0]
    assert waits[0] < waits[1] < waits[2]
    two_cores = runs[(23, 2)].frame("messages").latency.mean()
    assert two_cores < latency[2] / 2  # the same load on twice the cores is far from saturation


def test_the_utilisation_frame_has_a_row_per_resource_and_sample(runs: Any) -> None:
    frame = runs[(16, 1)].frame("utilisation")
    mx = frame[frame.host == "mx.example.net"]
    assert {"cpu", "disk", "smtpd:smtp", "discard"} <= set(mx.resource)
    assert set(frame.host) == {"mx.example.net"}  # src.example.org declares no hardware: no samples
    cpu = mx[mx.resource == "cpu"]
    assert (cpu.time.diff().dropna().iloc[:-1] == 2.0).all()
    assert cpu.time.iloc[-1] == UNTIL + 1 and cpu.interval.iloc[-1] == 1.0  # the partial last interval is flushed
    assert (mx.utilisation <= 1.0 + 1e-9).all()


# -- the queue file's fsync -----------------------------------------------------------------------------------


def _one_message(fsync: str, fidelity: str = "wire") -> api.Result:
    def edit(data: dict[str, Any]) -> None:
        data["until"] = "10s"
        data["workload"][0].update(rate="1/s", limit=1)
        data["hosts"][1]["hardware"] = {"cores": 1, "fsync": fsync, "cpu": {name: "0s" for name in CPU_NAMES}}

    return api.run(load(CPU_BOUND, edit=edit), fidelity=fidelity)


CPU_NAMES = ("smtpd", "cleanup", "qmgr", "discard")


def _queued_reply_time(result: api.Result) -> float:
    lines = result.frame("transcripts")
    replies = lines[(lines.host == "mx.example.net") & lines.text.str.startswith("250 2.0.0 Ok: queued")]
    return float(replies.time.iloc[0])


def test_the_fsync_delays_the_250_after_data_and_qmgr() -> None:
    slow, instant = _one_message("50ms"), _one_message("0s")
    assert _queued_reply_time(slow) - _queued_reply_time(instant) == pytest.approx(0.050)
    cleanup = slow.trace.select("cleanup", host="mx.example.net")[0].time
    active = slow.trace.select("active", host="mx.example.net")[0].time
    assert active - cleanup == pytest.approx(0.050)  # qmgr hears of the file once it is on disk


def test_a_host_without_hardware_costs_nothing() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["until"] = "10s"
        data["workload"][0].update(rate="1/s", limit=1)
        del data["hosts"][1]["hardware"]

    bare = api.run(load(CPU_BOUND, edit=edit))
    assert not bare.trace.select("sample")
    cleanup = bare.trace.select("cleanup", host="mx.example.net")[0].time
    assert bare.trace.select("active", host="mx.example.net")[0].time == cleanup


# -- both fidelities charge alike -----------------------------------------------------------------------------

DELIVERY_COLUMNS = ["time", "host", "service", "queue_id", "to", "status", "dsn", "delay"]


def _with_hardware(data: dict[str, Any]) -> None:
    for host in data["hosts"]:
        host["hardware"] = {"cores": 1, "fsync": "30ms", "sample": "10s", "cpu": {"smtpd": "20ms + 1ms/KB"}}


@pytest.mark.parametrize("scenario", ["default", "capacity-mx"])
def test_wire_and_fast_give_the_same_outcomes_and_times_with_hardware(scenario: str) -> None:
    spec = load(ROOT / "scenarios" / scenario, edit=_with_hardware)
    wire, fast = api.run(spec, fidelity="wire", until=60), api.run(spec, fidelity="fast", until=60)
    assert len(wire.frame("deliveries")) > 0
    for name, columns in (("deliveries", DELIVERY_COLUMNS), ("utilisation", None)):
        ours, theirs = fast.frame(name), wire.frame(name)
        pd.testing.assert_frame_equal(ours[columns or ours.columns], theirs[columns or theirs.columns])
    assert wire.frame("utilisation").busy.sum() > 0


def test_the_run_summary_names_each_sampled_resource(runs: Any) -> None:
    """`mailsim run` prints how busy the hardware was, so the bottleneck is visible without a notebook."""
    [line] = [line for line in runs[(16, 1)].summary().splitlines() if line.startswith("utilisation on")]
    assert line.startswith("utilisation on mx.example.net: cpu ") and "disk " in line and "smtpd:smtp " in line
    cpu = float(line.split("cpu ")[1].split("%")[0]) / 100
    assert abs(cpu - 16 * 0.040) < 0.1  # 16 msg/s x 40 ms on one core
