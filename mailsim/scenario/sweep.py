"""Sweeps: a scenario run for every combination of parameter values, each replicated, on a pool or a Dask cluster.

A sweep file (TOML; paths relative to it)::

    scenario = "../capacity-mx"          # the scenario folder
    replications = 5                     # runs per arm; replication r uses seed + r in every arm
    seed = 1                             # base seed (default: the scenario's)
    until = "2h"                         # horizon (default: the scenario's)
    warmup = "10m"                       # metrics ignore what was submitted before
    metrics = ["throughput", "latency_p99", "deferred_mean"]
    design = "grid"                      # every combination; "zip": the i-th values together
    [parameters]
    "workload[0].rate" = ["10/s", "20/s"]
    "hosts.mail.example.org.main_cf.default_process_limit" = [10, 100]

Keys are those of :mod:`mailsim.scenario.overrides`. An arm is one combination of values; every run is
a :class:`RunTask` (picklable: the scenario's folder, the values, the seed) that a worker turns into a
spec, runs, and reduces to one row with the ``measure`` callable it was given (metrics live in
``analysis/``, a layer up, so they are passed in: :func:`mailsim.analysis.sweeps.sweep` does that).

Execution: in this process (``workers=0``), a local process pool (default: 2 workers), or a Dask
``distributed`` cluster (``client=`` a Client, or its scheduler address). Rows are ordered by
(arm, replication) whichever way they ran, and a run depends only on its task, so the DataFrame is
the same on every backend. Dask workers must see the scenario folder at the same path (a shared
file system; a LocalCluster does). Host files are copied into a per-run work folder and removed
afterwards, as is every file the run wrote.
"""

from __future__ import annotations

import itertools
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mailsim.core.errors import ScenarioError
from mailsim.core.units import parse_duration
from mailsim.scenario.loader import ScenarioErrors, read_toml, scenario_file
from mailsim.scenario.locate import line_of
from mailsim.scenario.overrides import BadKey, load_with, parse_key
from mailsim.scenario.replicate import seeds, summarise
from mailsim.scenario.runner import RunResult, run_scenario

Measure = Callable[[RunResult], Mapping[str, float]]
SWEEP_KEYS = ("scenario", "replications", "seed", "until", "warmup", "metrics", "design", "parameters", "fidelity")
DEFAULT_WORKERS = 2


@dataclass(frozen=True, slots=True)
class Sweep:
    """What to run: a scenario, parameter values, replications, and what to measure."""

    scenario: Path
    parameters: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    replications: int = 1
    seed: int | None = None
    until: float | None = None
    warmup: float = 0.0
    metrics: tuple[str, ...] = ()
    design: str = "grid"
    fidelity: str | None = None
    file: str | None = None
    lines: Mapping[str, int] = field(default_factory=dict)

    def arms(self) -> list[dict[str, Any]]:
        """Every combination of values (grid) or the i-th values together (zip), in file order."""
        keys = [k for k, _ in self.parameters]
        values = [v for _, v in self.parameters]
        combos = itertools.product(*values) if self.design == "grid" else zip(*values)
        return [dict(zip(keys, combo)) for combo in combos] if keys else [{}]

    def where(self, key: str) -> dict[str, Any]:
        """file= and line= for an error about ``key`` (a sweep key or a parameter)."""
        line = line_of(dict(self.lines), key) or line_of(dict(self.lines), f"parameters.{key}")
        return {"file": self.file, "line": line}


@dataclass(frozen=True, slots=True)
class RunTask:
    """One run: everything a worker needs, and nothing it cannot pickle."""

    scenario: str
    arm: int
    values: tuple[tuple[str, Any], ...]
    replication: int
    seed: int
    until: float | None
    fidelity: str | None
    measure: Measure


