"""swaks against ``mailsim serve``: the simulated MSA and MTA answer a real client on loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.peers import require

pytestmark = [pytest.mark.live, pytest.mark.peer]
DEFAULT = Path(__file__).resolve().parent.parent.parent / "scenarios" / "default"
BOUND = re.compile(r"^(\S+) (\S+) 127\.0\.0\.1:(\d+)$")


@pytest.fixture(scope="module")
def ports():
    """Start ``mailsim serve`` on the default scenario and read its ``HOST SERVICE 127.0.0.1:PORT`` lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailsim.cli", "serve", str(DEFAULT), "--until", "120", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    found: dict[tuple[str, str], int] = {}
    deadline = time.monotonic() + 60
    needed = {("mail.example.org", "smtp"), ("mail.example.org", "submission")}
    while not needed <= set(found) and time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            break
        match = BOUND.match(line.strip())
        if match:
            found[(match.group(1), match.group(2))] = int(match.group(3))
    if not needed <= set(found):
        proc.kill()
        pytest.fail(f"mailsim serve did not bind its services: {found} {proc.stderr.read() if proc.stderr else ''}")
    yield found
    proc.terminate()
    proc.wait(timeout=20)


def swaks(port: int, *args: str, timeout: int = 60) -> str:
    path = require("swaks")
    proc = subprocess.run(
        [path, "--server", "127.0.0.1", "--port", str(port), "--ehlo", "laptop.example.org", "--from",
         "alice@example.org", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return proc.stdout + proc.stderr


def test_auth_plain_over_starttls_on_the_submission_port_is_accepted(ports):
    out = swaks(ports[("mail.example.org", "submission")], "--to", "bob@example.net", "-tls", "--auth", "PLAIN",
                "--auth-user", "alice@example.org", "--auth-password", "alice-secret")  # fmt: skip
    assert "<~  235 2.7.0 Authentication successful" in out
    assert re.search(r"<~  250 2\.0\.0 Ok: queued as [0-9A-F]+", out), out


def test_relaying_without_auth_is_refused(ports):
    smtp = swaks(ports[("mail.example.org", "smtp")], "--to", "bob@example.net")
    assert "<** 454 4.7.1 <bob@example.net>: Relay access denied" in smtp
    submission = swaks(ports[("mail.example.org", "submission")], "--to", "bob@example.net", "-tls")
    # submission's smtpd_relay_restrictions = permit_sasl_authenticated, reject: the plain reject's wording
    assert "<~* 554 5.7.1 <bob@example.net>: Recipient address rejected: Access denied" in submission


def test_mail_for_the_hosts_own_domain_is_accepted_on_port_25(ports):
    out = swaks(ports[("mail.example.org", "smtp")], "--to", "alice@example.org")
    assert re.search(r"<-  250 2\.0\.0 Ok: queued as", out), out


def test_a_message_over_message_size_limit_is_refused(ports, tmp_path):
    body = tmp_path / "big.txt"
    body.write_text(("x" * 998 + "\r\n") * 10_300)  # > 10240000 bytes, Postfix's default message_size_limit
    out = swaks(ports[("mail.example.org", "submission")], "--to", "bob@example.net", "-tls", "--auth", "PLAIN",
                "--auth-user", "alice@example.org", "--auth-password", "alice-secret", "--body", f"@{body}")  # fmt: skip
    assert re.search(r"<~?\* 552 5\.3\.4 ", out), out[-2000:]
