"""Message stores: Postfix's mbox and Maildir bytes, UIDs that hold, flags, locks, corruption reported, real readers."""

from __future__ import annotations

import mailbox
import os
import re
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailsim.da.stores import (
    DELETED,
    SEEN,
    CorruptMailbox,
    MailboxBusy,
    MailboxFull,
    MailboxLock,
    MailStores,
    StoreError,
)
from tests.peers import require

WHEN = datetime(2026, 1, 5, 9, 0, 1, tzinfo=UTC)
MESSAGE = (
    b"From: Bob <bob@example.net>\r\nTo: alice@example.org\r\nSubject: hello\r\n"
    b"Message-ID: <1@example.net>\r\n\r\nFrom here on\r\n>From there\r\nFromage\r\n"
)


def msg(subject: str, body: bytes = b"body\r\n") -> bytes:
    return f"From: Bob <bob@example.net>\r\nSubject: {subject}\r\n\r\n".encode() + body


def at(second: int) -> datetime:
    return datetime(2026, 1, 5, 9, 0, second, tzinfo=UTC)


@pytest.fixture
def stores(tmp_path: Path) -> MailStores:
    return MailStores(tmp_path, hostname="mail.example.org", pid=4242)


def deliver_three(store) -> None:  # type: ignore[no-untyped-def]
    for number in range(3):
        store.deliver(msg(f"m{number}"), sender="bob@example.net", recipient="alice@example.org", when=at(number))


# -- mbox: what local(8) writes -------------------------------------------------------------------------------


def test_mbox_delivery_writes_postfix_bytes(stores: MailStores) -> None:
    box = stores.mbox("/var/mail/alice")
    done = box.deliver(
        MESSAGE,
        sender="bob@example.net",
        recipient="alice@example.org",
        when=WHEN,
        original_recipient="Alice@example.org",
    )
    box.deliver(b"Subject: bounce\n\nno final newline", sender="", recipient="alice@example.org", when=at(2))
    assert box.path == stores.root / "var/mail/alice"
    assert box.path.read_bytes() == (
        b"From bob@example.net  Mon Jan  5 09:00:01 2026\n"
        b"Return-Path: <bob@example.net>\nX-Original-To: Alice@example.org\nDelivered-To: alice@example.org\n"
        b"From: Bob <bob@example.net>\nTo: alice@example.org\nSubject: hello\nMessage-ID: <1@example.net>\n\n"
        b">From here on\n>From there\nFromage\n\n"
        b"From MAILER-DAEMON  Mon Jan  5 09:00:02 2026\n"
        b"Return-Path: <>\nDelivered-To: alice@example.org\nSubject: bounce\n\nno final newline\n\n"
    )
    assert (done.uid, done.size, done.problems) == (1, box.path.read_bytes().index(b"From MAILER-DAEMON"), ())
    assert stat.S_IMODE(box.path.stat().st_mode) == 0o600


def test_from_quoting_round_trip_is_mboxo_as_postfix_writes_it(stores: MailStores) -> None:
    box = stores.mbox("/var/mail/alice")
    box.deliver(MESSAGE, sender="bob@example.net", recipient="alice@example.org", when=WHEN)
    served = box.fetch(1)
    # "From " gains one ">"; ">From" is not quoted again (so reading cannot undo it); "Fromage" is untouched
    assert served.endswith(b"\r\n\r\n>From here on\r\n>From there\r\nFromage\r\n")
    (read,) = list(mailbox.mbox(box.path, create=False))
    assert read.get_payload() == ">From here on\n>From there\nFromage\n"
    assert read.get_from() == "bob@example.net  Mon Jan  5 09:00:01 2026"
    assert box.listing().messages[0].size == len(served)


def test_python_mailbox_reads_the_mbox_and_leaves_it_unchanged(stores: MailStores) -> None:
    box = stores.mbox("/var/mail/alice")
    deliver_three(box)
    before = box.path.read_bytes()
    opened = mailbox.mbox(box.path, create=False)
    assert [m["subject"] for m in opened] == ["m0", "m1", "m2"]
    assert [m["Delivered-To"] for m in opened] == ["alice@example.org"] * 3
    opened.lock()
    opened.close()
    assert box.path.read_bytes() == before


