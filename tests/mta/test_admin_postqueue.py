"""mailq / postqueue -p / -j: Postfix's layout over a queue built by a run with a dead MX."""

from __future__ import annotations

import json

from mailsim.mta.admin import (
    ShowqMessage,
    ShowqRecipient,
    format_json,
    format_mailq,
    hold,
    mailq,
    postqueue_json,
    queue_frame,
    run_postqueue,
)
from tests.mta.admin_worlds import dead_mx

TIMEOUT = "connect to mx.example.net[203.0.113.25]:25: Connection timed out"
HEADING = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
RCPT = " " * 41


def _files(host):
    return {qf.sender or "<>": qf for qf in host.queue}


def test_mailq_lists_each_message_with_its_deferral_reason(tmp_path):
    world, host = dead_mx(tmp_path)
    files = _files(host)
    a, b = files["alice@example.org"], files["<>"]
    reason = " " * (76 - len(TIMEOUT)) + f"({TIMEOUT})\n"
    assert mailq(host) == (
        HEADING
        + f"{a.queue_id}{a.size:>8} Mon Jan  5 09:00:10  alice@example.org\n"
        + reason + f"{RCPT}bob@example.net\n{RCPT}carol@example.net\n"
        + "\n"
        + f"{b.queue_id}{b.size:>8} Mon Jan  5 09:00:20  MAILER-DAEMON\n"
        + reason + f"{RCPT}dave@example.net\n"
        + f"\n-- {(a.size + b.size) // 1024} Kbytes in 2 Requests.\n"
    )  # fmt: skip


def test_an_empty_queue(tmp_path):
    world, host = dead_mx(tmp_path, until=5.0)
    assert mailq(host) == "Mail queue is empty\n"
    assert postqueue_json(host) == ""


def test_hold_and_active_are_marked_after_the_queue_id(tmp_path):
    world, host = dead_mx(tmp_path, until=610.0)  # the first retry (scan at 600 s) is under way
    listing = mailq(host)
    ids = [qf.queue_id for qf in host.queue]
    assert all(f"{qid}* " in listing for qid in ids)
    assert "(" not in listing  # qmgr reset the defer logs when it activated the files again
    hold(host, ids[0])
    assert f"\n{ids[0]}!" in mailq(host) and f"\n{ids[1]}*" in mailq(host)
    world.sim.run(until=700.0)  # let the attempts under way end (a run stopped mid-session leaves coroutines)


def test_postqueue_j_gives_postfix_json_lines(tmp_path):
    world, host = dead_mx(tmp_path)
    lines = postqueue_json(host).splitlines()
    first = json.loads(lines[0])
    assert list(first) == ["queue_name", "queue_id", "arrival_time", "message_size", "forced_expire", "sender",
                           "recipients"]  # fmt: skip
    assert first["queue_name"] == "deferred" and first["forced_expire"] is False
    assert first["arrival_time"] == 1767603610  # 2026-01-05 09:00:10 UTC, the run's epoch plus 10 s
    assert first["recipients"] == [
        {"address": "bob@example.net", "delay_reason": TIMEOUT},
        {"address": "carol@example.net", "delay_reason": TIMEOUT},
    ]
    assert json.loads(lines[1])["sender"] == "MAILER-DAEMON"
    assert lines[0].startswith('{"queue_name": "deferred", "queue_id": "')


def test_reason_lines_follow_postfix_rules():
    long = "x" * 80
    message = ShowqMessage("deferred", "ABCDEF12345", 0, 2048, True, "a@b", (
        ShowqRecipient("r1@b", "why"), ShowqRecipient("r2@b", "why"), ShowqRecipient("r3@b", ""),
        ShowqRecipient("r4@b", long),
    ))  # fmt: skip
    lines = format_mailq([message]).splitlines()
    assert lines[1] == "ABCDEF12345#    2048 Thu Jan  1 00:00:00  a@b"
    assert lines[2:] == [
        " " * 73 + "(why)", RCPT + "r1@b", RCPT + "r2@b",
        " " * 58 + "(reason unavailable)", RCPT + "r3@b",
        f"({long})", RCPT + "r4@b",
        "", "-- 2 Kbytes in 1 Request.",
    ]  # fmt: skip


def test_long_queue_ids_use_the_wide_layout():
    message = ShowqMessage("hold", "4dTq0m1QH9zB7cD", 0, 5, False, "a@b", (ShowqRecipient("c@d"),))
    lines = format_mailq([message], long_queue_ids=True).splitlines()
    assert lines[0] == "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------"
    assert lines[1] == "4dTq0m1QH9zB7cD!         5 Thu Jan  1 00:00:00 a@b"
    assert lines[2] == " " * 47 + "c@d"


def test_json_escapes_as_showq_json_does():
    message = ShowqMessage("active", 'q"\\', 1, 2, False, "a\tb\x1b\x7f", (ShowqRecipient("é@x", "l1\nl2"),))
    assert format_json([message]) == (
        '{"queue_name": "active", "queue_id": "q\\"\\\\", "arrival_time": 1, "message_size": 2, '
        '"forced_expire": false, "sender": "a\\tb\\u001B\\u007F", '
        '"recipients": [{"address": "é@x", "delay_reason": "l1\\nl2"}]}\n'
    )


def test_the_listing_as_a_dataframe(tmp_path):
    world, host = dead_mx(tmp_path)
    frame = queue_frame(host)
    assert list(frame.recipient) == ["bob@example.net", "carol@example.net", "dave@example.net"]
    assert set(frame.delay_reason) == {TIMEOUT}


def test_postqueue_options(tmp_path):
    world, host = dead_mx(tmp_path)
    assert run_postqueue(host, ["-p"]).stdout == mailq(host)
    assert run_postqueue(host, ["-c", "/etc/postfix", "-j"]).stdout == postqueue_json(host)
    usage = "postqueue: fatal: usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site\n"
    assert run_postqueue(host, []).as_tuple() == (69, "", usage)
    assert run_postqueue(host, ["-p", "-j"]).as_tuple() == (69, "", usage)
    assert run_postqueue(host, ["-x"]).as_tuple() == (69, "", "postqueue: invalid option -- 'x'\n" + usage)


def test_postqueue_f_and_i_hand_deferred_mail_to_qmgr_now(tmp_path):
    world, host = dead_mx(tmp_path)
    qid = next(iter(host.queue)).queue_id
    assert run_postqueue(host, ["-i", qid]).exit_code == 0
    world.sim.run(until=121.0)
    assert host.queue.get(qid).state.value == "active"
    assert run_postqueue(host, ["-f"]).exit_code == 0
    world.sim.run(until=122.0)
    assert all(qf.state.value == "active" for qf in host.queue)
    world.sim.run(until=200.0)
