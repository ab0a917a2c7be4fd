"""STYLE.md principle 12: every scenario folder validates and, run twice with its seed, gives the same trace."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mailsim.api import run
from mailsim.scenario.loader import load
from mailsim.scenario.runner import role_builders
from mailsim.scenario.world import check_world

SCENARIOS = sorted(
    p.parent for p in (Path(__file__).resolve().parent.parent.parent / "scenarios").glob("*/scenario.toml")
)
HORIZON = 3600.0  # long enough for every scripted message; keeps the suite quick


@pytest.mark.parametrize("folder", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_scenario_is_deterministic(folder: Path) -> None:
    spec = load(folder)
    until = min(spec.until, HORIZON)
    first, second = run(spec, until=until), run(spec, until=until)
    assert len(first.trace) > 0
    assert first.digest == second.digest


def test_model_knobs_are_not_unused_parameters_but_typos_are(tmp_path: Path) -> None:
    """mailsim reads mailsim_smtpd_greeting_delay/_jitter (postconf would call them unused); a misspelt knob warns."""
    folder = tmp_path / "limiter"
    shutil.copytree(SCENARIOS[0].parent / "capacity-active-limiter", folder)
    assert not [w for w in check_world(load(folder), role_builders()) if "unused parameter" in w]
    with (folder / "hosts/mx/main.cf").open("a") as main_cf:
        main_cf.write("mailsim_smtpd_greting_delay = 1s\n")
    [warning] = [w for w in check_world(load(folder), role_builders()) if "unused parameter" in w]
    assert warning.endswith("unused parameter: mailsim_smtpd_greting_delay=1s")
