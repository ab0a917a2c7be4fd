"""IMAP4rev1: states, FETCH/STORE/SEARCH/EXPUNGE over the stores, imaplib and fetchmail, IDLE, virtual = live."""

from __future__ import annotations

import asyncio
import base64
import imaplib
import mailbox
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mailsim.aa.access import emitter
from mailsim.aa.imap import ALLOWED, ImapServer, ImapSession, State
from mailsim.aa.imap.parser import parse_command
from mailsim.aa.imap.replies import ImapError
from mailsim.da.stores import DELETED, SEEN
from tests.aa.helpers import (
    CREDENTIALS,
    PASSWORD,
    USER,
    fetchmail,
    filled_store,
    imap_script,
    live_server,
    message,
    read_imap_reply,
    run_live,
    run_virtual,
)
from tests.net.worlds import two_link_world
from tests.peers import require

LOGIN = f'a LOGIN {USER} "{PASSWORD}"'


def session(store: Any) -> ImapSession:
    return ImapSession(hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda user: store)


def run(imap: ImapSession, *lines: str) -> list[str]:
    """Reply lines of each command, decoded (literals inline)."""
    out: list[str] = []
    for line in lines:
        out += b"".join(imap.execute(parse_command(line.encode() + b"\r\n"))).decode().split("\r\n")[:-1]
    return out


@pytest.fixture(params=["mbox", "maildir"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return filled_store(tmp_path, request.param)


def selected(store: Any, verb: str = "SELECT") -> ImapSession:
    imap = session(store)
    run(imap, LOGIN, f"s {verb} INBOX")
    return imap


def test_the_state_table() -> None:
    assert ALLOWED["LOGIN"] == {State.NOT_AUTHENTICATED} and ALLOWED["FETCH"] == {State.SELECTED}
    assert ALLOWED["NOOP"] == {State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED}


def test_login_select_and_the_untagged_data_of_select(store: Any) -> None:
    imap = session(store)
    assert run(imap, LOGIN, 'b LIST "" *', 'c LIST "" ""', 'd LSUB "" %') == [
        "a OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR IDLE UNSELECT CHILDREN] Logged in.",
        '* LIST (\\HasNoChildren) "/" INBOX',
        "b OK LIST completed.",
        '* LIST (\\Noselect) "/" ""',
        "c OK LIST completed.",
        '* LSUB () "/" INBOX',
        "d OK LSUB completed.",
    ]
    listing = store.listing()
    assert run(imap, "e SELECT inbox") == [
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)] Flags permitted.",
        "* 3 EXISTS",
        "* 3 RECENT",
        "* OK [UNSEEN 1] First unseen.",
        f"* OK [UIDVALIDITY {listing.uidvalidity}] UIDs valid",
        "* OK [UIDNEXT 4] Predicted next UID",
        "e OK [READ-WRITE] Select completed.",
    ]
    assert run(session(store), LOGIN, "f EXAMINE INBOX")[4] == "* 0 RECENT"  # the first SELECT took \Recent


def test_fetch_data_items(store: Any) -> None:
    imap = selected(store)
    size = store.listing().messages[1].size
    lines = run(imap, "f FETCH 2 (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)")
    assert lines[0] == (
        f'* 2 FETCH (UID 2 FLAGS (\\Recent) RFC822.SIZE {size} INTERNALDATE " 5-Jan-2026 09:01:00 +0000" '
        'ENVELOPE ("Mon, 05 Jan 2026 09:01:00 +0000" "note 1" (("Bob" NIL "bob" "example.net")) '
        '(("Bob" NIL "bob" "example.net")) (("Bob" NIL "bob" "example.net")) (("Alice" NIL "alice" "example.org")) '
        'NIL NIL NIL "<1@example.net>"))'
    )
    body = run(imap, "g FETCH 2 BODY.PEEK[TEXT]<8.6>", "h UID FETCH 3 (BODY[HEADER.FIELDS (subject)])")
    assert body == [
        "* 2 FETCH (BODY[TEXT]<8> {6}",
        ".a lin)",
        "g OK FETCH completed.",
        "* 3 FETCH (UID 3 BODY[HEADER.FIELDS (SUBJECT)] {19}",
        "Subject: note 2",
        "",
        " FLAGS (\\Seen \\Recent))",  # a BODY[] fetch (not PEEK) marks the message read
        "h OK UID FETCH completed.",
    ]
    assert [SEEN in m.flags for m in store.listing().messages] == [False, False, True]
    whole = b"".join(imap.execute(parse_command(b"i FETCH 1 RFC822\r\n")))
    assert store.fetch(1) in whole and whole.startswith(
        b"* 1 FETCH (RFC822 {%d}\r\n" % store.listing().messages[0].size
    )


