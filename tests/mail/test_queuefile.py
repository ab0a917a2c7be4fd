"""Queue files: the life-cycle table, the record format, and detection of files cut short."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailsim.core.errors import SimulationError
from mailsim.mail.envelope import Body, Envelope, Notify, RcptDsn, Ret
from mailsim.mail.queuefile import (
    QUEUE_TRANSITIONS,
    QUEUES,
    TERMINAL,
    CorruptQueueFile,
    QueueFile,
    QueueState,
    encode_record,
    iter_records,
    transition,
    transition_edges,
)

S = QueueState
CONTENT = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nline one\r\nline two\r\n"


def _queue_file(**changes: object) -> QueueFile:
    envelope = Envelope.from_smtp(
        "alice@example.org",
        ["RET=HDRS", "ENVID=QQ+2B1", "BODY=8BITMIME"],
        [("bob@example.net", ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Bob@example.net"]), ("carol@example.net", [])],
    )
    assert isinstance(envelope, Envelope)
    qf = QueueFile.from_envelope(
        "8AE9820C3AB", envelope, CONTENT, arrival_time=12.25,
        attributes=(("client_name", "mua.example.org"), ("protocol_name", "ESMTPSA")),
        originals=("team@example.net", None),
    )  # fmt: skip
    return dataclasses.replace(qf, **changes)  # type: ignore[arg-type]


def test_a_message_goes_incoming_active_deferred_active_delivered():
    state = S.INCOMING
    for new in (S.ACTIVE, S.DEFERRED, S.ACTIVE, S.DELIVERED):
        state = transition(state, new)
    assert state is S.DELIVERED


@pytest.mark.parametrize(
    ("src", "dst"),
    [(S.DELIVERED, S.ACTIVE), (S.HOLD, S.ACTIVE), (S.INCOMING, S.DELIVERED), (S.CORRUPT, S.ACTIVE),
     (S.DEFERRED, S.BOUNCED), (S.MAILDROP, S.ACTIVE)],
)  # fmt: skip
def test_illegal_moves_raise(src, dst):
    with pytest.raises(SimulationError, match=f"{src} -> {dst}"):
        transition(src, dst)


def test_the_table_covers_every_state_and_terminal_states_are_final():
    assert set(QUEUE_TRANSITIONS) == set(QueueState)
    assert set(QUEUES) | TERMINAL == set(QueueState)
    assert {S.DELIVERED, S.BOUNCED, S.EXPIRED, S.DELETED} == TERMINAL
    assert all(dst in QUEUE_TRANSITIONS for moves in QUEUE_TRANSITIONS.values() for dst in moves)
    assert ("hold", "deferred") in transition_edges()  # postsuper -H
    assert all(any(src == q for src, _ in transition_edges()) for q in QUEUES)  # every queue can be left


def test_queue_file_moves_through_its_table():
    qf = _queue_file().move(S.ACTIVE).move(S.HOLD)
    assert qf.state is S.HOLD
    with pytest.raises(SimulationError):
        qf.move(S.ACTIVE)


def test_marking_recipients_done():
    qf = _queue_file().mark_done("bob@example.net")
    assert [r.address for r in qf.pending] == ["carol@example.net"]
    assert qf.envelope().rcpt_tos == ("carol@example.net",)
    with pytest.raises(SimulationError):
        qf.mark_done("bob@example.net")


def test_record_round_trip():
    qf = _queue_file(warning_time=14412.25, state=S.DEFERRED).mark_done("carol@example.net")
    again = QueueFile.from_bytes(qf.to_bytes(), state=S.DEFERRED)
    assert again == qf
    assert again.recipients[0].dsn == RcptDsn((Notify.SUCCESS, Notify.FAILURE), "Bob@example.net")
    assert again.recipients[0].original == "team@example.net"
    assert (again.ret, again.envid, again.body) == (Ret.HDRS, "QQ+1", Body.EIGHT_BIT_MIME)
    assert again.envelope().size == len(CONTENT)


def test_long_lines_and_a_missing_final_newline_survive():
    content = b"Subject: x\r\n\r\n" + b"y" * 5000 + b"\r\nno newline at end"
    qf = _queue_file(content=content)
    assert QueueFile.from_bytes(qf.to_bytes()).content == content


def test_records_are_type_length_data():
    assert encode_record("S", b"a@b") == b"S\x03a@b"
    assert encode_record("N", b"x" * 200)[:3] == b"N\xc8\x01"  # 200 = 0x48 + 1*128: 7-bit varint
    assert [kind for kind, _, _ in iter_records(encode_record("M", b"") + encode_record("E", b""))] == ["M", "E"]


def test_every_truncation_is_detected():
    data = _queue_file().to_bytes()
    for cut in range(len(data)):
        with pytest.raises(CorruptQueueFile):
            QueueFile.from_bytes(data[:cut])


def test_a_file_cut_in_half_names_the_problem():
    data = _queue_file().to_bytes()
    with pytest.raises(CorruptQueueFile) as caught:
        QueueFile.from_bytes(data[: len(data) // 2])
    assert "truncated" in caught.value.reason or "cut short" in caught.value.reason


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: b"Z" + d[1:],  # not a size record first
        lambda d: d + encode_record("N", b"trailing"),  # data after the end record
        lambda d: d.replace(b"S\x11alice@example.org", b"Q\x11alice@example.org"),  # unknown envelope record
    ],
)
def test_garbled_files_are_corrupt_not_crashes(damage):
    with pytest.raises(CorruptQueueFile):
        QueueFile.from_bytes(damage(_queue_file().to_bytes()))


def test_size_record_disagreement_is_corrupt():
    data = bytearray(_queue_file().to_bytes())
    data[2:17] = f"{999:15d}".encode()  # the content size field
    with pytest.raises(CorruptQueueFile, match="disagrees"):
        QueueFile.from_bytes(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_flipped_bytes_give_a_queue_file_or_corrupt_never_a_crash(data):
    original = _queue_file().to_bytes()
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    try:
        QueueFile.from_bytes(bytes(damaged))
    except CorruptQueueFile:
        pass
