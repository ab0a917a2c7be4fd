"""A streamed run writes the same tables and maillog as a kept trace, and keeps no record."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mailsim.api import run, run_streamed

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("messages", "deliveries", "queues", "utilisation")


def _as_csv(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A kept run's frame read back as the streamed CSV is (same value formatting, same dtypes)."""
    frame.map(lambda v: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)).to_csv(path, index=False)
    return pd.read_csv(path)


@pytest.mark.parametrize("scenario", ["default", "capacity-mx"])
def test_streamed_tables_equal_the_kept_trace(scenario: str, tmp_path: Path) -> None:
    streamed = run_streamed(ROOT / "scenarios" / scenario, tmp_path / "s", files=tmp_path / "f1")
    kept = run(ROOT / "scenarios" / scenario, files=tmp_path / "f2")
    assert streamed.digest == kept.digest
    assert len(streamed.run.world.sim.trace) == 0 and streamed.views.records == kept.trace.count
    frames = kept.frames()
    for name in TABLES:
        got = pd.read_csv(tmp_path / "s" / f"{name}.csv")
        want = _as_csv(frames[name], tmp_path / f"{name}.csv")
        assert len(got) == len(frames[name])
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
    kept.write(tmp_path / "k")
    assert (tmp_path / "s" / "maillog").read_text() == (tmp_path / "k" / "maillog").read_text()


def test_streamed_summary_matches_the_kept_one(tmp_path: Path) -> None:
    streamed = run_streamed(ROOT / "scenarios" / "default", tmp_path / "s", files=tmp_path / "f1")
    kept = run(ROOT / "scenarios" / "default", files=tmp_path / "f2")
    got = streamed.summary().splitlines()
    want = kept.summary().splitlines()
    assert got[0].endswith("(streamed, none kept)")
    assert got[1:3] == want[1:3]  # statuses and latency percentiles
    plots = {p.name for p in streamed.written if p.suffix == ".png"}
    assert plots == {"queue_depths.png", "latency_cdf.png", "outcomes.png"}


def test_cli_stream(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mailsim.cli import main

    assert main(["run", str(ROOT / "scenarios" / "capacity-mx"), "--stream", "--out", str(tmp_path / "o")]) == 0
    shown = capsys.readouterr().out
    assert "(streamed, none kept)" in shown and "final recipients by status: bounced=" in shown
    assert (tmp_path / "o" / "messages.csv").stat().st_size > 0
