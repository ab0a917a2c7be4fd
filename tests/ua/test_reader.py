"""User agents that read mail: IMAP one message at a time, POP3 all at once, replies and forwards, virtual = live."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mailsim.engine.bridge import event_from_awaitable
from mailsim.scenario.access import mailbox_path
from mailsim.scenario.loader import ScenarioErrors, load
from mailsim.scenario.runner import run_scenario
from mailsim.ua.dialogue import LoginFailed
from mailsim.ua.imap_client import ImapClient, fetch_responses, tokenize
from mailsim.ua.reader import MailReader, ReadPlan, ReadResult, compose_forward, compose_reply, is_automatic
from mailsim.ua.serve_state import read_state

DEFAULT = Path(__file__).resolve().parents[2] / "scenarios" / "default"
MX = "203.0.113.25"  # mx.example.net in the default scenario
LUNCH = (
    b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Lunch?\r\n"
    b"Date: Mon, 05 Jan 2026 09:00:10 +0000\r\nMessage-ID: <1@example.org>\r\nReferences: <0@example.org>\r\n"
    b"\r\nHi Bob,\r\n\r\nlunch at noon?\r\n"
)


def _reads(data: dict[str, Any]) -> None:
    data["reads"] = [
        {"at": "2m", "user": "bob@example.net", "host": "laptop.example.org", "protocol": "imap",
         "reply": "Noon is fine.", "forward": ["carol@example.net"], "matching": "lunch"},
        {"at": "4m", "user": "bob@example.net", "host": "laptop.example.org", "protocol": "pop3", "delete": True},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def run() -> Any:
    """The default scenario with bob reading on alice's laptop: IMAP at 2m, POP3 download-and-delete at 4m."""
    spec = load(DEFAULT, edit=_reads)
    failed: list[Exception] = []

    def prepare(world: Any) -> None:
        def intruder() -> Any:  # a wrong password at 3m: a failed read, not a crash
            yield world.sim.env.timeout(180)
            reader = MailReader("bob@example.net", host="laptop.example.org", sim=world.sim)
            try:
                yield event_from_awaitable(world.sim, reader.read(ReadPlan("imap", MX, "bob@example.net", "guess")))
            except LoginFailed as error:
                failed.append(error)

        world.sim.env.process(intruder())

    result = run_scenario(spec, until=300, prepare=prepare)
    result.failed = failed
    return result


def _ua(run: Any, event: str, protocol: str) -> list[Any]:
    return [r for r in run.world.sim.trace.select(event, service="ua") if r.get("protocol") == protocol]


def test_imap_reading_shows_each_round_trip_and_fetches_one_message_at_a_time(run: Any) -> None:
    trips = [r for r in _ua(run, "round_trip", "imap") if r.time < 180]
    commands = [r.get("command").split(" (")[0] for r in trips]
    assert commands[:4] == ["(connect)", 'LOGIN "bob@example.net" ********', 'SELECT "INBOX"', "FETCH 1:*"]
    assert commands[-1] == "LOGOUT" and commands.count("UID FETCH 1") == 1
    assert all(r.host == "laptop.example.org" and r.get("rtt") > 0 and r.get("received") > 0 for r in trips)
    delivered = [r.message_id for r in run.world.sim.trace.select("delivery", host="mx.example.net")
                 if r.get("to") == "bob@example.net"]  # fmt: skip
    fetches = [r for r in _ua(run, "fetch", "imap") if r.time < 180]
    assert [r.message_id for r in fetches] == delivered and all(r.get("bytes") > 500 for r in fetches)
    assert [r.time for r in fetches] == sorted(r.time for r in fetches) and len({r.time for r in fetches}) == 3


def test_reading_marks_each_message_seen(run: Any) -> None:
    changes = [r for r in run.world.sim.trace.select("flags", service="ua")]
    assert len(changes) == 3
    assert all("\\Seen" not in r.get("before") and "\\Seen" in r.get("after") for r in changes)
    stores = [r for r in run.world.sim.trace.select("store", host="mx.example.net", service="imap")]
    assert [r.get("flags") for r in stores] == ["\\Seen"] * 3


def test_a_reply_goes_back_through_the_msa_with_in_reply_to_and_references(run: Any) -> None:
    submits = [r for r in run.world.sim.trace.select("submit", service="ua") if r.get("sender") == "bob@example.net"]
    assert [(r.get("recipients"), r.get("server"), r.get("via")) for r in submits] == [
        (["alice@example.org"], MX, "submission"),  # bob's own MSA: mx.example.net has the msa role
        (["carol@example.net"], MX, "submission"),
    ]
    assert all(r.get("reply").startswith("250 2.0.0 Ok: queued as") for r in submits)
    host = run.world.hosts["mail.example.org"]
    store = host.stores.open(mailbox_path(host, "alice"))
    reply = next(m for m in (store.fetch(i.uid) for i in store.listing().messages) if b"Subject: Re: Lunch?" in m)
    original = next(r.message_id for r in _ua(run, "fetch", "imap"))
    assert f"In-Reply-To: <{original}>".encode() in reply and f"References: <{original}>".encode() in reply
    assert b"> lunch at noon?" in reply and b"Noon is fine." in reply


