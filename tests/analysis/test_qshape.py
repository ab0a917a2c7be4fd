"""qshape: Postfix's buckets, domain rows and text layout, over a host's queue, over time, and against real qshape."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from mailsim.analysis.qshape import (
    QshapeOptions,
    attach_qshape_sampler,
    bucket,
    count,
    domain_of,
    format_qshape,
    headings,
    parse_qshape_args,
    qshape,
    qshape_over_time,
    run_qshape,
)
from mailsim.mail.queuefile import encode_record
from mailsim.scenario.runner import run_scenario
from tests.mta.admin_worlds import DEAD_MX, STANDARD, dead_mx
from tests.mta.worlds import two_hosts
from tests.peers import require

MINUTE = 60.0
EMPTY = (
    "                                         T  5 10 20 40 80 160 320 640 1280 1280+\n"
    "                                  TOTAL  0  0  0  0  0  0   0   0   0    0     0\n"
)  # real qshape on empty queues


def test_the_default_columns_double_from_five_minutes():
    assert headings() == ["T", "5", "10", "20", "40", "80", "160", "320", "640", "1280", "1280+"]
    assert headings(QshapeOptions(buckets=4, bucket_time=3, linear=True)) == ["T", "3", "6", "9", "9+"]


@pytest.mark.parametrize(
    ("minutes", "column"),
    [(0, "5"), (4.99, "5"), (5, "10"), (9.99, "10"), (10, "20"), (639.9, "640"), (640, "1280"), (1279.9, "1280"),
     (1280, "1280+"), (100000, "1280+")],
)  # fmt: skip
def test_bucket_boundaries(minutes, column):
    assert headings()[bucket(minutes * MINUTE)] == column


def test_linear_buckets():
    options = QshapeOptions(buckets=4, bucket_time=3, linear=True)
    assert [bucket(m * MINUTE, options) for m in (0, 2.9, 3, 6, 9, 60)] == [1, 1, 2, 3, 4, 4]


@pytest.mark.parametrize(
    ("address", "domain"),
    [("User@Example.COM", "example.com"), ("", "MAILER-DAEMON"), ("root", "root"), ("a@b..c.", "b.c"),
     ('"x@y"@z.org', "z.org"), ("a@.x.", "x")],
)  # fmt: skip
def test_row_names(address, domain):
    assert domain_of(address) == domain


def test_rows_are_recipient_domains_ordered_by_total():
    entries = [
        (0.0, "s@one.example", ["a@big.example", "b@big.example", "c@small.example"]),
        (0.0, "", ["d@big.example"]),
        (0.0, "s@one.example", []),  # every recipient done: not counted at all
    ]
    frame = count(entries, now=12 * MINUTE)
    assert list(frame.index) == ["TOTAL", "big.example", "small.example"]
    assert frame.loc["big.example", "T"] == 3 and frame.loc["big.example", "20"] == 3
    senders = count(entries, now=0.0, options=QshapeOptions(senders=True))
    assert senders["T"].to_dict() == {"TOTAL": 2, "MAILER-DAEMON": 1, "one.example": 1}


def test_a_short_domain_holding_everything_sorts_before_total():
    assert list(count([(0.0, "s@x", ["a@a.io"])], now=0.0).index) == ["a.io", "TOTAL"]  # as qshape's sort does


def test_parent_domains_need_enough_subdomains():
    entries = [(0.0, "s@x", [f"u@h{i}.example.com" for i in range(3)] + ["v@other.org"])]
    assert ".example.com" not in count(entries, 0.0, QshapeOptions(parents=True)).index  # 3 < 5 subdomains
    frame = count(entries, 0.0, QshapeOptions(parents=True, min_subdomains=3))
    assert frame.loc[".example.com", "T"] == 3 and ".com" not in frame.index


def test_the_text_layout():
    assert format_qshape(count([], now=0.0)) == EMPTY
    long = "x" * 70 + ".example"
    text = format_qshape(count([(0.0, "s@x", [f"u@{long}"])], now=0.0))
    assert text.splitlines()[2] == "+" + long[-38:] + "  1  1  0  0  0  0   0   0   0    0     0"


def test_qshape_of_a_hosts_deferred_queue(tmp_path):
    world, host = dead_mx(tmp_path, until=700.0)
    frame = qshape(host, ["deferred"])
    assert frame.loc["example.net"].tolist() == [3, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]  # 11 to 12 minutes old
    assert qshape(host).loc["TOTAL", "T"] == 0  # the default queues (incoming, active) are empty
    out = run_qshape(host, ["-s", "deferred"])
    assert out.exit_code == 0 and out.stdout.splitlines()[2].split()[:2] == ["example.org", "1"]
    assert run_qshape(host, ["nowhere"]).stderr == "Can't stat nowhere: No such file or directory\n"
    bad = run_qshape(host, ["-x"])
    assert bad.exit_code == 255 and bad.stderr.startswith("qshape: Unknown option: x\nUsage: qshape")


def test_the_shape_over_time_from_a_sampler(tmp_path):
    spec = two_hosts(tmp_path, DEAD_MX + "".join(STANDARD), until="1d")
    holder = []
    result = run_scenario(spec, until=1800.0, prepare=lambda w: holder.append(
        attach_qshape_sampler(w, times=[0.0, 600.0, 1200.0, 1800.0], hosts=["mail.example.org"],
                              queues=["deferred"])))  # fmt: skip
    holder[0].catch_up(result.world)  # the sample due at 1800 s, where the run stopped
    frame = holder[0].frame()
    totals = frame[frame.domain == "TOTAL"].set_index("time")
    assert list(totals.index) == [0.0, 600.0, 1200.0, 1800.0]
    assert totals["T"].tolist() == [0, 3, 3, 3]
    assert totals.loc[1200.0, "20"] == 3  # about 20 minutes old
    again = qshape_over_time(spec, [600.0, 1200.0], hosts=["mail.example.org"], queues=["deferred"])
    assert again[again.domain == "TOTAL"]["T"].tolist() == [3, 3]


# -- real qshape on queue files written in Postfix's record format -----------------------------------------


def _queue_file(arrival: int, sender: str, recipients: list[str], done: list[str]) -> bytes:
    content = b"".join(encode_record("N", line) for line in (b"Subject: x", b"", b"body"))
    envelope = encode_record("T", f"{arrival} 0".encode()) + encode_record("S", sender.encode())
    envelope += b"".join(encode_record("R", r.encode()) for r in recipients)
    envelope += b"".join(encode_record("D", r.encode()) for r in done)
    size = encode_record("C", f"{len(content):15d} {0:15d} {len(recipients):15d}".encode())
    return size + envelope + encode_record("M", b"") + content + encode_record("X", b"") + encode_record("E", b"")


QUEUE = [  # minutes old, sender, pending recipients, done recipients
    (2, "alice@example.org", ["a@big.example", "b@Big.Example", "c@h1.parent.example"], ["x@done.example"]),
    (7, "", ["d@big.example", "e@hh2.parent.example"], []),
    (15, "bob@example.org", ["f@big.example", "g@hhh3.parent.example", "h@mid.example."], []),
    (30, "carol@example.net", ["i@big.example", "j@mid.example"], []),
    (190, "alice@example.org", ["k@big.example", "l@hhhh4.parent.example"], []),
    (2900, "dave@a.very.long.subdomain.of.some.organisation.example", ["m@big.example"], []),
    (50, "eve@example.org", [], ["n@done.example"]),
]


@pytest.mark.peer
@pytest.mark.parametrize("options", [[], ["-s"], ["-p", "-m", "2"], ["-l", "-b", "4", "-t", "3"], ["-w", "100"]])
def test_same_text_as_real_qshape(tmp_path, options):
    qshape_program = require("qshape")
    (tmp_path / "spool/deferred/A").mkdir(parents=True)
    (tmp_path / "main.cf").write_text(f"compatibility_level = 3.6\nqueue_directory = {tmp_path}/spool\n")
    (tmp_path / "master.cf").write_text("")
    for path in tmp_path.iterdir():
        os.utime(path, (946684800, 946684800))
    now = int(time.time())
    entries = []
    for i, (minutes, sender, pending, done) in enumerate(QUEUE):
        arrival = now - int(minutes * MINUTE)
        path = Path(tmp_path / f"spool/deferred/A/A{i:05d}BCDEF")
        path.write_bytes(_queue_file(arrival, sender, pending, done))
        path.chmod(0o700)
        entries.append((float(arrival), sender, pending))
    real = subprocess.run([qshape_program, "-c", str(tmp_path), *options, "deferred"], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "MAIL_CONFIG": str(tmp_path)})  # fmt: skip
    assert real.returncode == 0, real.stderr
    ours = run_qshape_entries(entries, now, options)
    assert ours == real.stdout


def run_qshape_entries(entries, now, argv):
    """mailsim's qshape over the same files, with the same switches."""
    options, _, width = parse_qshape_args(argv)
    return format_qshape(count(entries, float(now), options), width=width)
