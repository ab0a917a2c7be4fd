"""The public Python API: run a scenario and look at the result (notebooks and scripts start here).

    >>> from mailsim.api import run
    >>> result = run("scenarios/default")
    >>> result.frames()["messages"]

:class:`Result` joins the run (``scenario/``, L5) and its views (``analysis/``, L6), which the
layer rules keep apart inside the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mailsim.analysis.frames import all_frames
from mailsim.analysis.maillog import write_maillog
from mailsim.analysis.metrics import utilisation
from mailsim.analysis.plots import standard_figures
from mailsim.analysis.stream import StreamedViews
from mailsim.scenario.loader import load
from mailsim.scenario.runner import RunResult, run_scenario
from mailsim.scenario.spec import ScenarioSpec


@dataclass
class Result:
    """A finished run with its views: ``frames()``, ``summary()``, ``write(out)``."""

    run: RunResult
    _frames: dict[str, pd.DataFrame] | None = field(default=None, repr=False)

    @property
    def world(self) -> Any:
        return self.run.world

    @property
    def spec(self) -> ScenarioSpec:
        return self.run.spec

    @property
    def trace(self) -> Any:
        return self.run.world.sim.trace

    @property
    def digest(self) -> str:
        return self.run.digest

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every frame by name (columns documented in :mod:`mailsim.analysis.frames`)."""
        if self._frames is None:
            self._frames = all_frames(self.trace.records)
        return self._frames

    def frame(self, name: str) -> pd.DataFrame:
        return self.frames()[name]

    def summary(self) -> str:
        """A short table for the terminal: outcomes per status and latency percentiles."""
        messages = self.frame("messages")
        lines = [
            f"scenario {self.spec.name}: {self.run.until:g} s of virtual time, seed {self.world.sim.seed}, "
            f"{len(self.trace)} trace records"
        ]
        if messages.empty:
            lines.append("no message reached a final state")
            return "\n".join(lines)
        counts = messages.groupby("status").size()
        lines.append("final recipients by status: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
        sent = messages[messages.status == "sent"]
        if not sent.empty:
            q = sent.latency.quantile([0.5, 0.9, 0.99])
            lines.append(f"delivery latency (s): p50={q[0.5]:.3f} p90={q[0.9]:.3f} p99={q[0.99]:.3f}")
        lines.extend(self._utilisation_lines())
        table = messages[["recipient", "status", "dsn", "latency", "final_host"]].head(20)
        lines.append(table.to_string(index=False))
        return "\n".join(lines)

    def _utilisation_lines(self) -> list[str]:
        """One line per host with hardware: how busy each sampled resource was over the run (the bottleneck)."""
        if not self.trace.select("sample", service="resource"):
            return []
        table = utilisation(self.trace.records, end=self.run.until)
        lines = []
        for host, part in table.groupby("host", sort=True):
            shares = ", ".join(f"{row.resource} {row.utilisation:.0%}" for row in part.itertuples())
            lines.append(f"utilisation on {host}: {shares}")
        return lines

    def write(self, out: str | Path) -> list[Path]:
        """The trace, every frame, the maillog and the figures into ``out``; returns the files written."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        fmt = self.spec.outputs.format
        written = []
        for name, frame in self.frames().items():
            path = out / f"{name}.{fmt}"
            safe = frame.map(lambda v: v if isinstance(v, (str, int, float, bool, type(None))) else str(v))
            if fmt == "parquet":
                safe.to_parquet(path, index=False)
            else:
                safe.to_csv(path, index=False)
            written.append(path)
        if self.spec.outputs.maillog:
            path = out / "maillog"
            write_maillog(self.trace.records, self.world.sim.epoch, path)
            written.append(path)
        if self.spec.outputs.plots:
            for name, figure in standard_figures(self.frames()).items():
                path = out / f"{name}.png"
                figure.savefig(path, dpi=110, bbox_inches="tight")
                written.append(path)
        return written


@dataclass
class StreamedResult:
    """A run whose tables were written while it ran (:mod:`mailsim.analysis.stream`); no trace kept."""

    run: RunResult
    views: StreamedViews
    written: list[Path]

    @property
    def digest(self) -> str:
        return self.run.digest

    def summary(self) -> str:
        sim = self.run.world.sim
        head = (f"scenario {self.run.spec.name}: {self.run.until:g} s of virtual time, seed {sim.seed}, "
                f"{self.views.records} trace records (streamed, none kept)")  # fmt: skip
        return "\n".join([head, *self.views.summary_lines(self.run.until)])


def run_streamed(
    scenario: str | Path | ScenarioSpec,
    out: str | Path,
    *,
    seed: int | None = None,
    until: float | None = None,
    fidelity: str | None = None,
    progress: bool = False,
    files: Path | None = None,
) -> StreamedResult:
    """Run with no trace kept, the messages/deliveries/queues/utilisation CSVs and the maillog written live.

    Why: memory then follows the mail in flight, so a day of a million messages fits (see
    :mod:`mailsim.analysis.stream` for what is and is not written).
    """
    spec = scenario if isinstance(scenario, ScenarioSpec) else load(scenario)
    holder: list[StreamedViews] = []

    def attach(world: Any) -> None:
        views = StreamedViews(Path(out), world.sim.epoch, maillog=spec.outputs.maillog)
        world.sim.trace.subscribe(views)
        holder.append(views)

    result = run_scenario(spec, seed=seed, until=until, fidelity=fidelity, progress=progress, files=files,
                          prepare=attach, keep_trace=False)  # fmt: skip
    written = holder[0].close(plots=spec.outputs.plots)
    return StreamedResult(result, holder[0], written)


def run(
    scenario: str | Path | ScenarioSpec,
    *,
    seed: int | None = None,
    until: float | None = None,
    fidelity: str | None = None,
    progress: bool = False,
    **options: Any,
) -> Result:
    """Load (if given a folder) and run a scenario; see :func:`mailsim.scenario.runner.run_scenario`."""
    spec = scenario if isinstance(scenario, ScenarioSpec) else load(scenario)
    return Result(run_scenario(spec, seed=seed, until=until, fidelity=fidelity, progress=progress, **options))