def test_a_forward_reaches_carol_with_the_original_inline(run: Any) -> None:
    host = run.world.hosts["mx.example.net"]
    store = host.stores.open(mailbox_path(host, "carol"))
    forwarded = [m for m in (store.fetch(i.uid) for i in store.listing().messages) if b"Subject: Fwd: Lunch?" in m]
    assert len(forwarded) == 1 and b"---------- Forwarded message ----------" in forwarded[0]
    assert b"From: bob@example.net" in forwarded[0] and b"lunch at noon?" in forwarded[0]


def test_pop3_download_and_delete_empties_the_mailbox(run: Any) -> None:
    commands = [r.get("command") for r in _ua(run, "round_trip", "pop3")]
    assert commands == ["(connect)", "USER bob@example.net", "PASS ********", "STAT", "LIST", "UIDL",
                        "RETR 1", "RETR 2", "RETR 3", "DELE 1", "DELE 2", "DELE 3", "QUIT"]  # fmt: skip
    (done,) = _ua(run, "read", "pop3")
    assert (done.get("outcome"), done.get("messages"), done.get("deleted")) == ("ok", 3, 3)
    host = run.world.hosts["mx.example.net"]
    assert host.stores.open(mailbox_path(host, "bob")).listing().messages == ()


def test_a_wrong_password_is_a_failed_read_and_the_run_goes_on(run: Any) -> None:
    assert len(run.failed) == 1 and "AUTHENTICATIONFAILED" in str(run.failed[0])
    outcomes = [(r.time, r.get("outcome")) for r in _ua(run, "read", "imap")]
    assert [o for _, o in outcomes] == ["ok", "failed"] and outcomes[1][0] > 180


@pytest.mark.parametrize(
    ("read", "message"),
    [
        ({"user": "mallory@example.com"}, "reads[0].user: expected the address of a [[users]] entry"),
        ({"user": "bob@example.net", "server": "mail.example.org"}, "reads[0].server: expected a host with role aa"),
        ({"user": "bob@example.net", "protocol": "smtp"}, "reads[0].protocol: expected one of 'imap', 'pop3'"),
        ({"user": "bob@example.net", "msa": "nowhere"}, "reads[0].msa: expected the name of a host"),
    ],
)
def test_reads_name_a_user_with_a_password_and_an_access_agent(read: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioErrors, match=re.escape(message)):
        load(DEFAULT, edit=lambda data: data.update(reads=[read]))


# -- pieces ---------------------------------------------------------------------------------------------


def test_fetch_responses_are_read_with_their_literals() -> None:
    parts = [b'1 FETCH (UID 7 FLAGS (\\Seen \\Recent) RFC822.SIZE 42 BODY[HEADER.FIELDS (FROM SUBJECT)] ', b"From: a\r\n\r\n", b")"]  # fmt: skip
    (item,) = fetch_responses([tokenize(parts)])
    assert (item.number, item.uid, item.flags, item.items["RFC822.SIZE"]) == (1, 7, {"\\Seen", "\\Recent"}, "42")
    assert item.body() == b"From: a\r\n\r\n"
    assert tokenize([b'"a \\"quoted\\" string" NIL']) == [b'a "quoted" string', "NIL"]


def test_a_reply_quotes_and_threads_and_a_forward_inlines() -> None:
    reply = compose_reply(LUNCH, "bob@example.net", "Yes.", password="pw")
    assert (reply.recipients, reply.subject, reply.login) == (("alice@example.org",), "Re: Lunch?", "bob@example.net")
    assert dict(reply.headers) == {"In-Reply-To": "<1@example.org>", "References": "<0@example.org> <1@example.org>"}
    assert reply.body.startswith("Yes.\n\nOn Mon, 05 Jan 2026 09:00:10 +0000, Alice <alice@example.org> wrote:\n")
    assert "> lunch at noon?\n" in reply.body
    again = compose_reply(LUNCH.replace(b"Subject: Lunch?", b"Subject: RE: Lunch?"), "bob@example.net", "")
    assert again.subject == "RE: Lunch?"
    forward = compose_forward(LUNCH, "bob@example.net", ("carol@example.net",), "FYI")
    assert (forward.subject, forward.recipients) == ("Fwd: Lunch?", ("carol@example.net",))
    assert "Subject: Lunch?\n" in forward.body and forward.body.startswith("FYI\n\n----------")


