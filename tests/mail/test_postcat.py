"""postcat rendering, compared with what Postfix 3.7's ``postcat -q`` printed for a deferred message."""

from __future__ import annotations

from datetime import UTC, datetime

from mailsim.mail.envelope import Envelope
from mailsim.mail.postcat import queue_path, render_postcat
from mailsim.mail.queuefile import QueueFile, QueueState

EPOCH = datetime(2026, 11, 25, 0, 0, 0, tzinfo=UTC)


def _oracle_queue_file(postfix_dir) -> tuple[QueueFile, str]:
    text = (postfix_dir / "postcat-deferred.txt").read_text()
    lines = text.split("*** MESSAGE CONTENTS deferred/8/8AE9820C3AB ***\n")[1].split("*** HEADER EXTRACTED")[0]
    content = lines.replace("\n", "\r\n").encode()
    envelope = Envelope("alice@example.com", ("erin@example.edu",))
    arrival = 33 * 60 + 47.0  # 00:33:47 after EPOCH
    qf = QueueFile.from_envelope("8AE9820C3AB", envelope, content, arrival_time=arrival, state=QueueState.DEFERRED)
    return qf, text


def test_postcat_layout_matches_real_postfix(postfix_dir):
    qf, real = _oracle_queue_file(postfix_dir)
    ours = render_postcat(qf, epoch=EPOCH)
    real_lines, our_lines = real.splitlines(), ours.splitlines()
    assert our_lines[0] == real_lines[0] == "*** ENVELOPE RECORDS deferred/8/8AE9820C3AB ***"
    assert our_lines[1].split()[:2] == real_lines[1].split()[:2] == ["message_size:", "418"]
    assert our_lines[1][:29] == real_lines[1][:29]  # %15ld fields
    for line in ("message_arrival_time: Wed Nov 25 00:33:47 2026", "sender: alice@example.com",
                 "recipient: erin@example.edu", "original_recipient: erin@example.edu"):  # fmt: skip
        assert line in real_lines and line in our_lines
    contents = real[real.index("*** MESSAGE CONTENTS") :]
    assert ours[ours.index("*** MESSAGE CONTENTS") :] == contents


def test_postcat_shows_a_truncated_file_up_to_the_damage(postfix_dir):
    qf, _ = _oracle_queue_file(postfix_dir)
    data = qf.to_bytes()
    text = render_postcat(data[: len(data) - 40], state=QueueState.DEFERRED, epoch=EPOCH)
    assert text.splitlines()[-1].startswith("*** CORRUPT deferred/8/8AE9820C3AB:")
    assert "sender: alice@example.com" in text and "MESSAGE FILE END" not in text


def test_queue_paths():
    assert queue_path("8AE9820C3AB", QueueState.DEFERRED) == "deferred/8/8AE9820C3AB"
    assert queue_path("8AE9820C3AB", QueueState.ACTIVE) == "active/8AE9820C3AB"
