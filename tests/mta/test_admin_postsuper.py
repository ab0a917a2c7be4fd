"""postsuper: every move goes through the queue state table and the trace; hold means never retried."""

from __future__ import annotations

import pytest

from mailsim.core.errors import SimulationError
from mailsim.mail.queuefile import QueueState
from mailsim.mta.admin import hold, release, run_postsuper
from tests.mta.admin_worlds import advance, dead_mx, message

QUEUE_RUN_DELAY = 300.0


def _ids(host):
    return {qf.sender or "<>": qf.queue_id for qf in host.queue}


def _attempts(world, queue_id, after=0.0):
    trace = world.sim.trace
    return [r for r in trace.select("delivery", host="mail.example.org", queue_id=queue_id) if r.time > after]


def test_hold_then_release_prints_postfix_messages_and_traces_each_move(tmp_path):
    world, host = dead_mx(tmp_path)
    qid = _ids(host)["alice@example.org"]
    held = run_postsuper(host, ["-h", qid])
    assert held.as_tuple() == (0, "", f"postsuper: {qid}: placed on hold\npostsuper: Placed on hold: 1 message\n")
    assert host.queue.get(qid).state is QueueState.HOLD
    released = run_postsuper(host, ["-H", "ALL"])
    assert released.stderr == "postsuper: Released from hold: 1 message\n"  # ALL: no line per message
    assert host.queue.get(qid).state is QueueState.DEFERRED
    moves = [(r.get("src"), r.get("dst")) for r in world.sim.trace.select("queue", service="postsuper")]
    assert moves == [("deferred", "hold"), ("hold", "deferred")]
    actions = [(r.queue_id, r.get("action"), r.get("mass")) for r in world.sim.trace.select("postsuper")]
    assert actions == [(qid, "placed on hold", False), (qid, "released from hold", True)]


def test_a_held_message_is_never_retried_until_released(tmp_path):
    world, host = dead_mx(tmp_path, back_at="2h")
    qid = _ids(host)["alice@example.org"]
    hold(host, qid)
    advance(world, 6 * 3600.0)  # 72 queue runs, the MX back after 2 h: still nothing for the held file
    assert _attempts(world, qid, after=120.0) == []
    assert host.queue.get(qid).state is QueueState.HOLD
    assert _ids(host).get("<>") is None  # the other message was retried and went once the MX was back
    release(host, qid)
    advance(world, 6 * 3600.0 + QUEUE_RUN_DELAY + 60.0)
    retried = _attempts(world, qid, after=6 * 3600.0)
    assert retried and all(r.service == "smtp" and r.get("status") != "deferred" for r in retried)
    assert retried[0].time <= 6 * 3600.0 + QUEUE_RUN_DELAY + 1.0  # the first deferred-queue scan takes it
    assert host.queue.get(qid) is None


def test_requeue_goes_through_maildrop_and_pickup_to_incoming(tmp_path):
    world, host = dead_mx(tmp_path)
    qid = _ids(host)["alice@example.org"]
    out = run_postsuper(host, ["-r", qid])
    assert out.stderr == f"postsuper: {qid}: requeued\npostsuper: Requeued: 1 message\n"
    assert host.queue.get(qid).state is QueueState.MAILDROP
    advance(world, 240.0)  # pickup wakes every 60 s (master.cf): at 180 s; the new attempt times out at 210 s
    moves = [(r.time, r.service, r.get("src"), r.get("dst")) for r in world.sim.trace.select("queue", queue_id=qid)]
    assert ("pickup", "maildrop", "incoming") in [m[1:] for m in moves]
    assert [m for m in moves if m[1] == "pickup"][0][0] == 180.0
    assert any(r.service == "smtp" for r in _attempts(world, qid, after=180.0))  # qmgr tried it again at once
    assert host.queue.get(qid).arrival_time == 10.0  # the arrival time survives a requeue


def test_delete_all_of_one_queue_and_the_summary_counts(tmp_path):
    world, host = dead_mx(tmp_path)
    qid = _ids(host)["alice@example.org"]
    hold(host, qid)
    out = run_postsuper(host, ["-d", "ALL", "deferred"])
    assert out.as_tuple() == (0, "", "postsuper: Deleted: 1 message\n")
    assert [qf.queue_id for qf in host.queue] == [qid]  # the held one is not in deferred
    out = run_postsuper(host, ["-d", qid, "-d", "NOSUCHID1", "-h", "ALL"])
    assert (
        out.stderr
        == f"postsuper: {qid}: removed\npostsuper: Deleted: 1 message\npostsuper: Placed on hold: 0 messages\n"
    )
    assert list(host.queue) == []
    assert host.queue.finished[QueueState.DELETED] == 2


def test_operations_on_named_ids_run_in_command_line_order(tmp_path):
    world, host = dead_mx(tmp_path)
    ids = _ids(host)
    a, b = ids["alice@example.org"], ids["<>"]
    out = run_postsuper(host, ["-H", a, "-h", a, "-r", b])
    assert out.stderr == (
        f"postsuper: {a}: placed on hold\npostsuper: {b}: requeued\n"
        "postsuper: Requeued: 1 message\npostsuper: Placed on hold: 1 message\npostsuper: Released from hold: 0 messages\n"
    )


def test_user_mistakes_get_postfix_answers(tmp_path):
    world, host = dead_mx(tmp_path)
    assert run_postsuper(host, ["-d", "bad-id"]).as_tuple() == (
        0, "", "postsuper: warning: invalid mail queue id: bad-id\npostsuper: Deleted: 0 messages\n",
    )  # fmt: skip
    assert run_postsuper(host, ["-d", "ALL", "corrupt"]).as_tuple() == (
        1, "", "postsuper: fatal: invalid directory name: corrupt\n",
    )  # fmt: skip
    code, _, err = run_postsuper(host, ["-x"]).as_tuple()
    assert code == 1 and err.startswith("postsuper: invalid option -- 'x'\npostsuper: fatal: usage: postsuper")
    code, _, err = run_postsuper(host, ["-d"]).as_tuple()
    assert code == 1 and err.startswith("postsuper: option requires an argument -- 'd'\n")
    assert len(list(host.queue)) == 2


def test_ids_from_standard_input(tmp_path):
    world, host = dead_mx(tmp_path)
    ids = sorted(_ids(host).values())
    out = run_postsuper(host, ["-h", "-"], stdin="\n".join(ids) + "\n")
    assert out.stderr.endswith("postsuper: Placed on hold: 2 messages\n")


def test_holding_a_message_while_it_is_being_delivered(tmp_path):
    msg = message("10s", "alice@example.org", "bob@example.net")
    world, host = dead_mx(tmp_path, msg, until=20.0)  # the connection attempt times out at 40 s
    [qf] = list(host.queue)
    assert qf.state is QueueState.ACTIVE
    hold(host, qf.queue_id)
    advance(world, 2000.0)
    assert host.queue.get(qf.queue_id).state is QueueState.HOLD  # qmgr left it where postsuper put it
    assert len(_attempts(world, qf.queue_id)) == 1


def test_moves_are_checked_by_the_state_table(tmp_path):
    world, host = dead_mx(tmp_path)
    qid = _ids(host)["alice@example.org"]
    with pytest.raises(SimulationError):
        host.queue.move(qid, QueueState.INCOMING, service="postsuper")