def test_automatic_mail_gets_no_reply() -> None:
    assert not is_automatic(LUNCH)
    assert is_automatic(LUNCH.replace(b"From: Alice <alice@example.org>", b"From: MAILER-DAEMON@example.org"))
    assert is_automatic(LUNCH.replace(b"\r\n\r\n", b"\r\nAuto-Submitted: auto-replied\r\n\r\n", 1))
    assert is_automatic(LUNCH.replace(b"\r\n\r\n", b"\r\nPrecedence: list\r\n\r\n", 1))


# -- the same agent in virtual time and on live sockets -----------------------------------------------------

SMALL = """
name = "reading"
seed = 7
until = "1h"
hosts = [
  { name = "laptop.example.org", addresses = ["198.51.100.50"], roles = ["ua"] },
  { name = "mail.example.org", addresses = ["192.0.2.10"], roles = ["msa", "mta", "da"], config = "hosts/mail.example.org" },
  { name = "mx.example.net", addresses = ["203.0.113.25"], roles = ["mta", "da", "aa"], config = "hosts/mx.example.net" },
]
routers = [ { name = "internet" } ]
links = [
  { a = "laptop.example.org", b = "internet", latency = "15ms" },
  { a = "mail.example.org", b = "internet", latency = "5ms" },
  { a = "mx.example.net", b = "internet", latency = "20ms" },
]
dns = { zones = ["zones/example.org.zone", "zones/example.net.zone"], latency = "2ms" }
users = [
  { address = "alice@example.org", password = "alice-secret", host = "laptop.example.org" },
  { address = "bob@example.net", password = "bob-secret" },
]
messages = [
  { at = "1s", from = "alice@example.org", to = ["bob@example.net"], subject = "Lunch?", body = "At noon?" },
  { at = "2s", from = "alice@example.org", to = ["bob@example.net"], subject = "Second", body = "Or at one." },
]
"""


def _plans(server: str, imap: int | None = None, pop3: int | None = None) -> list[ReadPlan]:
    return [ReadPlan("imap", server, "bob@example.net", "bob-secret", port=imap),
            ReadPlan("pop3", server, "bob", "bob-secret", port=pop3)]  # fmt: skip


def _seen(result: ReadResult) -> list[tuple[Any, ...]]:
    def line(s: Any) -> tuple[Any, ...]:
        return (s.number, s.uid, s.sender, s.subject, s.flags, s.status)

    return [tuple(map(line, result.listing)), tuple(map(line, result.after)),
            tuple(f.summary.subject for f in result.fetched)]  # fmt: skip


def _virtual(folder: Path) -> list[ReadResult]:
    results: list[ReadResult] = []

    def prepare(world: Any) -> None:
        def reading() -> Any:
            yield world.sim.env.timeout(5)
            for plan in _plans(MX):
                reader = MailReader("bob@example.net", host="laptop.example.org", sim=world.sim)
                results.append((yield event_from_awaitable(world.sim, reader.read(plan))))

        world.sim.env.process(reading())

    run_scenario(load(folder), until=10, prepare=prepare)
    return results


async def _live(state_file: Path) -> list[ReadResult]:
    state = read_state(state_file)
    imap, pop3 = (next(s.port for s in state.services if s.service == name) for name in ("imap", "pop3"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # STATUS does not claim \Recent, so the reading below sees what virtual saw
        probe = await ImapClient.open("127.0.0.1", imap)
        await probe.login("bob", "bob-secret")
        (status,) = await probe.command("STATUS INBOX (MESSAGES)")
        await probe.logout()
        if status[2] == ["MESSAGES", "2"]:
            break
        await asyncio.sleep(0.3)
    return [await MailReader("bob@example.net").read(plan) for plan in _plans("127.0.0.1", imap, pop3)]


@pytest.mark.live
def test_virtual_and_live_reads_see_the_same_messages_uids_and_flags(tmp_path: Path) -> None:
    folder = tmp_path / "reading"
    shutil.copytree(DEFAULT / "hosts", folder / "hosts")
    shutil.copytree(DEFAULT / "zones", folder / "zones")
    (folder / "scenario.toml").write_text(SMALL)
    state_file = tmp_path / "serve.json"
    env = {**os.environ, "MAILSIM_SERVE_STATE": str(state_file), "PYTHONUNBUFFERED": "1"}
    serve = subprocess.Popen([sys.executable, "-m", "mailsim.cli", "serve", str(folder), "--until", "40", "-q"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        virtual = _virtual(folder)
        deadline = time.monotonic() + 30
        while not state_file.exists() and serve.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state_file.exists(), serve.stderr.read() if serve.stderr and serve.poll() is not None else "no state"
        live = asyncio.run(_live(state_file))
    finally:
        serve.terminate()
        serve.wait(timeout=20)
    assert _seen(virtual[0]) == _seen(live[0])
    assert [s.subject for s in virtual[0].listing] == ["Lunch?", "Second"]
    assert [s.flags for s in virtual[0].after] == [{"\\Seen", "\\Recent"}] * 2
    assert _seen(virtual[1]) == _seen(live[1]) and len(virtual[1].fetched) == 2
