"""Mail delivered in a ``mailsim serve`` run is read by real clients: poplib, imaplib and fetchmail."""

from __future__ import annotations

import imaplib
import os
import poplib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live.test_serve_swaks import BOUND, DEFAULT, swaks
from tests.peers import require

pytestmark = [pytest.mark.live, pytest.mark.peer]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``mailsim serve`` with a message from alice to bob already submitted through the live MSA."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailsim.cli", "serve", str(DEFAULT), "--until", "120", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    ports: dict[tuple[str, str], int] = {}
    needed = {("mail.example.org", "submission"), ("mx.example.net", "pop3"), ("mx.example.net", "imap")}
    deadline = time.monotonic() + 60
    while not needed <= set(ports) and time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            break
        match = BOUND.match(line.strip())
        if match:
            ports[(match.group(1), match.group(2))] = int(match.group(3))
    if not needed <= set(ports):
        proc.kill()
        pytest.fail(f"mailsim serve bound {ports}")
    out = swaks(ports[("mail.example.org", "submission")], "--to", "bob@example.net", "-tls", "--auth", "PLAIN",
                "--auth-user", "alice@example.org", "--auth-password", "alice-secret", "--header",
                "Subject: read me live")  # fmt: skip
    assert "Ok: queued as" in out
    time.sleep(3)  # relayed across the simulated Internet in real time, then local(8) writes bob's mbox
    yield ports
    proc.terminate()
    proc.wait(timeout=20)


def test_poplib_reads_the_delivered_message(served):
    pop = poplib.POP3("127.0.0.1", served[("mx.example.net", "pop3")], timeout=10)
    pop.user("bob")
    pop.pass_("bob-secret")
    count, _ = pop.stat()
    subjects = [line for i in range(1, count + 1) for line in pop.top(i, 0)[1] if line.startswith(b"Subject:")]
    pop.quit()
    assert b"Subject: read me live" in subjects


def test_imaplib_reads_and_marks_it_seen(served):
    imap = imaplib.IMAP4("127.0.0.1", served[("mx.example.net", "imap")])
    imap.login("bob", "bob-secret")
    imap.select("INBOX")
    _, found = imap.search(None, '(SUBJECT "read me live")')
    [number] = found[0].split()
    imap.store(number, "+FLAGS", "(\\Seen)")
    _, flags = imap.fetch(number, "(FLAGS)")
    imap.logout()
    assert b"\\Seen" in flags[0]


def test_fetchmail_fetches_it_over_pop3(served, tmp_path: Path):
    fetchmail = require("fetchmail")
    rc = tmp_path / "fetchmailrc"
    inbox = tmp_path / "inbox"
    rc.write_text(
        f'poll 127.0.0.1 protocol POP3 port {served[("mx.example.net", "pop3")]}\n'
        f'  user "bob" password "bob-secret" keep mda "/bin/sh -c \'cat >> {inbox}\'"\n'
    )
    rc.chmod(0o600)
    proc = subprocess.run([fetchmail, "-f", str(rc), "--nosslcertck", "-v", "--pidfile", str(tmp_path / "pid")],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)},
                          stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Subject: read me live" in inbox.read_text()


def test_fetchmail_fetches_it_over_imap(served, tmp_path: Path):
    fetchmail = require("fetchmail")
    rc = tmp_path / "fetchmailrc"
    inbox = tmp_path / "inbox"
    rc.write_text(
        f'poll 127.0.0.1 protocol IMAP port {served[("mx.example.net", "imap")]}\n'
        f'  user "bob" password "bob-secret" keep mda "/bin/sh -c \'cat >> {inbox}\'"\n'
    )
    rc.chmod(0o600)
    proc = subprocess.run([fetchmail, "-f", str(rc), "--nosslcertck", "-v", "--all", "--pidfile",
                           str(tmp_path / "pid")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(tmp_path)}, stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Subject: read me live" in inbox.read_text()