def test_mbox_flags_are_status_headers_and_do_not_change_size_or_uid(stores: MailStores) -> None:
    box = stores.mbox("/var/mail/alice")
    deliver_three(box)
    before = box.listing()
    box.set_flags({1: {SEEN}, 2: {SEEN, DELETED, "\\Answered", "\\Recent"}})
    after = box.listing()
    assert [(m.uid, m.size, m.uidl) for m in after.messages] == [(m.uid, m.size, m.uidl) for m in before.messages]
    assert [m.flags for m in after.messages] == [{SEEN}, {SEEN, DELETED, "\\Answered"}, set()]
    assert [m.get_flags() for m in mailbox.mbox(box.path, create=False)] == ["RO", "ROAD", ""]
    assert b"Status" not in box.fetch(2)


def test_expunge_keeps_the_other_uids_and_a_new_store_object_sees_the_same(stores: MailStores) -> None:
    box = stores.mbox("/var/mail/alice")
    deliver_three(box)
    assert box.expunge([2]) == [2]
    assert [m.uid for m in box.listing().messages] == [1, 3]
    box.deliver(msg("m3"), sender="bob@example.net", recipient="alice@example.org", when=at(9))
    again = MailStores(stores.root).mbox("/var/mail/alice").listing()
    assert [m.uid for m in again.messages] == [1, 3, 4]
    assert again.uidvalidity == box.listing().uidvalidity == int(at(0).timestamp())
    assert [m.get_from().startswith("bob@") for m in mailbox.mbox(box.path, create=False)] == [True] * 3


def test_other_programs_appending_or_editing_the_mbox(stores: MailStores) -> None:
    box = stores.mbox("/var/mail/alice")
    deliver_three(box)
    outside = mailbox.mbox(box.path, create=False)
    outside.add(b"From someone@example.com  Mon Jan  5 10:00:00 2026\nSubject: added\n\nhi\n")
    outside.flush()
    listing = box.listing()
    assert [m.uid for m in listing.messages] == [1, 2, 3, 4] and listing.uidvalidity == int(at(0).timestamp())
    outside.remove(0)  # a message vanishes from the middle: UIDs survive
    outside.flush()
    assert [m.uid for m in box.listing().messages] == [2, 3, 4]
    data = box.path.read_bytes()
    first = data.index(b"\nFrom ") + 1
    box.path.write_bytes(data[first:] + data[:first])  # reordered: UIDs cannot ascend any more
    renumbered = box.listing()
    assert renumbered.uidvalidity == listing.uidvalidity + 1 and [m.uid for m in renumbered.messages] == [1, 2, 3]


def test_a_mailbox_seen_empty_keeps_its_uidvalidity_when_mail_arrives(tmp_path: Path) -> None:
    stores = MailStores(tmp_path, clock=lambda: at(0))
    for box in (stores.mbox("/var/mail/alice"), stores.maildir("/home/alice/Maildir/")):
        empty = box.listing()
        assert empty.messages == () and empty.uidvalidity == int(at(0).timestamp()) and box.claim_recent() == set()
        assert not box.path.exists()  # looking creates no files
        box.deliver(msg("first"), sender="bob@example.net", recipient="alice@example.org", when=at(30))
        assert box.listing().uidvalidity == empty.uidvalidity and box.listing().recent == {1}


# -- corruption is reported, never repaired ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda data: b"garbage\n" + data, "8 bytes of garbage before the first From_ line"),
        (lambda data: data[:-30], "truncated: the file ends in the middle of a line"),
        (lambda data: data[:-1], "truncated: the last message lacks its blank line"),
        (lambda data: data.replace(b"\n\nFrom bob", b"\nFrom bob", 1), "no blank line before this From_ line"),
        (lambda data: data.replace(b"From bob@example.net  Mon", b"From bob@example.net", 1), "malformed From_ line"),
    ],
    ids=["garbage", "cut-mid-line", "no-final-blank", "merged", "bad-separator"],
)
def test_a_corrupted_mbox_is_reported_and_left_alone(stores: MailStores, damage, problem: str) -> None:  # type: ignore[no-untyped-def]
    box = stores.mbox("/var/mail/alice")
    deliver_three(box)
    box.listing()
    box.path.write_bytes(damage(box.path.read_bytes()))
    broken = box.path.read_bytes()
    assert problem in [p.text for p in box.check()]
    with pytest.raises(CorruptMailbox) as caught:
        box.listing()
    assert problem in str(caught.value) and caught.value.status == "4.2.0"
    for change in (lambda: box.set_flags({1: {SEEN}}), lambda: box.expunge([1])):
        with pytest.raises(StoreError):
            change()
    with pytest.raises(CorruptMailbox):  # the recipient is deferred rather than appended to a broken file
        box.deliver(msg("late"), sender="bob@example.net", recipient="alice@example.org", when=at(30))
    assert box.path.read_bytes() == broken
    box.deliver(msg("blind"), sender="bob@example.net", recipient="alice@example.org", when=at(31), check=False)
    assert box.path.read_bytes().startswith(broken)  # what Postfix does: append, whatever the file holds


