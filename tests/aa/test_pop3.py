"""POP3: the RFC 1939 conversation, errors that leave the maildrop intact, poplib and fetchmail, virtual = live."""

from __future__ import annotations

import asyncio
import hashlib
import mailbox
import poplib
from pathlib import Path
from typing import Any

import pytest

from mailsim.aa.access import emitter
from mailsim.aa.pop3 import ALLOWED, Pop3Server, Pop3Session, State
from mailsim.da.stores import SEEN, MailStores
from tests.aa.helpers import (
    CREDENTIALS,
    PASSWORD,
    USER,
    fetchmail,
    filled_store,
    live_server,
    message,
    pop3_script,
    run_live,
    run_virtual,
)
from tests.net.worlds import two_link_world
from tests.peers import require


def session(store: Any, **kwargs: Any) -> Pop3Session:
    return Pop3Session(hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda user: store, **kwargs)


def talk(pop: Pop3Session, *lines: str) -> list[str]:
    """Every reply line, decoded, for these command lines."""
    out: list[str] = []
    for line in lines:
        out += b"".join(pop.handle(line.encode() + b"\r\n")).decode().split("\r\n")[:-1]
    return out


def logged_in(store: Any, **kwargs: Any) -> Pop3Session:
    pop = session(store, **kwargs)
    assert talk(pop, f"USER {USER}", f"PASS {PASSWORD}") == ["+OK", "+OK Logged in."]
    return pop


@pytest.fixture
def store(tmp_path: Path) -> Any:
    return filled_store(tmp_path)


def test_the_state_table_knows_every_command() -> None:
    assert ALLOWED["USER"] == {State.AUTHORIZATION} and ALLOWED["RETR"] == {State.TRANSACTION}
    assert ALLOWED["QUIT"] == ALLOWED["CAPA"] == {State.AUTHORIZATION, State.TRANSACTION}


def test_a_whole_session(store: Any) -> None:
    size = store.listing().messages[0].size
    uidl = store.listing().messages[0].uidl
    pop = logged_in(store)
    assert talk(pop, "STAT", "LIST", "UIDL 1", "LIST 2") == [
        f"+OK 3 {3 * size}",
        "+OK 3 messages:",
        f"1 {size}",
        f"2 {size}",
        f"3 {size}",
        ".",
        f"+OK 1 {uidl}",
        f"+OK 2 {size}",
    ]
    retr = talk(pop, "RETR 1")
    assert retr[0] == f"+OK {size} octets" and retr[-1] == "." and "Subject: note 0" in retr
    assert "..a line with a dot" in retr  # byte-stuffed (RFC 1939 §3)
    assert talk(pop, "DELE 1", "STAT", "QUIT") == [
        "+OK Marked to be deleted.",
        f"+OK 2 {2 * size}",
        "+OK Logging out, messages deleted.",
    ]
    assert pop.closed
    after = store.listing().messages
    assert [m.uid for m in after] == [2, 3] and all(SEEN not in m.flags for m in after)


def test_top_sends_the_header_and_some_body_lines(store: Any) -> None:
    pop = logged_in(store)
    top = talk(pop, "TOP 1 1")
    blank = top.index("")
    assert top[0] == "+OK" and "Subject: note 0" in top[:blank] and top[blank + 1 :] == ["Hello.", "."]
    assert talk(pop, "TOP 1 0")[-2:] == ["", "."]


def test_retrieved_messages_are_marked_seen_at_quit_and_rset_undeletes(store: Any) -> None:
    pop = logged_in(store)
    talk(pop, "RETR 2", "DELE 1", "DELE 3", "RSET", "DELE 3", "QUIT")
    assert [(m.uid, SEEN in m.flags) for m in store.listing().messages] == [(1, False), (2, True)]


def test_authentication_failures_and_commands_in_the_wrong_state(store: Any) -> None:
    pop = session(store)
    assert talk(pop, "STAT", "PASS x", "USER alice", "PASS wrong", "PASS s3cret pw", "APOP alice 00") == [
        "-ERR Command not valid in this state.",
        "-ERR No username given.",
        "+OK",
        "-ERR [AUTH] Authentication failed.",
        "-ERR No username given.",  # a failed PASS forgets the user
        "-ERR APOP is not enabled.",
    ]
    assert talk(pop, "USER nobody", "PASS s3cret pw", "XYZZY", "") == [
        "+OK",
        "-ERR [AUTH] Authentication failed.",
        "-ERR Unknown command.",
        "-ERR Unknown command.",
    ]
    assert pop.state is State.AUTHORIZATION
    pop = logged_in(store)
    assert talk(pop, "USER alice", "PASS x") == ["-ERR Command not valid in this state."] * 2


