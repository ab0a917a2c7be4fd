"""mailq / postqueue -j against a real Postfix holding an equivalent queue (DESIGN.md §8).

A throwaway Postfix (own config and queue directory, no listener) defers everything through the
``retry`` transport, so the reasons are the same text as in the simulation. Two comparisons:
mailsim's formatters fed with real ``postqueue -j`` give real ``postqueue -p`` and ``-j`` byte
for byte; and mailsim's listing of the same messages posted in a run equals the real one except
queue ids, arrival times and sizes (the message text differs: other headers, other ids).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from datetime import UTC
from pathlib import Path

import pytest

from mailsim.mta.admin import ShowqMessage, ShowqRecipient, format_json, format_mailq, hold, mailq, postqueue_json
from tests.mta.admin_worlds import dead_mx, message
from tests.peers import require

TRANSPORTS = """default_transport = retry:4.4.1 mail for remote domains waits here
transport_maps = inline:{ { slow.example = retry:4.3.2 a reason so long that it does not fit in the seventy-six \
columns that mailq gives it } }
"""
MAIN_CF = """compatibility_level = 3.6
myhostname = mail.example.org
mydomain = example.org
myorigin = $mydomain
mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
biff = no
"""
MASTER_CF = "".join(
    f"{line}\n"
    for line in (
        "pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
        "rewrite unix - - n - - trivial-rewrite", "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify", "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap", "showq unix n - n - - showq", "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache", "postlog unix-dgram n - n - 1 postlogd", "error unix - - n - - error",
        "retry unix - - n - - error", "discard unix - - n - - discard", "smtp unix - - n - - smtp",
        "local unix - n n - - local",
    )
)  # fmt: skip
MESSAGES = [  # sender, recipients: one destination each, so the defer log order is fixed
    ("alice@example.org", ["bob@example.net", '"a b"@example.net']),
    ("", ["eve@slow.example"]),
    ("carol@example.org", ["dave@example.com"]),
]
DEADLINE = 30.0


class RealPostfix:
    """A Postfix instance under a temporary folder, started and stopped with bounded waits."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mailsim-admin-pf-"))
        self.etc = self.root / "etc"

    def __enter__(self) -> RealPostfix:
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        os.chmod(self.root, 0o755)
        for sub in ("etc", "spool", "data"):
            (self.root / sub).mkdir()
        shutil.chown(self.root / "data", "postfix")
        paths = f"queue_directory = {self.root}/spool\ndata_directory = {self.root}/data\n"
        logs = f"maillog_file = {self.root}/maillog\nmaillog_file_prefixes = {self.root}\n"
        (self.etc / "main.cf").write_text(MAIN_CF + TRANSPORTS + paths + logs)
        (self.etc / "master.cf").write_text(MASTER_CF)
        for path in self.etc.iterdir():
            os.utime(path, (946684800, 946684800))  # Postfix waits ~2 s on a freshly written main.cf
        self._run("postfix", "start")

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._run("postfix", "stop", check=False)
        pid_file = self.root / "spool/pid/master.pid"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and pid_file.exists():
            with contextlib.suppress(OSError, ValueError):
                if not Path(f"/proc/{int(pid_file.read_text())}").exists():
                    break
            time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str, stdin: str = "", check: bool = True) -> str:
        option = "-C" if program == "sendmail" else "-c"
        result = subprocess.run([require(program), option, str(self.etc), *args], input=stdin, capture_output=True,
                                text=True, timeout=DEADLINE, env={**os.environ, "TZ": "UTC"})  # fmt: skip
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} {args}: {result.stderr}")
        return result.stdout

    def sendmail(self, sender: str, recipients: list[str]) -> None:
        self._run("sendmail", "-f", sender, *recipients, stdin="Subject: test\n\nhello\n")

    def postqueue(self, flag: str) -> str:
        return self._run("postqueue", flag)

    def wait_deferred(self, count: int) -> list[dict]:
        """The -j records once ``count`` messages wait in deferred with a reason for every recipient."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            records = [json.loads(line) for line in self.postqueue("-j").splitlines()]
            if len(records) == count and all(
                r["queue_name"] == "deferred" and all("delay_reason" in x for x in r["recipients"]) for r in records
            ):
                return records
            time.sleep(0.2)
        raise RuntimeError(f"the messages did not reach the deferred queue:\n{self.postqueue('-p')}")


def _from_json(line: str) -> ShowqMessage:
    r = json.loads(line)
    recipients = tuple(ShowqRecipient(x["address"], x.get("delay_reason", "")) for x in r["recipients"])
    return ShowqMessage(r["queue_name"], r["queue_id"], r["arrival_time"], r["message_size"], r["forced_expire"],
                        r["sender"], recipients)  # fmt: skip


def _masked(listing: str) -> list[str]:
    """mailq text without queue ids, times and sizes; message blocks in a fixed order (hold after deferred)."""
    sender_line = re.compile(r"^[0-9A-Za-z]+([*!#]*) +\d+ .{20} (.*)$", re.M)
    text = sender_line.sub(r"QUEUEID\1 SIZE TIME \2", listing)
    text = re.sub(r"-- \d+ Kbytes in", "-- N Kbytes in", text)
    heading, rest = text.split("\n", 1)
    return [heading, *sorted(rest.split("\n\n"), key=lambda b: ("!" in b.split("\n")[0], b))]


@pytest.fixture(scope="module")
def real_queue():
    require("postqueue")
    if os.geteuid() != 0:
        pytest.skip("a throwaway Postfix instance needs root")
    with RealPostfix() as postfix:
        empty = postfix.postqueue("-p")
        for sender, recipients in MESSAGES:
            postfix.sendmail(sender, recipients)
        records = postfix.wait_deferred(len(MESSAGES))
        alice = next(r["queue_id"] for r in records if r["sender"] == "alice@example.org")
        postfix._run("postsuper", "-h", alice)
        yield empty, postfix.postqueue("-p"), postfix.postqueue("-j")


@pytest.mark.peer
def test_formatters_reproduce_real_postqueue_output(real_queue):
    empty, listing, lines = real_queue
    messages = [_from_json(line) for line in lines.splitlines()]
    assert format_mailq([]) == empty == "Mail queue is empty\n"
    assert format_mailq(messages, tz=UTC) == listing
    assert format_json(messages) == lines
    assert "!" in listing and "(reason unavailable)" not in listing


@pytest.mark.peer
def test_an_equivalent_simulated_queue_lists_the_same(real_queue, tmp_path):
    _, listing, lines = real_queue
    posted = [message(f"{10 * (i + 1)}s", sender, *rcpts) for i, (sender, rcpts) in enumerate(MESSAGES)]
    world, host = dead_mx(tmp_path, *posted, extra=TRANSPORTS)
    hold(host, next(qf.queue_id for qf in host.queue if qf.sender == "alice@example.org"))
    assert _masked(mailq(host)) == _masked(listing)

    def comparable(text: str) -> list[dict]:
        records = [json.loads(line) for line in text.splitlines()]
        for r in records:
            del r["queue_id"], r["arrival_time"], r["message_size"]
        return sorted(records, key=lambda r: r["sender"])

    assert comparable(postqueue_json(host)) == comparable(lines)
