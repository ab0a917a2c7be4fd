"""``mailsim mail``: the seed's /bin/mail against a running ``mailsim serve`` - send, list, read, and clear mistakes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailsim.ua.mailcmd import header_summary, run_mail_cli
from mailsim.ua.reader import Summary
from mailsim.ua.serve_state import STATE_ENV

DEFAULT = Path(__file__).resolve().parents[2] / "scenarios" / "default"
LINE = re.compile(r"^[> ]([NOR]) +(\d+) (.{22}) (.{16}) +(\d+)  (.*)$")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``mailsim serve --until 60 -q`` on the default scenario; yields the environment that finds it."""
    state = tmp_path_factory.mktemp("serve") / "serve.json"
    env = {**os.environ, STATE_ENV: str(state), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mailsim.cli", "serve", str(DEFAULT), "--until", "60", "-q"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 30
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not state.exists():
        proc.kill()
        pytest.fail(f"mailsim serve wrote no state file: {proc.stderr.read() if proc.stderr else ''}")
    yield env
    proc.terminate()
    proc.wait(timeout=20)


def mail(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command as a user types it."""
    return subprocess.run([sys.executable, "-m", "mailsim.cli", "mail", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def in_process(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    """The same command without a new interpreter (for the many error cases)."""
    monkeypatch.setenv(STATE_ENV, env[STATE_ENV])
    out, err = io.StringIO(), io.StringIO()
    code = run_mail_cli(list(args), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.live
def test_mail_sends_through_the_msa_and_mail_u_lists_and_reads_it(served: dict[str, str]) -> None:
    sent = mail(served, "-s", "Hello", "--user", "alice@example.org", "--password", "alice-secret",
                "bob@example.net", stdin="Hi Bob,\n.\nthe line above is a lone dot.\n")  # fmt: skip
    assert (sent.returncode, sent.stdout, sent.stderr) == (0, "", "")
    deadline, hello = time.monotonic() + 20, None
    while hello is None and time.monotonic() < deadline:
        listing = mail(served, "-u", "bob", "-p", "bob-secret")
        assert listing.returncode == 0, listing.stderr
        hello = next((m for m in map(LINE.match, listing.stdout.splitlines()) if m and m.group(6) == "Hello"), None)
        time.sleep(0.2)
    assert hello is not None, listing.stdout
    assert listing.stdout.startswith('"imap://bob@example.net@mx.example.net": ')
    assert hello.group(1) == "N" and hello.group(3).strip() == "alice@example.org"
    number = hello.group(2)
    shown = mail(served, "-u", "bob", "-p", "bob-secret", number)
    assert shown.returncode == 0 and shown.stdout.startswith(f"Message {number}:\n")
    assert "Subject: Hello\n" in shown.stdout and "Hi Bob,\n.\nthe line above is a lone dot.\n" in shown.stdout
    assert "with ESMTPSA" in shown.stdout and "Message-Id: <" in shown.stdout  # the MSA's cleanup added it
    again = mail(served, "-u", "bob@example.net")  # the password from the scenario's [[users]] table
    line = next(m for m in map(LINE.match, again.stdout.splitlines()) if m and m.group(2) == number)
    assert line.group(1) == "R"


@pytest.mark.live
def test_pop3_lists_the_same_mailbox(served: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = in_process(served, monkeypatch, "-u", "carol", "--pop3")
    assert (code, err) == (0, "")
    assert out in ("No mail for carol\n",) or out.startswith('"pop3://carol@example.net@mx.example.net": ')


@pytest.mark.live
@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (("-u", "bob", "-p", "wrong"), "", "mailsim mail: imap: login as bob@example.net failed: NO [AUTHENTICATIONFAILED]"),
        (("-u", "ghost"), "", "mailsim mail: no user 'ghost' in the served scenario"),
        (("-u", "ghost", "-p", "x"), "", "mailsim mail: imap: login as ghost failed"),
        (("-u", "bob", "999"), "", "mailsim mail: no message 999: bob has "),
        (("-u", "bob", "first"), "", "mailsim mail: expected a message number (1, 2, ...) to read, found 'first'"),
        (("-s", "Hi", "--password", "wrong", "bob@example.net"), "x\n",
         "mailsim mail: login as alice@example.org failed at mail.example.org (127.0.0.1:"),
        (("-s", "Hi", "bob"), "x\n", "mailsim mail: 'bob' is not a mail address (expected user@domain)"),
        (("-s", "Hi"), "x\n", "mailsim mail: no recipients: mail -s SUBJECT RCPT... < body, or mail -u USER to read"),
        (("-u", "bob", "--server", "localhost"), "", "mailsim mail: --server: expected HOST:PORT"),
        (("--bogus",), "", "mailsim mail: unrecognized arguments: --bogus (see `mailsim mail --help`)"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_and_exit_status_2(
    served: dict[str, str], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], stdin: str, expected: str
) -> None:
    code, out, err = in_process(served, monkeypatch, *args, stdin=stdin)
    assert (code, out) == (2, "")
    assert err.startswith(expected) and err.count("\n") == 1, err


def test_no_running_serve_is_one_line_and_exit_status_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "serve.json"
    env = {STATE_ENV: str(state)}
    code, _, err = in_process(env, monkeypatch, "-u", "bob")
    assert code == 2 and err.startswith("mailsim mail: no running `mailsim serve` found") and err.count("\n") == 1
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    state.write_text(json.dumps({"pid": int(finished.stdout), "scenario": "x", "services": [], "users": []}))
    code, _, err = in_process(env, monkeypatch, "-s", "Hi", "bob@example.net", stdin="x")
    assert code == 2 and "is no longer running" in err and err.count("\n") == 1
    code, _, err = in_process(env, monkeypatch, "-u", "bob", "-p", "x", "--server", "127.0.0.1:9")
    assert code == 2 and "cannot connect to 127.0.0.1:9" in err and "is `mailsim serve` running?" in err


def test_the_header_summary_reads_like_bin_mail() -> None:
    def summary(number: int, flags: frozenset[str], subject: str) -> Summary:
        return Summary(number, number, None, 700 + number, flags, "Alice <alice@example.org>", "bob@example.net",
                       subject, "Mon, 05 Jan 2026 09:00:10 +0000", None)  # fmt: skip

    text = header_summary([summary(1, frozenset({"\\Seen"}), "Read"), summary(2, frozenset(), "Old"),
                           summary(3, frozenset({"\\Recent"}), "New")], "imap://bob@mx", "bob")  # fmt: skip
    assert text.splitlines() == [
        '"imap://bob@mx": 3 messages 1 new 1 unread',
        " R   1 Alice                  Mon Jan  5 09:00     701  Read",
        ">O   2 Alice                  Mon Jan  5 09:00     702  Old",
        " N   3 Alice                  Mon Jan  5 09:00     703  New",
    ]
    assert header_summary([], "imap://bob@mx", "bob") == "No mail for bob\n"