def test_store_search_expunge_and_close(store: Any) -> None:
    imap = selected(store)
    assert run(imap, "a STORE 1:2 +FLAGS (\\Deleted \\Seen)", "b STORE 2 -FLAGS.SILENT \\Deleted") == [
        "* 1 FETCH (FLAGS (\\Deleted \\Seen \\Recent))",
        "* 2 FETCH (FLAGS (\\Deleted \\Seen \\Recent))",
        "a OK STORE completed.",
        "b OK STORE completed.",
    ]
    assert run(imap, "c SEARCH DELETED", "d UID SEARCH UNSEEN", 'e SEARCH SUBJECT "note 2" NOT SEEN') == [
        "* SEARCH 1",
        "c OK SEARCH completed.",
        "* SEARCH 3",
        "d OK UID SEARCH completed.",
        "* SEARCH 3",
        "e OK SEARCH completed.",
    ]
    assert run(imap, "f EXPUNGE", "g FETCH 1:* (UID)") == [
        "* 1 EXPUNGE",
        "f OK EXPUNGE completed.",
        "* 1 FETCH (UID 2)",
        "* 2 FETCH (UID 3)",
        "g OK FETCH completed.",
    ]
    run(imap, "h UID STORE 3 FLAGS (\\Deleted)")
    assert run(imap, "i CLOSE", "j FETCH 1 FLAGS") == [
        "i OK CLOSE completed.",
        "j BAD Error in IMAP command FETCH: not valid in this state.",
    ]
    assert [(m.uid, m.flags) for m in store.listing().messages] == [(2, {SEEN})]


def test_changes_by_others_arrive_as_untagged_updates(store: Any) -> None:
    first, second = selected(store), selected(store)
    run(second, "a STORE 1 +FLAGS (\\Deleted)", "b EXPUNGE")
    store.deliver(
        message(7), sender="bob@example.net", recipient="alice@example.org", when=datetime(2026, 1, 6, tzinfo=UTC)
    )
    assert run(first, "c FETCH 2 FLAGS") == [  # no EXPUNGE while answering FETCH (RFC 3501 §7.4.1)
        "* 2 FETCH (FLAGS (\\Recent))",
        "* 4 EXISTS",
        "* 4 RECENT",
        "c OK FETCH completed.",
    ]
    assert run(first, "d NOOP") == ["* 1 EXPUNGE", "d OK NOOP completed."]
    assert run(first, "e FETCH 3 UID") == ["* 3 FETCH (UID 4)", "e OK FETCH completed."]


def test_authenticate_plain_with_and_without_an_initial_response(store: Any) -> None:
    token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    imap = session(store)
    assert run(imap, f"a AUTHENTICATE PLAIN {token}")[-1].startswith("a OK [CAPABILITY")
    imap = session(store)
    command = parse_command(b"b AUTHENTICATE PLAIN\r\n")
    assert imap.wants_continuation(command)
    assert b"".join(imap.execute(command, token.encode() + b"\r\n")).startswith(b"b OK")
    assert run(session(store), "c AUTHENTICATE PLAIN Zm9v", "d AUTHENTICATE CRAM-MD5") == [
        "c NO [AUTHENTICATIONFAILED] Authentication failed.",
        "d NO Unsupported authentication mechanism.",
    ]


