"""Running a scenario: build the world and advance virtual time (with a progress bar when asked).

Views of the result (frames, maillog, figures) belong to ``analysis/``, one layer up; the
public :func:`mailsim.api.run` joins the two.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailsim.scenario.spec import ScenarioSpec
from mailsim.scenario.world import HostBuilder, World, build_world

PROGRESS_STEPS = 100


def role_builders() -> tuple[HostBuilder, ...]:
    """The builders that put agents on hosts, in dependency order (MTAs before the agents that use them)."""
    from mailsim.scenario.roles import ROLE_BUILDERS

    return ROLE_BUILDERS


@dataclass
class RunResult:
    """A finished run: its world (simulation, trace, hosts) and the trace digest."""

    world: World
    until: float
    digest: str

    @property
    def spec(self) -> ScenarioSpec:
        return self.world.spec


def _advance(world: World, until: float, progress: bool) -> None:
    sim = world.sim
    if not progress or until <= 0:
        sim.run(until=until)
        return
    from tqdm import tqdm

    step = until / PROGRESS_STEPS
    with tqdm(total=PROGRESS_STEPS, desc=world.spec.name, unit="%", file=sys.stderr, leave=False) as bar:
        for i in range(1, PROGRESS_STEPS + 1):
            sim.run(until=step * i)
            bar.update(1)


def run_scenario(
    spec: ScenarioSpec,
    *,
    seed: int | None = None,
    until: float | None = None,
    fidelity: str | None = None,
    progress: bool = False,
    builders: tuple[HostBuilder, ...] | None = None,
    prepare: Callable[[World], None] | None = None,
    files: Path | None = None,
    keep_trace: bool = True,
) -> RunResult:
    """Build and run ``spec``; ``prepare`` may add agents, faults or trace sinks before time starts.

    ``files`` is where the hosts' filesystems (mailboxes, delivered files) are written (default: a
    fresh temporary folder). ``keep_trace=False`` keeps no record in memory (sinks see every one).
    """
    world = build_world(spec, seed=seed, fidelity=fidelity, files=files, keep_trace=keep_trace,
                        builders=role_builders() if builders is None else builders)  # fmt: skip
    if prepare is not None:
        prepare(world)
    horizon = spec.until if until is None else until
    _advance(world, horizon, progress)
    for host in world.hosts.values():  # the utilisation of the run's last, partial sample interval
        if getattr(host, "hardware", None) is not None:
            host.hardware.flush()
    _quiet_after_horizon(world)
    return RunResult(world, horizon, world.sim.trace.digest())


def _quiet_after_horizon(world: World) -> None:
    """Sessions the horizon cut short stay pending forever; their tasks being collected is not an error."""
    loop = world.sim.loop
    if loop is None:
        return
    previous = loop.get_exception_handler()

    def handler(event_loop: Any, context: dict[str, Any]) -> None:
        if str(context.get("message", "")).startswith("Task was destroyed but it is pending"):
            return
        if previous is not None:
            previous(event_loop, context)
        else:
            event_loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