def test_unknown_and_deleted_message_numbers(store: Any) -> None:
    pop = logged_in(store)
    assert talk(pop, "RETR 4", "RETR 0", "LIST abc", "TOP 1", "DELE 2", "DELE 2", "RETR 2", "UIDL 2", "RETR") == [
        "-ERR There's no message 4.",
        "-ERR There's no message 0.",
        "-ERR Invalid message number: abc",
        "-ERR Invalid arguments.",
        "+OK Marked to be deleted.",
        "-ERR Message 2 is deleted.",
        "-ERR Message 2 is deleted.",
        "-ERR Message 2 is deleted.",
        "-ERR Invalid arguments.",
    ]
    size = store.listing().messages[0].size
    assert talk(pop, "LIST") == ["+OK 2 messages:", f"1 {size}", f"3 {size}", "."]
    assert len(store.listing().messages) == 3  # nothing was applied: no QUIT yet


def test_a_second_session_finds_the_maildrop_in_use(store: Any) -> None:
    in_use: set[str] = set()
    first = logged_in(store, in_use=in_use)
    second = session(store, in_use=in_use)
    assert (
        talk(second, f"USER {USER}", f"PASS {PASSWORD}")[-1]
        == "-ERR [IN-USE] Mailbox is locked by another POP3 session."
    )
    first.abort()
    assert talk(second, f"USER {USER}", f"PASS {PASSWORD}")[-1] == "+OK Logged in."


def test_a_corrupted_mailbox_refuses_the_login_and_stays_as_it_is(store: Any) -> None:
    store.path.write_bytes(b"garbage\n" + store.path.read_bytes())
    before = store.path.read_bytes()
    pop = session(store)
    assert talk(pop, f"USER {USER}", f"PASS {PASSWORD}")[-1] == "-ERR [SYS/TEMP] Mailbox unavailable: CorruptMailbox"
    assert pop.state is State.AUTHORIZATION and store.path.read_bytes() == before


def test_apop_with_the_greeting_time_stamp(store: Any) -> None:
    stamp = "<1.0@mail.example.org>"
    pop = session(store, stamp=stamp)
    assert pop.greeting() == b"+OK mail.example.org POP3 server ready <1.0@mail.example.org>\r\n"
    digest = hashlib.md5((stamp + PASSWORD).encode()).hexdigest()
    assert talk(pop, f"APOP {USER} {'0' * 32}", f"APOP {USER} {digest}") == [
        "-ERR [AUTH] Authentication failed.",
        "+OK Logged in.",
    ]


def test_too_many_bad_commands_close_the_session(store: Any) -> None:
    pop = session(store, max_errors=3)
    assert talk(pop, "A", "B", "C")[-1] == "-ERR Too many bad commands, closing connection."
    assert pop.closed


# -- over the network: live loopback and virtual time --------------------------------------------------------

SCRIPT = [
    (b"CAPA\r\n", True),
    (f"USER {USER}\r\n".encode(), False),
    (f"PASS {PASSWORD}\r\n".encode(), False),
    (b"STAT\r\n", False),
    (b"LIST\r\n", True),
    (b"UIDL\r\n", True),
    (b"RETR 1\r\n", True),
    (b"TOP 2 1\r\n", True),
    (b"DELE 1\r\n", False),
    (b"RETR 99\r\n", False),
    (b"X" * 300 + b"\r\n", False),  # RFC 2449 §4: 255 octets at most
    (b"NOOP " + b"y" * 100_000 + b"\r\n", False),  # beyond the stream's own buffer limit
    (b"NOOP\r\n", False),
    (b"QUIT\r\n", False),
]


def script_client(host: str, port: int) -> Any:
    return pop3_script(host, port, SCRIPT)


