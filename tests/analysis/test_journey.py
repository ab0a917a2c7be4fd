"""Where a message's bytes are over time: intervals and the bar figure, from a real default run."""

from __future__ import annotations

import pytest

from mailsim.analysis.frames import all_frames
from mailsim.analysis.journey import (
    byte_intervals,
    byte_locations,
    carrying_sessions,
    duration_text,
    message_keys,
)
from mailsim.core.trace import TraceRecord
from tests.analysis.default_run import bounced, default_frames, first_submitted


@pytest.fixture(scope="module")
def frames():
    return default_frames()


@pytest.fixture(scope="module")
def intervals(frames):
    return byte_intervals(frames, first_submitted(frames))


def test_a_relayed_message_is_in_the_ua_on_two_wires_in_queues_and_in_a_mailbox(intervals):
    assert set(intervals.kind) == {"ua", "wire", "queue", "mailbox", "fetched"}  # bob reads it over IMAP at 2m
    assert "desktop.example.net" in " ".join(intervals[intervals.kind == "fetched"].place)
    wires = intervals[intervals.kind == "wire"]
    assert list(wires.place) == ["wire laptop.example.org → mail.example.org", "wire mail.example.org → mx.example.net"]
    assert (wires.end > wires.start).all()
    mailbox = intervals[intervals.kind == "mailbox"].iloc[0]
    assert mailbox.host == "mx.example.net" and bool(mailbox.open)
    assert intervals[~intervals.kind.isin(["mailbox", "fetched"])].open.eq(False).all()


def test_store_and_forward_the_queue_file_outlives_the_next_hops_copy(intervals):
    msa_active = intervals[intervals.place.str.startswith("mail.example.org: active queue")].iloc[0]
    relay = intervals[intervals.place == "wire mail.example.org → mx.example.net"].iloc[0]
    mx_queue = intervals[intervals.place.str.startswith("mx.example.net: incoming queue")].iloc[0]
    assert msa_active.start <= relay.start and relay.end <= mx_queue.start <= msa_active.end


def test_bytes_arrive_in_the_queue_when_the_wire_delivered_them(intervals):
    first_wire = intervals[intervals.kind == "wire"].iloc[0]
    incoming = intervals[intervals.place.str.startswith("mail.example.org: incoming queue")].iloc[0]
    assert incoming.start == pytest.approx(first_wire.end)


def test_follow_bounces_adds_the_delivery_status_notification(frames):
    mid = bounced(frames)
    followed = byte_intervals(frames, mid)
    alone = byte_intervals(frames, mid, follow_bounces=False)
    assert followed.place.str.endswith("(bounce)").any()
    assert not alone.place.str.endswith("(bounce)").any()
    assert len(message_keys(frames, mid)[0]) == 2 and message_keys(frames, mid, follow_bounces=False)[0] == {mid}


def test_carrying_sessions_are_both_sides_of_each_hop(frames):
    carrying = carrying_sessions(frames, first_submitted(frames))
    assert carrying.key.nunique() == 2
    assert sorted(carrying.side) == ["client", "client", "server", "server"]


def test_figure_has_a_bar_per_interval_and_a_row_per_place(frames, intervals, tmp_path):
    fig = byte_locations(frames, first_submitted(frames))
    ax = fig.axes[0]
    assert len([p for p in ax.patches if p.get_gid() == "bar"]) == len(intervals)
    assert len(ax.get_yticks()) == intervals.place.nunique()
    assert len([t for t in ax.texts if t.get_gid() == "open"]) == int(intervals.open.sum())
    fig.savefig(tmp_path / "bytes.png", dpi=60)
    assert (tmp_path / "bytes.png").stat().st_size > 5000


def test_unknown_message_has_no_intervals_and_an_empty_figure(frames):
    assert byte_intervals(frames, "nobody@nowhere").empty
    assert "no trace" in byte_locations(frames, "nobody@nowhere").axes[0].texts[0].get_text()


def _records(*rest: TraceRecord) -> list[TraceRecord]:
    mid, qid = "m1@example.net", "Q1"
    return [
        TraceRecord(1.0, "mx", "cleanup", "queue", qid, mid, {"src": None, "dst": "incoming"}),
        TraceRecord(1.0, "mx", "qmgr", "queue", qid, mid, {"src": "incoming", "dst": "active"}),
        TraceRecord(1.5, "mx", "local", "delivery", qid, mid,
                    {"to": "bob@example.net", "status": "sent", "dsn": "2.0.0", "text": "delivered to maildir"}),
        TraceRecord(1.5, "mx", "qmgr", "queue", qid, mid, {"src": "active", "dst": None, "final": "delivered"}),
        *rest,
    ]  # fmt: skip


def test_fetch_by_an_access_client_is_a_new_place_matched_by_user():
    records = _records(
        TraceRecord(5.0, "mx", "pop3", "connect", None, None, {"client": "198.51.100.50"}),
        TraceRecord(5.1, "mx", "pop3", "retr", None, None, {"user": "bob@example.net", "number": 1, "bytes": 900}),
        TraceRecord(6.0, "mx", "imap", "fetch", None, None, {"user": "carol", "messages": 1, "bytes": 900}),
    )
    found = byte_intervals(all_frames(records), "m1@example.net", until=10.0)
    assert list(found.kind) == ["queue", "queue", "mailbox", "fetched"]
    assert found.place.iloc[2] == "mx: Maildir of bob@example.net"
    fetched = found.iloc[3]
    assert (fetched.place, fetched.start, fetched.end) == ("fetched by 198.51.100.50 (pop3)", 5.1, 10.0)


def test_fetch_record_with_a_message_id_is_matched_exactly():
    records = _records(TraceRecord(2.0, "mx", "imap", "fetch", None, "other@example.net", {"user": "bob"}))
    assert "fetched" not in set(byte_intervals(all_frames(records), "m1@example.net").kind)


def test_command_delivery_consumes_the_bytes_at_once():
    records = _records()
    records[2] = TraceRecord(1.5, "mx", "local", "delivery", "Q1", "m1@example.net",
                             {"to": "autolog", "status": "sent", "text": "delivered to command: /usr/local/bin/autologger"})  # fmt: skip
    command = byte_intervals(all_frames(records), "m1@example.net").query("kind == 'command'").iloc[0]
    assert command.start == command.end and "autologger" in command.place


def test_duration_text_picks_a_readable_unit():
    assert [duration_text(s) for s in (0.0235, 1.5, 300, 7200, 5 * 86400)] == [
        "23.5 ms",
        "1.5 s",
        "5 min",
        "2 h",
        "5 d",
    ]