def test_a_sound_mbox_has_no_problems(stores: MailStores) -> None:
    box = stores.mbox("/var/mail/alice")
    assert box.check() == () and box.listing().messages == ()
    deliver_three(box)
    assert box.check() == ()


# -- locks and limits -------------------------------------------------------------------------------------


def test_the_mailbox_lock_is_held_released_and_broken_when_stale() -> None:
    lock = MailboxLock("/var/mail/alice")
    assert lock.acquire("local[1]", now=0.0) and not lock.acquire("local[2]", now=10.0)
    assert lock.acquire("local[1]", now=10.0)  # the holder may take it again
    assert lock.acquire("local[2]", now=600.0)  # older than stale_lock_time (500 s): broken
    with pytest.raises(RuntimeError):
        lock.release("local[1]")
    lock.release("local[2]")
    assert lock.holder is None


def test_delivery_refuses_a_mailbox_locked_by_someone_else(stores: MailStores) -> None:
    box = stores.mbox("/var/mail/alice")
    assert box.lock.acquire("local[1]", now=0.0)
    with pytest.raises(MailboxBusy):
        box.deliver(msg("x"), sender="b@example.net", recipient="alice@example.org", when=WHEN, holder="local[2]")
    box.deliver(msg("x"), sender="b@example.net", recipient="alice@example.org", when=WHEN, holder="local[1]")
    box.lock.release("local[1]")
    Path(f"{box.path}.lock").write_text("a dot-lock left by another program")
    with pytest.raises(MailboxBusy, match="lock"):
        box.deliver(msg("y"), sender="b@example.net", recipient="alice@example.org", when=WHEN)
    assert len(box.listing().messages) == 1


def test_mailbox_size_limit(stores: MailStores) -> None:
    box = stores.mbox("/var/mail/alice")
    with pytest.raises(MailboxFull) as caught:
        box.deliver(
            msg("big", b"x" * 2000), sender="b@example.net", recipient="a@example.org", when=WHEN, size_limit=1000
        )
    assert caught.value.status == "5.2.2"


def test_paths_stay_under_the_root_and_a_trailing_slash_means_maildir(stores: MailStores) -> None:
    assert stores.open("/home/alice/Maildir/").kind == "maildir" and stores.open("/var/mail/alice").kind == "mbox"
    assert stores.open("/var/mail/alice") is stores.mbox("/var/mail/alice")
    with pytest.raises(StoreError):
        stores.resolve("/var/mail/../../etc/passwd")
    with pytest.raises(StoreError):
        stores.maildir("/var/mail/alice")


# -- Maildir -------------------------------------------------------------------------------------------------


def test_maildir_delivery_goes_through_tmp_into_new_with_a_reproducible_name(stores: MailStores) -> None:
    box = stores.maildir("/home/alice/Maildir/")
    done = box.deliver(
        MESSAGE, sender="bob@example.net", recipient="alice@example.org", when=WHEN.replace(microsecond=250)
    )
    assert done.name == "1767603601.M250P4242Q1.mail.example.org"
    assert done.path == box.path / "new" / done.name and os.listdir(box.path / "tmp") == []
    assert done.path.read_bytes().startswith(
        b"Return-Path: <bob@example.net>\nDelivered-To: alice@example.org\nFrom: Bob"
    )
    assert b"\n\nFrom here on\n>From there\n" in done.path.read_bytes()  # no From_ line, no quoting
    assert b"\r" not in done.path.read_bytes()
    assert stat.S_IMODE(done.path.stat().st_mode) == 0o600 and done.path.stat().st_mtime == WHEN.timestamp() + 0.00025
    again = MailStores(stores.root / "second", hostname="mail.example.org", pid=4242).maildir("/home/alice/Maildir/")
    assert again.deliver(MESSAGE, sender="b@x", recipient="a@y", when=WHEN.replace(microsecond=250)).name == done.name


def test_maildir_names_escape_slash_and_colon_in_the_host_name(tmp_path: Path) -> None:
    box = MailStores(tmp_path, hostname="odd/host:name").maildir("/m/")
    assert box.deliver(msg("x"), sender="", recipient="a@b", when=WHEN).name.endswith(".odd\\057host\\072name")