@pytest.mark.live
def test_virtual_and_live_sessions_send_the_same_bytes(tmp_path: Path) -> None:
    """The same server code and client script on SimLoop and on 127.0.0.1: identical replies, UIDLs, sizes."""
    live_store = filled_store(tmp_path / "live")
    virtual_store = filled_store(tmp_path / "virtual")
    live = run_live(
        Pop3Server(hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda u: live_store), script_client
    )
    world = two_link_world()
    emit = emitter(world.sim, "server", "pop3")
    server = Pop3Server(
        hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda u: virtual_store, emit=emit
    )
    virtual = run_virtual(server, script_client, 110, world)
    assert virtual == live
    assert b"-ERR Line too long.\r\n" in live and live[-2:] == [b"+OK\r\n", b"+OK Logging out, messages deleted.\r\n"]
    assert [m.uid for m in virtual_store.listing().messages] == [m.uid for m in live_store.listing().messages] == [2, 3]
    events = [(r.event, r.time > 0) for r in world.sim.trace.records if r.service == "pop3"]
    assert ("login", True) in events and ("retr", True) in events and ("quit", True) in events
    (retr,) = world.sim.trace.select("retr", service="pop3")
    assert retr.get("bytes") > virtual_store.listing().messages[0].size


@pytest.mark.live
def test_poplib_reads_and_deletes_a_message(store: Any) -> None:
    server = Pop3Server(hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda user: store)
    with live_server(server) as port:
        client = poplib.POP3("127.0.0.1", port, timeout=10)
        assert client.getwelcome() == b"+OK mail.example.org POP3 server ready"
        client.user(USER)
        client.pass_(PASSWORD)
        assert client.stat() == (3, sum(m.size for m in store.listing().messages))
        _, lines, octets = client.retr(2)
        assert b"Subject: note 1" in lines and b".a line with a dot" in lines  # poplib un-stuffs
        assert octets == store.listing().messages[1].size
        client.dele(1)
        with pytest.raises(poplib.error_proto, match="no message 7"):
            client.retr(7)
        client.quit()
    assert [(m.uid, SEEN in m.flags) for m in store.listing().messages] == [(2, True), (3, False)]


@pytest.mark.live
@pytest.mark.peer
@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_fetchmail_fetches_everything_over_pop3(tmp_path: Path, kind: str) -> None:
    program = require("fetchmail")
    store = filled_store(tmp_path / "server", kind)
    server = Pop3Server(hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda user: store)
    with live_server(server) as port:
        code, output, fetched = fetchmail(program, "POP3", port, tmp_path)
    assert code == 0, output
    assert "POP3> QUIT" in output and "3 messages for alice" in output
    assert [m["subject"] for m in mailbox.mbox(fetched, create=False)] == ["note 0", "note 1", "note 2"]
    assert store.listing().messages == ()


def test_a_client_vanishing_mid_retr_changes_nothing(tmp_path: Path) -> None:
    store = filled_store(tmp_path, count=2)
    big = message(9, b"x" * 78 + b"\r\n") + b"y" * 2_000_000 + b"\r\n"
    MailStores(tmp_path, hostname="mail.example.org").mbox("/var/mail/alice").deliver(
        big, sender="bob@example.net", recipient="alice@example.org", when=store.listing().messages[0].internal_date
    )
    before = store.path.read_bytes()
    world = two_link_world()  # 1 MB/s on the client's link: two megabytes take two seconds
    server = Pop3Server(
        hostname="mail.example.org",
        credentials=CREDENTIALS,
        mailboxes=lambda user: store,
        emit=emitter(world.sim, "server", "pop3"),
    )

    async def vanish(host: str, port: int) -> int:
        reader, writer = await asyncio.open_connection(host, port)
        await reader.readline()
        for line in (f"USER {USER}", f"PASS {PASSWORD}", "DELE 1", "RETR 3"):
            writer.write(line.encode() + b"\r\n")
        got = 0
        while got < 500_000:
            got += len(await reader.read(65536))
        writer.transport.abort()
        return got

    assert run_virtual(server, vanish, 110, world) >= 500_000
    world.sim.run(until=world.sim.now + 60)
    assert store.path.read_bytes() == before and len(store.listing().messages) == 3
    assert [r.event for r in world.sim.trace.select("lost", service="pop3")] == ["lost"]
    assert server.in_use == set()  # the next session may log in


def test_a_silent_client_is_logged_out_after_ten_minutes(store: Any) -> None:
    world = two_link_world()
    server = Pop3Server(hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda user: store)

    async def silent(host: str, port: int) -> tuple[list[bytes], float]:
        reader, writer = await asyncio.open_connection(host, port)
        lines = [await reader.readline(), await reader.readline()]
        return lines, asyncio.get_running_loop().time()

    lines, when = run_virtual(server, silent, 110, world)
    assert lines[1] == b"-ERR Disconnected for inactivity.\r\n" and 600 < when < 601