def test_bad_passwords_wrong_states_and_bad_numbers(store: Any) -> None:
    imap = session(store)
    assert run(imap, "a SELECT INBOX", f"b LOGIN {USER} wrong", "c FETCH 1 FLAGS", "d FROB") == [
        "a BAD Error in IMAP command SELECT: not valid in this state.",
        "b NO [AUTHENTICATIONFAILED] Authentication failed.",
        "c BAD Error in IMAP command FETCH: not valid in this state.",
        "d BAD Error in IMAP command: unknown command.",
    ]
    run(imap, LOGIN)
    assert run(imap, "e SELECT Archive", "f CREATE Archive", "g STATUS INBOX (MESSAGES UNSEEN)", "h UID NOOP") == [
        "e NO [NONEXISTENT] Mailbox doesn't exist: Archive",
        "f NO [CANNOT] Only INBOX exists on this server.",
        "* STATUS INBOX (MESSAGES 3 UNSEEN 3)",
        "g OK STATUS completed.",
        "h BAD Error in IMAP command NOOP: UID NOOP is not a command.",
    ]
    run(imap, "i SELECT INBOX")
    assert run(imap, "j FETCH 4 FLAGS", "k FETCH 0 FLAGS", "l UID FETCH 99 FLAGS", "m FETCH 1 (BODY[FOO])") == [
        "j BAD Error in IMAP command FETCH: invalid message sequence number.",
        "k BAD Error in IMAP command FETCH: bad number in a sequence set: '0'.",
        "l OK UID FETCH completed.",
        "m BAD Error in IMAP command FETCH: bad section FOO.",
    ]
    assert len(store.listing().messages) == 3


def test_examine_is_read_only(store: Any) -> None:
    imap = selected(store, "EXAMINE")
    assert run(imap, "a STORE 1 +FLAGS (\\Deleted)", "b FETCH 1 BODY[]")[0] == "a NO Mailbox is read-only."
    assert all(m.flags == set() for m in store.listing().messages)


def test_a_corrupted_mailbox_cannot_be_selected(tmp_path: Path) -> None:
    store = filled_store(tmp_path, "mbox")
    store.path.write_bytes(b"garbage\n" + store.path.read_bytes())
    before = store.path.read_bytes()
    imap = session(store)
    assert run(imap, LOGIN, "b SELECT INBOX")[-1] == "b NO [UNAVAILABLE] Mailbox cannot be opened: CorruptMailbox"
    assert imap.state is State.AUTHENTICATED and store.path.read_bytes() == before


# -- over the network ---------------------------------------------------------------------------------------

SCRIPT = [
    b"a CAPABILITY\r\n",
    b"b LOGIN {5}\r\n",  # a synchronising literal: the server answers "+", the client sends the rest
    f'alice "{PASSWORD}"\r\n'.encode(),
    b"c SELECT INBOX\r\n",
    b"d FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)\r\n",
    b"e UID FETCH 2 (BODY[] BODYSTRUCTURE)\r\n",
    b"f STORE 1 +FLAGS (\\Deleted)\r\n",
    b"g UID SEARCH UNSEEN\r\n",
    b"h EXPUNGE\r\n",
    b"i FETCH 9 FLAGS\r\n",
    b"j NOOP " + b"x" * 10_000 + b"\r\n",  # over the 8192-octet line limit
    b"k NOOP " + b"y" * 100_000 + b"\r\n",  # over the stream's own buffer limit
    b"l LOGIN {3+}\r\nabc xyz\r\n",  # LITERAL+: no continuation
    b"m LOGOUT\r\n",
]


def script_client(host: str, port: int) -> Any:
    return imap_script(host, port, SCRIPT)