def test_maildir_flags_move_messages_into_cur_and_python_mailbox_agrees(stores: MailStores) -> None:
    box = stores.maildir("/home/alice/Maildir/")
    deliver_three(box)
    assert box.listing().recent == {1, 2, 3}
    assert box.claim_recent() == {1, 2, 3} and box.listing().recent == set()
    box.set_flags({1: {SEEN}, 2: {SEEN, DELETED}})
    assert sorted(os.listdir(box.path / "cur")) == [
        "1767603600.M0P4242Q1.mail.example.org:2,S",
        "1767603601.M0P4242Q2.mail.example.org:2,ST",
        "1767603602.M0P4242Q3.mail.example.org:2,",
    ]
    reader = mailbox.Maildir(box.path, create=False)
    assert sorted((m["subject"], m.get_flags(), m.get_subdir()) for m in reader) == [
        ("m0", "S", "cur"),
        ("m1", "ST", "cur"),
        ("m2", "", "cur"),
    ]
    assert box.expunge([2]) == [2] and [m.uid for m in box.listing().messages] == [1, 3]
    assert box.listing().messages[0].internal_date == at(0)


def test_maildir_sizes_count_crlf_and_fetch_returns_crlf(stores: MailStores) -> None:
    box = stores.maildir("/home/alice/Maildir/")
    box.deliver(MESSAGE, sender="bob@example.net", recipient="alice@example.org", when=WHEN)
    (message,) = box.listing().messages
    content = box.fetch(message.uid)
    assert (
        message.size == len(content) == len(box.path.joinpath("new", message.key).read_bytes()) + content.count(b"\n")
    )
    assert re.fullmatch(rb"(?:[^\r\n]*\r\n)*", content)
    with pytest.raises(KeyError):
        box.fetch(99)


# -- real readers: mutt and s-nail ------------------------------------------------------------------------------


def _subjects_by_snail(folder: Path) -> list[str]:
    program = require("s-nail")
    result = subprocess.run(
        [program, "-n", "-N", "-R", "-H", "-S", "headline=SUBJECT=%s", "-f", str(folder)],
        capture_output=True, text=True, timeout=20, env={**os.environ, "HOME": str(folder.parent), "MAIL": "/dev/null"},
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return [line.split("=", 1)[1].strip() for line in result.stdout.splitlines() if line.startswith("SUBJECT=")]


def _messages_by_mutt(folder: Path, tmp_path: Path) -> list[str]:
    """mutt needs a terminal: run it under script(1), tag every message and pipe each one to a file."""
    mutt, script = require("mutt"), require("script")
    out, rc = tmp_path / "piped", tmp_path / "muttrc"
    keys = f"<tag-pattern>~A<enter><tag-prefix><pipe-entry>cat >> {out}<enter><quit>"
    settings = f"set folder={tmp_path} record= pipe_split=yes wait_key=no quit=yes"
    rc.write_text(f'{settings}\nfolder-hook . "push \\"{keys}\\""\n')
    command = f"{mutt} -n -F {rc} -R -f {folder}"  # keys pushed by -e would run before the folder is read
    env = {**os.environ, "TERM": "xterm", "HOME": str(tmp_path), "MAIL": "/dev/null"}
    subprocess.run(
        [script, "-qec", command, "/dev/null"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        env=env,
        check=True,
    )
    return re.findall(r"^Subject: (.*)$", out.read_text(), re.MULTILINE) if out.exists() else []


@pytest.mark.peer
@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_s_nail_lists_the_store(stores: MailStores, kind: str) -> None:
    box = stores.mbox("/var/mail/alice") if kind == "mbox" else stores.maildir("/home/alice/Maildir/")
    deliver_three(box)
    box.set_flags({2: {SEEN}})
    before = sorted((p, p.read_bytes()) for p in box.path.rglob("*") if p.is_file()) if kind == "maildir" else None
    assert _subjects_by_snail(box.path) == ["m0", "m1", "m2"]
    if before is not None:
        assert sorted((p, p.read_bytes()) for p in box.path.rglob("*") if p.is_file()) == before


@pytest.mark.peer
@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_mutt_opens_the_store_and_reads_every_message(stores: MailStores, kind: str, tmp_path: Path) -> None:
    box = stores.mbox("/var/mail/alice") if kind == "mbox" else stores.maildir("/home/alice/Maildir/")
    deliver_three(box)
    box.deliver(MESSAGE, sender="bob@example.net", recipient="alice@example.org", when=at(5))
    assert sorted(_messages_by_mutt(box.path, tmp_path)) == ["hello", "m0", "m1", "m2"]  # mutt sorts by date
