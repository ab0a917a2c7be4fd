"""Validation against queueing theory: one MTA as an M/M/c queue reproduces Erlang C.

scenarios/capacity-mmc: Poisson arrivals at 2/s through sendmail, c = 3 processes of a discard(8)
transport (master.cf maxproc), each delivery holding its process for an exponential time of mean 1 s
(the host's service_time, the resource model). The wait is measured from qmgr's activation to the
start of service. Each replication is an independent estimate; the 95 % Student-t interval over
them must contain the Erlang C mean wait (4/9 s) and utilisation (2/3). The same sweep with
deterministic service (M/D/3, whose mean wait is about half) must *not* match: the test can fail.
The seeds are fixed, so the outcome is deterministic (each interval covers the truth with 95 %).
"""

from __future__ import annotations

import math
from pathlib import Path

from mailsim.analysis.sweeps import sweep

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "capacity-mmc"
ARRIVAL_RATE, SERVICE_MEAN, SERVERS = 2.0, 1.0, 3


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a = lambda / mu < c."""
    top = load**servers / math.factorial(servers) * servers / (servers - load)
    return top / (sum(load**k / math.factorial(k) for k in range(servers)) + top)


def mmc_mean_wait(rate: float, mean_service: float, servers: int) -> float:
    load = rate * mean_service
    return erlang_c(servers, load) * mean_service / (servers - load)


def test_erlang_c_by_hand() -> None:
    assert math.isclose(erlang_c(3, 2.0), 4 / 9)
    assert math.isclose(mmc_mean_wait(2.0, 1.0, 3), 4 / 9)
    assert math.isclose(mmc_mean_wait(0.5, 1.0, 1), 1.0)  # M/M/1: rho / (mu - lambda)


def test_mmc_mean_wait_and_utilisation_are_within_the_replications_interval() -> None:
    result = sweep(
        SCENARIO,
        {"hosts[0].service_time": [{"mmc": "exponential(1s)"}, {"mmc": "fixed(1s)"}]},
        replications=8, seed=1, until=1100.0, warmup=100.0, metrics=["wait_mean", "utilisation"], workers=2,
    )  # fmt: skip
    summary = result.summary().set_index(["arm", "metric"])
    wait, busy = mmc_mean_wait(ARRIVAL_RATE, SERVICE_MEAN, SERVERS), ARRIVAL_RATE * SERVICE_MEAN / SERVERS
    exponential_wait, exponential_busy = summary.loc[(0, "wait_mean")], summary.loc[(0, "utilisation")]
    assert exponential_wait.ci_low <= wait <= exponential_wait.ci_high, exponential_wait
    assert exponential_busy.ci_low <= busy <= exponential_busy.ci_high, exponential_busy
    deterministic_wait = summary.loc[(1, "wait_mean")]
    assert deterministic_wait.ci_high < wait, deterministic_wait  # M/D/3 waits less: the test has power
    assert len(result.runs) == 16 and list(result.runs.seed[:8]) == list(result.runs.seed[8:])  # common seeds
