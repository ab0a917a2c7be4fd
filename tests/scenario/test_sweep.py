"""Sweeps: sweep files, scenario keys and Postfix parameters as arms, common seeds, CIs, pool and Dask alike."""

from __future__ import annotations

import textwrap
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from mailsim.analysis.metrics import measure_run
from mailsim.analysis.sweeps import sweep
from mailsim.cli import main
from mailsim.core.errors import ScenarioError
from mailsim.scenario.overrides import BadKey, load_with, parse_key
from mailsim.scenario.replicate import mean_ci, t_quantile
from mailsim.scenario.sweep import load_sweep, run_sweep

MMC = Path(__file__).resolve().parents[2] / "scenarios" / "capacity-mmc"
HOST = "mta.example.org"


def write_sweep(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(f'scenario = "{MMC}"\n' + textwrap.dedent(body))
    return path


def test_student_t_quantiles_match_the_tables() -> None:
    for df, expected in ((1, 12.7062), (4, 2.7764), (9, 2.2622), (29, 2.0452)):
        assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)
    interval = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert interval.mean == 2.5 and interval.half == pytest.approx(3.1824 * 1.29099 / 2, rel=1e-4)
    assert 2.5 in interval and 10.0 not in interval


def test_keys_name_scenario_paths_main_cf_parameters_and_master_cf_columns() -> None:
    assert parse_key("workload[0].rate").parts == (("workload", 0), ("rate", None))
    assert parse_key(f"hosts.{HOST}.main_cf.default_process_limit").name == "default_process_limit"
    key = parse_key(f"hosts.{HOST}.master_cf.mmc/unix.maxproc")
    assert (key.host, key.name, key.service_type, key.column) == (HOST, "mmc", "unix", "maxproc")
    for bad in ("workload[0].speed", "nonsense", "until[0]", f"hosts.{HOST}.main_cf.no_such_parameter"):
        with pytest.raises(BadKey):
            parse_key(bad)


def test_a_main_cf_override_goes_into_a_copy_and_the_original_is_untouched(tmp_path: Path) -> None:
    original = (MMC / "hosts/mta/master.cf").read_text()
    spec = load_with(MMC, {f"hosts.{HOST}.master_cf.mmc.maxproc": 1, f"hosts.{HOST}.main_cf.queue_run_delay": "60s",
                           "workload[0].rate": "3/s"}, tmp_path)  # fmt: skip
    host = spec.host(HOST)
    assert host.config == tmp_path / HOST and spec.workload[0].rate == 3.0
    assert "queue_run_delay = 60s" in (host.config / "main.cf").read_text()
    assert "mmc unix - - n - 1 discard" in (host.config / "master.cf").read_text()
    assert (MMC / "hosts/mta/master.cf").read_text() == original


def test_an_unknown_parameter_names_the_sweep_file_line_and_key(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, '[parameters]\n"workload[0].rate" = ["1/s"]\n"workload[0].speed" = [1, 2]\n')
    with pytest.raises(ScenarioError) as caught:
        load_sweep(path)
    assert str(caught.value).startswith(f"{path}:4: workload[0].speed: expected a scenario key")
    path = write_sweep(tmp_path, f'[parameters]\n"hosts.{HOST}.main_cf.default_proces_limit" = [1]\n')
    with pytest.raises(ScenarioError, match=r"sweep.toml:3: hosts.mta.example.org.main_cf.default_proces_limit: "
                                            r"expected a Postfix main.cf parameter"):  # fmt: skip
        load_sweep(path)


def test_a_bad_value_and_a_missing_list_entry_name_the_sweep_key(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, '[parameters]\n"workload[0].rate" = ["fast"]\n')
    with pytest.raises(ScenarioError, match=r"sweep.toml:3: workload\[0\].rate: with workload\[0\].rate = 'fast'"):
        load_sweep(path)
    path = write_sweep(tmp_path, '[parameters]\n"workload[3].rate" = ["1/s"]\n')
    with pytest.raises(ScenarioError, match=r"workload\[3\].rate: expected an index below 1"):
        load_sweep(path)
    assert main(["sweep", str(path), "-q"]) == 2


def _small(tmp_path: Path) -> Path:
    return write_sweep(
        tmp_path,
        f"""
        replications = 2
        seed = 5
        until = "150s"
        warmup = "20s"
        metrics = ["submitted", "wait_mean", "utilisation"]
        [parameters]
        "hosts.{HOST}.master_cf.mmc.maxproc" = [2, 4]
        """,
    )


def test_a_sweep_gives_one_row_per_run_with_common_seeds_and_a_summary(tmp_path: Path) -> None:
    result = sweep(_small(tmp_path), workers=0)
    runs = result.runs
    assert list(runs.arm) == [0, 0, 1, 1] and list(runs.seed) == [5, 6, 5, 6]
    assert list(runs.submitted[:2]) == list(runs.submitted[2:])  # same arrivals in both arms (CRN)
    assert (runs.wait_mean[runs.arm == 0].to_numpy() > runs.wait_mean[runs.arm == 1].to_numpy()).all()
    summary = result.summary()
    assert set(summary.metric) == {"submitted", "wait_mean", "utilisation"} and (summary.n == 2).all()
    assert (summary.ci_low <= summary["mean"]).all() and (summary["mean"] <= summary.ci_high).all()


def test_the_local_pool_and_a_dask_cluster_give_the_same_dataframe(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    spec = load_sweep(_small(tmp_path))
    measure = partial(measure_run, names=spec.metrics, warmup=spec.warmup)
    local = run_sweep(spec, measure, workers=2, progress=False)
    # worker threads in this process: quick to start; the pool above already proves the tasks pickle
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = run_sweep(spec, measure, client=client, progress=False)
    pd.testing.assert_frame_equal(local.runs, remote.runs)


def test_the_cli_writes_runs_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["sweep", str(_small(tmp_path)), "--workers", "0", "--out", str(out), "-q"]) == 0
    assert len(pd.read_csv(out / "runs.csv")) == 4 and not pd.read_csv(out / "summary.csv").empty