def execute(task: RunTask) -> tuple[dict[str, Any], float]:
    """Run one task in this process: (its row, wall seconds). Every file it wrote is removed."""
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="mailsim-sweep-"))
    result: RunResult | None = None
    try:
        spec = load_with(task.scenario, dict(task.values), workdir)
        result = run_scenario(spec, seed=task.seed, until=task.until, fidelity=task.fidelity)
        row: dict[str, Any] = {"arm": task.arm, "replication": task.replication, "seed": task.seed}
        row.update((key, cell(value)) for key, value in task.values)
        row.update(task.measure(result))
    finally:
        if result is not None and result.world.files is not None:
            shutil.rmtree(result.world.files, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    return row, time.perf_counter() - began


def cell(value: Any) -> Any:
    """A parameter value as a DataFrame cell: scalars as they are, tables and lists as sorted JSON."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class SweepResult:
    """One row per run (arm, replication, seed, parameter values, metrics) and the CI summary."""

    sweep: Sweep
    runs: pd.DataFrame
    wall: pd.Series

    @property
    def metrics(self) -> list[str]:
        fixed = {"arm", "replication", "seed", *(k for k, _ in self.sweep.parameters)}
        return [c for c in self.runs.columns if c not in fixed]

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Per arm and metric: n, mean, std and the Student-t interval at ``level``."""
        by = ["arm", *(k for k, _ in self.sweep.parameters)]
        return summarise(self.runs, by, self.metrics, level)


def load_sweep(path: str | Path) -> Sweep:
    """A sweep from its TOML file; every mistake names the file, line and key."""
    file = Path(path)
    if not file.is_file():
        raise ScenarioError(file=str(file), expected="a sweep file (TOML)", found="no such file")
    data, lines = read_toml(file)
    where: dict[str, Any] = {"file": str(file)}
    for key in data:
        if key not in SWEEP_KEYS:
            raise ScenarioError(**where, line=line_of(lines, key), key=key, expected="one of " + ", ".join(SWEEP_KEYS),
                                found=key)  # fmt: skip
    if not isinstance(data.get("scenario"), str):
        raise ScenarioError(**where, key="scenario", expected="the scenario folder (relative to the sweep file)",
                            found=data.get("scenario", "nothing"))  # fmt: skip
    parameters = data.get("parameters", {})
    if not isinstance(parameters, dict) or not all(isinstance(v, list) and v for v in parameters.values()):
        raise ScenarioError(**where, line=line_of(lines, "parameters"), key="parameters",
                            expected='a table of key = [values] such as "workload[0].rate" = ["1/s", "2/s"]',
                            found=parameters)  # fmt: skip
    sweep = Sweep(
        scenario=(file.parent / data["scenario"]), parameters=tuple((k, tuple(v)) for k, v in parameters.items()),
        replications=_integer(data, "replications", 1, file, lines), seed=data.get("seed"),
        until=_duration(data, "until", file, lines), warmup=_duration(data, "warmup", file, lines) or 0.0,
        metrics=tuple(data.get("metrics", ())), design=str(data.get("design", "grid")),
        fidelity=data.get("fidelity"), file=str(file), lines=lines,
    )  # fmt: skip
    check_sweep(sweep)
    return sweep


def _integer(data: dict[str, Any], key: str, default: int, file: Path, lines: Mapping[str, int]) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScenarioError(file=str(file), line=line_of(dict(lines), key), key=key, expected="a positive integer",
                            found=value)  # fmt: skip
    return value


def _duration(data: dict[str, Any], key: str, file: Path, lines: Mapping[str, int]) -> float | None:
    if key not in data:
        return None
    try:
        return parse_duration(data[key])
    except (ValueError, TypeError):
        raise ScenarioError(file=str(file), line=line_of(dict(lines), key), key=key,
                            expected='a duration like "2h"', found=data[key]) from None  # fmt: skip


def check_sweep(sweep: Sweep) -> None:
    """Every key names something and every arm loads: errors name the sweep file, line and key."""
    scenario_file(sweep.scenario)
    if sweep.design not in ("grid", "zip"):
        raise ScenarioError(**sweep.where("design"), key="design", expected="grid or zip", found=sweep.design)
    if sweep.design == "zip" and len({len(v) for _, v in sweep.parameters}) > 1:
        raise ScenarioError(**sweep.where("parameters"), key="parameters",
                            expected="lists of equal length (design = zip)", found="lists of different lengths")  # fmt: skip
    for key, _ in sweep.parameters:
        try:
            parse_key(key)
        except BadKey as exc:
            raise ScenarioError(**sweep.where(key), key=key, expected=exc.expected, found=key) from None
    for arm in sweep.arms():
        workdir = Path(tempfile.mkdtemp(prefix="mailsim-check-"))
        try:
            load_with(sweep.scenario, arm, workdir)
        except BadKey as exc:
            key = next((k for k in arm if exc.key and k.startswith(exc.key)), next(iter(arm), "parameters"))
            raise ScenarioError(**sweep.where(key), key=key, expected=exc.expected, found=arm.get(key)) from None
        except ScenarioErrors as exc:
            raise _blame(sweep, arm, exc) from None
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _blame(sweep: Sweep, arm: Mapping[str, Any], exc: ScenarioErrors) -> ScenarioError:
    """A scenario that no longer validates with this arm's values: say which sweep key did it."""
    first = exc.errors[0]
    named = first.key or ""
    key = next((k for k in arm if named == k or named.startswith((k + ".", k + "["))), next(iter(arm), "parameters"))
    return ScenarioError(f"with {key} = {arm.get(key)!r} the scenario fails ({first})", **sweep.where(key), key=key)


def tasks(sweep: Sweep, measure: Measure) -> list[RunTask]:
    """Every run of the sweep, arm-major; replication r of each arm has the same seed."""
    base = sweep.seed
    if base is None:
        from mailsim.scenario.loader import load

        base = load(sweep.scenario).seed
    out = []
    for arm, values in enumerate(sweep.arms()):
        for replication, seed in enumerate(seeds(base, sweep.replications)):
            out.append(RunTask(str(sweep.scenario), arm, tuple(values.items()), replication, seed, sweep.until,
                               sweep.fidelity, measure))  # fmt: skip
    return out


def run_sweep(
    sweep: Sweep, measure: Measure, *, client: Any = None, workers: int = DEFAULT_WORKERS, progress: bool = True,
) -> SweepResult:  # fmt: skip
    """Run every task (see the module docstring for the backends) and collect one DataFrame."""
    todo = tasks(sweep, measure)
    if client is not None:
        results = _on_dask(todo, client, progress)
    elif workers <= 0 or len(todo) == 1:
        results = [execute(t) for t in _bar(todo, progress, len(todo))]
    else:
        results = _on_pool(todo, workers, progress)
    order = sorted(range(len(todo)), key=lambda i: (todo[i].arm, todo[i].replication))
    runs = pd.DataFrame([results[i][0] for i in order])
    wall = pd.Series([results[i][1] for i in order], name="wall_s")
    return SweepResult(sweep, runs, wall)


def _bar(items: Iterable[Any], progress: bool, total: int) -> Iterable[Any]:
    if not progress:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc="sweep", unit="run", file=sys.stderr)


def _on_pool(todo: Sequence[RunTask], workers: int, progress: bool) -> list[tuple[dict[str, Any], float]]:
    from concurrent.futures import as_completed

    with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
        futures = {pool.submit(execute, task): i for i, task in enumerate(todo)}
        results: list[Any] = [None] * len(todo)
        for future in _bar(as_completed(futures), progress, len(todo)):
            results[futures[future]] = future.result()
    return results


def _on_dask(todo: Sequence[RunTask], client: Any, progress: bool) -> list[tuple[dict[str, Any], float]]:
    from distributed import Client, as_completed

    own = isinstance(client, str)
    dask = Client(client) if own else client
    try:
        futures = dask.map(execute, list(todo), pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * len(todo)
        for future in _bar(as_completed(futures), progress, len(todo)):
            results[index[future.key]] = future.result()
        return results
    finally:
        if own:
            dask.close()
