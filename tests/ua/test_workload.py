"""Workloads: arrival processes, size and count distributions, replayed logs, and generated mail end to end."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mailsim.analysis.maillog import write_maillog
from mailsim.api import run
from mailsim.core.errors import ScenarioError
from mailsim.core.units import parse_size
from mailsim.scenario.loader import ScenarioErrors, load
from mailsim.ua.arrivals import Burst, RateProfile, arrival_times, parse_distribution
from mailsim.ua.replay import read_csv, read_maillog
from tests.mta.worlds import RECEIVER_MAIN, two_hosts

DEFAULT = Path(__file__).resolve().parents[2] / "scenarios" / "default"


def rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- arrival processes -------------------------------------------------------------------------------------


def test_poisson_arrivals_have_the_rate_and_exponential_gaps() -> None:
    times = np.array(list(arrival_times(RateProfile(2.0), rng(), 0.0, 5000.0)))
    assert len(times) == pytest.approx(10_000, abs=3 * 100)  # 3 standard deviations of a Poisson count
    gaps = np.diff(times)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.03)  # coefficient of variation of Exp
    assert times.min() >= 0 and times.max() < 5000


def test_a_diurnal_profile_shapes_arrivals_by_wall_clock_hour() -> None:
    profile = tuple([0.0] * 6 + [1.0] * 12 + [3.0] * 6)  # night silent, evening busiest
    shape = RateProfile(1.0, profile, day_offset=9 * 3600.0)  # t = 0 is 09:00
    times = np.array(list(arrival_times(shape, rng(), 0.0, 86400.0)))
    hours = ((times + 9 * 3600) // 3600 % 24).astype(int)
    counts = np.bincount(hours, minlength=24)
    assert counts[:6].sum() == 0
    assert counts[18:].sum() / counts[6:18].sum() == pytest.approx(1.5, rel=0.1)  # 6 h x 3 against 12 h x 1
    assert len(times) == pytest.approx(86400, rel=0.02)  # the rate stays the daily mean


def test_bursts_add_their_rate_inside_their_window_only() -> None:
    shape = RateProfile(0.1, bursts=(Burst(100.0, 110.0, 50.0),))
    times = np.array(list(arrival_times(shape, rng(), 0.0, 200.0)))
    inside = ((times >= 100) & (times < 110)).sum()
    assert inside == pytest.approx(501, abs=70) and (len(times) - inside) < 40


def test_size_and_count_distributions() -> None:
    lognormal, g = parse_distribution("lognormal(8KB, 1.0)", parse_size), rng(7)
    assert lognormal.mean == 8000  # the mean, not the median; KB is 1000 bytes (mailsim.core.units)
    assert np.mean([lognormal.size(g) for _ in range(20000)]) == pytest.approx(8000, rel=0.05)
    table = parse_distribution({"values": [1, 10], "weights": [3, 1]}, float)
    counts = [table.count(g) for _ in range(4000)]
    assert counts.count(10) / len(counts) == pytest.approx(0.25, abs=0.03)
    assert parse_distribution("20KB", parse_size).size(g) == 20000
    geometric = parse_distribution("geometric(2.5)", float)
    assert np.mean([geometric.count(g) for _ in range(4000)]) == pytest.approx(2.5, rel=0.05)
    for bad in ("lognormal(8KB)", "zipf(2)", "uniform(5, 1)", "exponential(fast)", {"values": [1], "weights": [1, 2]}):
        with pytest.raises(ValueError):
            parse_distribution(bad, parse_size)


# -- replay ---------------------------------------------------------------------------------------------------


def test_a_csv_replay_reads_times_and_columns_and_names_a_bad_row(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("time,from,to,size\n2026-01-05T10:00:05Z,a@x.org,b@y.net;c@y.net,2KB\n2026-01-05T10:00:00Z,,,\n")
    replay = read_csv(good)
    assert [r.time for r in replay.rows] == [0.0, 5.0] and replay.rows[1].recipients == ("b@y.net", "c@y.net")
    assert replay.rows[1].size == 2000 and replay.rows[0].sender is None
    bad = tmp_path / "bad.csv"
    bad.write_text("time,nrcpt\n1s,1\nsoon,2\n3s,0\n4s,1\n")
    with pytest.raises(ScenarioError, match=r"bad.csv:3: expected a time"):
        read_csv(bad)
    lenient = read_csv(bad, lenient=True)
    assert lenient.skipped == 2 and [r.time for r in lenient.rows] == [0.0, 3.0]


def test_a_postfix_maillog_replays_its_qmgr_lines_once_per_message(tmp_path: Path) -> None:
    result = run(DEFAULT)
    log = tmp_path / "maillog"
    write_maillog(result.trace.records, result.world.sim.epoch, log)
    active = result.trace.select("active", service="qmgr", host="mail.example.org")
    replay = read_maillog(log, year=2026, host="mail")
    assert len(replay.rows) == len(active) and replay.skipped == 0
    assert [r.sender for r in replay.rows] == [r.get("sender") for r in active]
    assert [r.time for r in replay.rows] == pytest.approx([r.time - active[0].time for r in active], abs=1.0)
    lines = log.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if "(queue active)" in line)
    lines.insert(first + 1, lines[first])  # the same file activated again (a deferred retry): no new arrival
    lines.insert(3, "Jan  5 09:00:11 mail dovecot: imap-login: Login: user=<bob>")
    log.write_text("\n".join(lines) + "\ngarbage without a timestamp\n")
    with pytest.raises(ScenarioError, match=r"maillog:4: expected a line from a Postfix program"):
        read_maillog(log, year=2026)
    lenient = read_maillog(log, year=2026, lenient=True, host="mail")
    assert lenient.skipped == 2 and len(lenient.rows) == len(active)


# -- the scenario table and mail end to end ---------------------------------------------------------------------


WORKLOAD = """
[[workload]]
kind = "poisson"
from = "example.org"
to = "example.net"
rate = "1/s"
size = "lognormal(4KB, 0.5)"
rcpts = {{ values = [1, 2], weights = [3, 1] }}
population = 20
unknown = 0.1
stop = "2m"
{extra}
"""


DISCARDING = RECEIVER_MAIN + "local_transport = discard\n"  # mailboxes are not what these tests are about


def two_host_workload(tmp_path: Path, extra: str = "", until: str = "10m") -> object:
    return two_hosts(tmp_path, WORKLOAD.format(extra=extra), until=until, receiver_main=DISCARDING)


def test_generated_mail_is_submitted_recorded_and_delivered_or_bounced(tmp_path: Path) -> None:
    result = run(two_host_workload(tmp_path))
    submits = result.trace.select("submit", service="workload")
    assert 90 < len(submits) < 160 and all(r.message_id and r.get("sender").endswith("@example.org") for r in submits)
    everything = result.frame("messages")
    messages = everything[everything.message_id.isin({r.message_id for r in submits})]
    assert sum(r.get("nrcpt") for r in submits) == len(messages)  # every recipient reached a final state
    unknown = messages[messages.recipient.str.startswith("nosuchuser")]
    assert not unknown.empty and (unknown.status == "bounced").all() and (messages.status == "sent").sum() > 100
    assert (messages.latency > 0).all() and messages.latency.max() < 5.0
    notices = everything[~everything.message_id.isin(messages.message_id)]  # the DSNs back to the senders
    assert len(notices) > 0 and set(notices.recipient) <= {r.get("sender") for r in submits}


def test_same_seed_same_trace_and_sizes_do_not_move_arrivals(tmp_path: Path) -> None:
    first = run(two_host_workload(tmp_path / "a", until="3m"))
    again = run(two_host_workload(tmp_path / "b", until="3m"))
    assert first.digest == again.digest
    bigger = run(two_hosts(tmp_path / "c", WORKLOAD.format(extra="").replace("lognormal(4KB, 0.5)", "64KB"),
                           until="3m", receiver_main=DISCARDING))  # fmt: skip
    times = [r.time for r in first.trace.select("submit", service="workload")]
    assert times == [r.time for r in bigger.trace.select("submit", service="workload")]


def test_a_mailing_list_sends_every_message_to_all_its_members(tmp_path: Path) -> None:
    result = run(two_host_workload(tmp_path, "members = 5\nlimit = 3"))
    submits = result.trace.select("submit", service="workload")
    assert len(submits) == 3 and all(r.get("nrcpt") == 5 for r in submits)
    messages = result.frame("messages")
    assert len(messages) == 15 and len(set(messages.recipient)) <= 5


def test_submission_through_port_587_with_auth(tmp_path: Path) -> None:
    folder = tmp_path / "default"
    shutil.copytree(DEFAULT, folder)
    with (folder / "scenario.toml").open("a") as toml:
        toml.write(textwrap.dedent("""
            [[workload]]
            from = "alice@example.org"
            to = "bob@example.net"
            rate = "1/m"
            via = "submission"
            limit = 2
            """))  # fmt: skip
    result = run(folder, until=600)
    sessions = result.trace.select("session", service="workload")
    assert [r.get("outcome") for r in sessions] == ["completed", "completed"]
    assert all(r.host == "laptop.example.org" and r.get("refused") == 0 for r in sessions)
    delivered = result.frame("messages")
    mids = {r.message_id for r in result.trace.select("submit", service="workload")}
    assert (delivered[delivered.message_id.isin(mids)].status == "sent").sum() == 2


def test_workload_mistakes_name_the_key(tmp_path: Path) -> None:
    body = '[[workload]]\nkind = "diurnal"\nfrom = "example.org"\nto = "example.net"\nrate = "1/s"\nsize = "big"\n'
    with pytest.raises(ScenarioErrors) as caught:
        two_hosts(tmp_path, body)
    text = str(caught.value)
    assert "workload[0].size: expected a quantity, fixed(X)" in text
    (tmp_path / "scenario.toml").write_text((tmp_path / "scenario.toml").read_text().replace('size = "big"\n', ""))
    with pytest.raises(ScenarioErrors, match=r"workload\[0\].profile: expected 24 hourly weights"):
        load(tmp_path)