@pytest.mark.live
@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_virtual_and_live_sessions_send_the_same_bytes(tmp_path: Path, kind: str) -> None:
    """The same server code and client script on SimLoop and on 127.0.0.1: identical replies, UIDs, flags, sizes."""
    live_store, virtual_store = filled_store(tmp_path / "live", kind), filled_store(tmp_path / "virtual", kind)
    live = run_live(
        ImapServer(hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda u: live_store), script_client
    )
    world = two_link_world()
    emit = emitter(world.sim, "server", "imap")
    server = ImapServer(
        hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda u: virtual_store, emit=emit
    )
    virtual = run_virtual(server, script_client, 143, world)
    assert virtual == live
    text = b"".join(live)
    assert b"+ Ready for literal data\r\n" in text and b"b OK [CAPABILITY" in text and b"* 1 EXPUNGE\r\n" in text
    assert b"j BAD Error in IMAP command: command line too long.\r\n" in text and b"k BAD" in text
    assert b"l BAD Error in IMAP command LOGIN: not valid in this state.\r\n" in text and text.endswith(
        b"m OK Logout completed.\r\n"
    )
    assert [m.uid for m in virtual_store.listing().messages] == [m.uid for m in live_store.listing().messages] == [2, 3]
    assert [r.event for r in world.sim.trace.records if r.service == "imap"][:3] == ["connect", "login", "select"]


@pytest.mark.live
def test_imaplib_reads_marks_and_expunges(store: Any) -> None:
    server = ImapServer(hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda user: store)
    with live_server(server) as port:
        client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        assert "IDLE" in client.capabilities
        client.login(USER, PASSWORD)
        assert client.select("INBOX") == ("OK", [b"3"])
        kind, data = client.fetch("2", "(UID RFC822.SIZE BODY.PEEK[])")
        assert kind == "OK" and data[0][1] == store.fetch(2)
        assert client.store("2", "+FLAGS", "\\Seen") == ("OK", [b"2 (FLAGS (\\Seen \\Recent))"])
        assert client.uid("STORE", "3", "+FLAGS", "(\\Deleted)")[0] == "OK"
        assert client.search(None, "UNSEEN") == ("OK", [b"1 3"])
        assert client.expunge() == ("OK", [b"3"])
        with pytest.raises(imaplib.IMAP4.error, match="invalid message sequence"):
            client.fetch("7", "(FLAGS)")
        client.logout()
    assert [(m.uid, m.flags) for m in store.listing().messages] == [(1, set()), (2, {SEEN})]


@pytest.mark.live
@pytest.mark.peer
def test_fetchmail_fetches_everything_over_imap(tmp_path: Path) -> None:
    program = require("fetchmail")
    store = filled_store(tmp_path / "server", "mbox")
    server = ImapServer(hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda user: store)
    with live_server(server) as port:
        code, output, fetched = fetchmail(program, "IMAP", port, tmp_path)
    assert code == 0, output
    assert "IMAP> A0002 SELECT" in output and "3 messages for alice" in output
    assert [m["subject"] for m in mailbox.mbox(fetched, create=False)] == ["note 0", "note 1", "note 2"]
    assert store.listing().messages == ()


@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_idle_announces_a_delivery_as_it_happens(tmp_path: Path, kind: str) -> None:
    store = filled_store(tmp_path, kind, count=0)  # no mail yet: not even a file
    world = two_link_world()
    server = ImapServer(hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda user: store)

    def deliver() -> None:
        store.deliver(message(5), sender="bob@example.net", recipient="alice@example.org", when=world.sim.wallclock())

    world.loop.call_at(30.0, deliver)

    async def idler(host: str, port: int) -> tuple[list[bytes], float, list[bytes]]:
        reader, writer = await asyncio.open_connection(host, port)
        await reader.readline()
        for line in (LOGIN.encode() + b"\r\n", b"s SELECT INBOX\r\n"):
            writer.write(line)
            await read_imap_reply(reader, line[:1])
        writer.write(b"i IDLE\r\n")
        started = [await reader.readline()]
        update = [await reader.readline(), await reader.readline()]
        when = asyncio.get_running_loop().time()
        writer.write(b"DONE\r\n")
        done = await read_imap_reply(reader, b"i")
        writer.close()
        return started + update, when, done

    lines, when, done = run_virtual(server, idler, 143, world)
    assert lines == [b"+ idling\r\n", b"* 1 EXISTS\r\n", b"* 1 RECENT\r\n"]
    assert 30.0 < when < 30.1  # the delivery's time plus the server-to-client delay
    assert done == [b"i OK Idle completed.\r\n"]


