"""Sweeps with metrics: the Python call and the ``mailsim sweep`` command.

:mod:`mailsim.scenario.sweep` runs the arms and replications; the metrics each run is reduced to live
here, one layer up (:mod:`mailsim.analysis.metrics`), and are handed down as a picklable callable.

    >>> from mailsim.analysis.sweeps import sweep
    >>> result = sweep("scenarios/capacity-mmc", {"workload[0].rate": ["1/s", "2/s"]}, replications=5,
    ...                metrics=["wait_mean", "utilisation"], until="20m", warmup="2m")
    >>> result.runs          # one row per run
    >>> result.summary()     # per arm and metric: mean and 95 % Student-t interval
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from mailsim.analysis.metrics import DEFAULT_METRICS, METRICS, measure_run
from mailsim.core.errors import ScenarioError
from mailsim.core.units import parse_duration
from mailsim.scenario.sweep import DEFAULT_WORKERS, Sweep, SweepResult, check_sweep, load_sweep, run_sweep

EXIT_USAGE = 2


def measure_for(sweep: Sweep) -> partial[dict[str, float]]:
    """The picklable per-run reducer: the sweep's metrics (or the defaults) after its warm-up."""
    names = sweep.metrics or DEFAULT_METRICS
    for name in names:
        if name not in METRICS:
            raise ScenarioError(**sweep.where("metrics"), key="metrics",
                                expected="metric names among " + ", ".join(sorted(METRICS)), found=name)  # fmt: skip
    return partial(measure_run, names=tuple(names), warmup=sweep.warmup)


def sweep(
    scenario: str | Path | Sweep, parameters: Mapping[str, Sequence[Any]] | None = None, *,
    replications: int = 1, seed: int | None = None, until: str | float | None = None,
    warmup: str | float = 0.0, metrics: Sequence[str] = (), design: str = "grid", fidelity: str | None = None,
    client: Any = None, workers: int = DEFAULT_WORKERS, progress: bool = False,
) -> SweepResult:  # fmt: skip
    """Run a sweep given as a :class:`Sweep`, a sweep file, or a scenario folder plus keyword arguments."""
    if isinstance(scenario, Sweep):
        spec = scenario
    elif Path(scenario).is_file():
        spec = load_sweep(scenario)
    else:
        spec = Sweep(
            Path(scenario), tuple((k, tuple(v)) for k, v in (parameters or {}).items()), replications, seed,
            parse_duration(until) if until is not None else None, parse_duration(warmup), tuple(metrics), design,
            fidelity,
        )  # fmt: skip
        check_sweep(spec)
    return run_sweep(spec, measure_for(spec), client=client, workers=workers, progress=progress)
