"""Session transcripts: every line both ends exchanged, with the loop's timestamps, captured without parsing SMTP.

The server and client protocols hand the recorder the raw bytes they read and write; it only splits them on
CRLF. Two things are recognised, both at the line level: after a ``354`` reply the client's bytes up to the
lone ``.`` are one ``[N bytes of message content]`` line (a transcript shows the dialogue, not the message),
and AUTH secrets (the argument of ``AUTH <mechanism> <response>`` and every client line answering a ``334``)
are shown as ``********`` as aiosmtpd's own log does. Lines after STARTTLS are the decrypted dialogue.

Recording is off unless a :data:`TranscriptSink` is given (capacity runs pass none and pay nothing). A finished
session is handed to the sink as one :class:`SessionTranscript`; :func:`trace_sink` turns that into one
``transcript`` trace record per session side. :func:`render_transcript` prints a session like a terminal.

Postfix parameters read: none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailsim.core.simulation import Simulation

CLIENT = "C"
SERVER = "S"
_AUTH = re.compile(r"^(AUTH\s+\S+\s+)\S+", re.IGNORECASE)
_MASK = "********"


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One line as one end saw it: when (``loop.time()``), who sent it (``C``/``S``), its text and wire size."""

    time: float
    direction: str
    text: str
    size: int


@dataclass(frozen=True, slots=True)
class SessionTranscript:
    """A whole session seen from one end (``side`` is ``"server"`` or ``"client"``)."""

    session_id: str
    side: str
    host: str
    service: str
    local: str
    peer: str
    lines: tuple[TranscriptLine, ...]


TranscriptSink = Callable[[SessionTranscript], None]


class Recorder:
    """Splits one connection's bytes into :class:`TranscriptLine` s as they are read and written."""

    __slots__ = ("_clock", "lines", "_partial", "_body", "_body_bytes", "_secret")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.lines: list[TranscriptLine] = []
        self._partial = {CLIENT: b"", SERVER: b""}
        self._body = False
        self._body_bytes = 0
        self._secret = False

    def client(self, data: bytes) -> None:
        """Bytes the client sent (read by a server, written by a client)."""
        self._feed(CLIENT, data)

    def server(self, data: bytes) -> None:
        """Bytes the server sent."""
        self._feed(SERVER, data)

    def _feed(self, direction: str, data: bytes) -> None:
        buffer = self._partial[direction] + data
        *complete, rest = buffer.split(b"\r\n")
        self._partial[direction] = rest
        for raw in complete:
            if direction == CLIENT:
                self._client_line(raw)
            else:
                self._server_line(raw)

    def _client_line(self, raw: bytes) -> None:
        if self._body:
            if raw != b".":
                self._body_bytes += len(raw) + 2
                return
            self._body = False
            self._add(CLIENT, f"[{self._body_bytes} bytes of message content]", self._body_bytes)
            self._body_bytes = 0
        text = raw.decode("utf-8", "replace")
        if self._secret:
            self._secret = False
            text = _MASK
        else:
            text = _AUTH.sub(lambda m: m.group(1) + _MASK, text)
        self._add(CLIENT, text, len(raw) + 2)

    def _server_line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace")
        self._flush_body()
        if len(text) >= 4 and text[3] == " ":
            self._body = text.startswith("354")
            self._secret = text.startswith("334")
        self._add(SERVER, text, len(raw) + 2)

    def _add(self, direction: str, text: str, size: int) -> None:
        self.lines.append(TranscriptLine(self._clock(), direction, text, size))

    def finish(self) -> tuple[TranscriptLine, ...]:
        """All lines, with a trailing partial line (a client that vanished mid-line) kept as it was."""
        for direction in (CLIENT, SERVER):
            rest = self._partial[direction]
            if rest and not (direction == CLIENT and self._body):
                self._add(direction, rest.decode("utf-8", "replace"), len(rest))
            self._partial[direction] = b""
        self._flush_body()
        return tuple(self.lines)

    def _flush_body(self) -> None:
        """Close a message body the client never finished (the server spoke or the connection ended)."""
        if self._body and self._body_bytes:
            self._add(CLIENT, f"[{self._body_bytes} bytes of message content, unfinished]", self._body_bytes)
        self._body, self._body_bytes = False, 0


def trace_sink(sim: Simulation) -> TranscriptSink:
    """A sink that writes each finished session as one ``transcript`` record into ``sim``'s trace."""

    def emit(transcript: SessionTranscript) -> None:
        sim.emit(
            transcript.host,
            transcript.service,
            "transcript",
            session=transcript.session_id,
            side=transcript.side,
            local=transcript.local,
            peer=transcript.peer,
            lines=transcript.lines,
        )

    return emit


def render_transcript(lines: Sequence[TranscriptLine], *, timestamps: bool = True) -> str:
    """The session as a terminal would show it: ``[+12.345 ms] S: 220 ...`` (times from the first line)."""
    if not lines:
        return ""
    start = lines[0].time
    out = []
    for line in lines:
        stamp = f"[+{(line.time - start) * 1000.0:.3f} ms] " if timestamps else ""
        out.append(f"{stamp}{line.direction}: {line.text}")
    return "\n".join(out)
