"""STYLE.md principle 12: every scenario folder validates and, run twice with its seed, gives the same trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailsim.api import run
from mailsim.scenario.loader import load

SCENARIOS = sorted(p.parent for p in (Path(__file__).resolve().parent.parent.parent / "scenarios").glob("*/scenario.toml"))
HORIZON = 3600.0  # long enough for every scripted message; keeps the suite quick


@pytest.mark.parametrize("folder", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_scenario_is_deterministic(folder: Path) -> None:
    spec = load(folder)
    until = min(spec.until, HORIZON)
    first, second = run(spec, until=until), run(spec, until=until)
    assert len(first.trace) > 0
    assert first.digest == second.digest
