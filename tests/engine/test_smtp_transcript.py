"""Transcripts: lines split on CRLF with their times, the message body summarised, secrets masked."""

from __future__ import annotations

from mailsim.core import Simulation
from mailsim.engine.transcript import Recorder, SessionTranscript, TranscriptLine, render_transcript, trace_sink


def _recorder() -> tuple[Recorder, list[float]]:
    clock = [0.0]
    return Recorder(lambda: clock[0]), clock


def test_lines_are_split_on_crlf_across_chunks_with_the_time_they_completed() -> None:
    recorder, clock = _recorder()
    recorder.server(b"220 mx ESMTP\r\n")
    clock[0] = 0.010
    recorder.client(b"EHLO cl")
    clock[0] = 0.012
    recorder.client(b"ient\r\nQUIT\r\n")
    assert recorder.finish() == (
        TranscriptLine(0.0, "S", "220 mx ESMTP", 14),
        TranscriptLine(0.012, "C", "EHLO client", 13),
        TranscriptLine(0.012, "C", "QUIT", 6),
    )


def test_the_message_body_is_one_line_and_the_dot_ends_it() -> None:
    recorder, _ = _recorder()
    recorder.client(b"DATA\r\n")
    recorder.server(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    recorder.client(b"Subject: x\r\n\r\n..stuffed\r\n.\r\n")
    recorder.server(b"250 2.0.0 Ok: queued as ABC\r\n")
    texts = [line.text for line in recorder.finish()]
    assert texts == [
        "DATA",
        "354 End data with <CR><LF>.<CR><LF>",
        "[25 bytes of message content]",
        ".",
        "250 2.0.0 Ok: queued as ABC",
    ]


def test_an_unfinished_body_is_marked() -> None:
    recorder, _ = _recorder()
    recorder.server(b"354 go\r\n")
    recorder.client(b"half a line\r\nand")
    assert recorder.finish()[-1].text == "[13 bytes of message content, unfinished]"


def test_auth_secrets_are_masked() -> None:
    recorder, _ = _recorder()
    recorder.client(b"AUTH PLAIN AGFsaWNlAHB3\r\nAUTH LOGIN\r\n")
    recorder.server(b"334 VXNlcm5hbWU6\r\n")
    recorder.client(b"YWxpY2U=\r\n")
    recorder.server(b"334 UGFzc3dvcmQ6\r\n")
    recorder.client(b"cHc=\r\n")
    recorder.server(b"235 2.7.0 Authentication successful\r\n")
    recorder.client(b"MAIL FROM:<a@b>\r\n")
    client = [line.text for line in recorder.finish() if line.direction == "C"]
    assert client == ["AUTH PLAIN ********", "AUTH LOGIN", "********", "********", "MAIL FROM:<a@b>"]


def test_render_looks_like_a_terminal_session() -> None:
    lines = (TranscriptLine(1.0, "S", "220 mx ESMTP", 14), TranscriptLine(1.012345, "C", "EHLO c", 8))
    assert render_transcript(lines) == "[+0.000 ms] S: 220 mx ESMTP\n[+12.345 ms] C: EHLO c"
    assert render_transcript(lines, timestamps=False) == "S: 220 mx ESMTP\nC: EHLO c"
    assert render_transcript(()) == ""


def test_the_trace_sink_writes_one_record_per_session_side() -> None:
    sim = Simulation(1)
    line = TranscriptLine(0.0, "S", "220 mx", 8)
    trace_sink(sim)(SessionTranscript("mx/smtp/1", "server", "mx", "smtp", "192.0.2.2:25", "192.0.2.1:40000", (line,)))
    (record,) = sim.trace.select("transcript", host="mx", service="smtp")
    assert (record.get("session"), record.get("side"), record.get("lines")) == ("mx/smtp/1", "server", (line,))