def test_a_client_vanishing_mid_fetch_leaves_the_store_intact(tmp_path: Path) -> None:
    store = filled_store(tmp_path, "mbox", count=1)
    store.deliver(
        message(8, b"z" * 2_000_000 + b"\r\n"), sender="bob@example.net", recipient="alice@example.org",
        when=datetime(2026, 1, 5, 10, tzinfo=UTC),
    )  # fmt: skip
    before = store.path.read_bytes()
    world = two_link_world()
    server = ImapServer(
        hostname="mail.example.org",
        credentials=CREDENTIALS,
        mailboxes=lambda user: store,
        emit=emitter(world.sim, "server", "imap"),
    )

    async def vanish(host: str, port: int) -> int:
        reader, writer = await asyncio.open_connection(host, port)
        await reader.readline()
        writer.write(LOGIN.encode() + b"\r\ns EXAMINE INBOX\r\nf FETCH 1:* BODY.PEEK[]\r\n")
        got = 0
        while got < 300_000:
            got += len(await reader.read(65536))
        writer.transport.abort()
        return got

    assert run_virtual(server, vanish, 143, world) >= 300_000
    world.sim.run(until=world.sim.now + 60)
    assert store.path.read_bytes() == before and [m.uid for m in store.listing().messages] == [1, 2]
    assert [r.event for r in world.sim.trace.select("lost", service="imap")] == ["lost"]


def test_a_silent_client_is_logged_out_after_thirty_minutes(tmp_path: Path) -> None:
    store = filled_store(tmp_path, "mbox", count=1)
    server = ImapServer(hostname="mail.example.org", credentials=CREDENTIALS, mailboxes=lambda user: store)

    async def silent(host: str, port: int) -> tuple[bytes, float]:
        reader, _ = await asyncio.open_connection(host, port)
        await reader.readline()
        return await reader.readline(), asyncio.get_running_loop().time()

    line, when = run_virtual(server, silent, 143)
    assert line == b"* BYE Disconnected for inactivity.\r\n" and 1800 < when < 1801
    assert DELETED not in store.listing().messages[0].flags


def test_a_mailbox_damaged_while_selected_gets_no_not_a_crash(tmp_path: Path) -> None:
    store = filled_store(tmp_path, "mbox")
    imap = selected(store)
    store.path.write_bytes(store.path.read_bytes()[:-40])
    assert run(imap, "a FETCH 1 BODY.PEEK[]", "b FETCH 1 BODY[]") == [
        "a NO [UNAVAILABLE] Mailbox cannot be opened: CorruptMailbox",
        "b NO [UNAVAILABLE] Mailbox cannot be changed: CorruptMailbox",
    ]


def test_untagged_garbage_counts_as_an_error_too(store: Any) -> None:
    imap = ImapSession(hostname="h", credentials=CREDENTIALS, mailboxes=lambda user: store, max_errors=2)
    assert imap.bad(b"* junk\r\n", ImapError("too_long")) == [b"* BAD Error in IMAP command received by server.\r\n"]
    assert imap.bad(b"(junk\r\n", ImapError("too_long"))[-1] == b"* BYE Too many invalid IMAP commands.\r\n"
    assert imap.closed
