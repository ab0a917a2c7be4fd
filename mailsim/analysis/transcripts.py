"""SMTP sessions as a class reads them: a listing, one session rendered like a terminal, a reply explained.

Theory of operation. The ``sessions`` frame has one row per session *side* (the server's view and the
client's view of the same TCP connection are recorded separately, each with its own clock readings), and
the ``transcripts`` frame has their lines, written side after side in the same order. :func:`session_sides`
joins the two (by position when the frames are whole, else by session key and time window) and pairs a
client side with the server side of the same connection by their endpoints (client ``local`` = server
``peer`` and back) and overlapping times. A TCP session is named by its server side's id
(``mail.example.org/submission/1``); a side without a partner and without an id is named
``HOST/SERVICE/SIDE/N``. :func:`list_sessions` lists TCP sessions, :func:`session_lines` gives one side's
:class:`~mailsim.engine.transcript.TranscriptLine` s and :func:`session_transcript` renders them with
:func:`~mailsim.engine.transcript.render_transcript`. :func:`paired_arrows` matches the two sides line by
line (the k-th client line one side wrote is the k-th the other read) into :class:`Arrow` s for sequence
diagrams. :func:`explain_reply` reads a reply line the way RFC 5321 §4.2.1 and RFC 3463 teach it.

Postfix parameters read: none (a view over the trace).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mailsim.engine.transcript import CLIENT, SERVER, TranscriptLine, render_transcript
from mailsim.mail.enhanced import ENHANCED_CLASS, ENHANCED_CODE, ENHANCED_MEANING, ENHANCED_SUBJECT
from mailsim.mail.reply import classify

Frames = Mapping[str, pd.DataFrame]
QUEUED_AS = re.compile(r"\bqueued as ([0-9A-Za-z]+)")
_REPLY = re.compile(r"^([2-5]\d\d)([ -]?)(.*)$", re.DOTALL)
_CONTENT = re.compile(r"^\[\d+ bytes of message content")
PAIR_SLACK = 1.0  # seconds two sides' time windows may miss each other by and still be one connection

# RFC 5321 §4.2.1: what the first and the second digit of a reply code say.
FIRST_DIGIT = {
    "success": "the requested action was completed",
    "intermediate": "accepted so far; the server waits for more (the message text, an AUTH answer)",
    "transient": "not done this time; the client keeps the mail and tries again later",
    "permanent": "refused for good; the client must not repeat the same request (the mail bounces)",
}
SECOND_DIGIT = {
    0: "syntax",
    1: "information",
    2: "connections",
    3: "unspecified",
    4: "unspecified",
    5: "mail system",
}


def as_frames(frames_or_result: Any) -> Frames:
    """Accept the frames dict or anything with a ``frames()`` method (an :class:`mailsim.api.Result`)."""
    frames = getattr(frames_or_result, "frames", None)
    return frames() if callable(frames) else frames_or_result


def split_endpoint(endpoint: Any) -> tuple[str, int | None]:
    """``"192.0.2.10:587"`` or ``"[2001:db8::1]:25"`` → (address, port); anything else → (text, None)."""
    text = "" if endpoint is None or (isinstance(endpoint, float) and pd.isna(endpoint)) else str(endpoint)
    address, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or (":" in address and not address.startswith("[")):
        return text.strip("[]"), None
    return address.strip("[]"), int(port)


def address_book(frames: Frames) -> dict[str, str]:
    """IP address → host name, from every side's own address and every host's network records."""
    book: dict[str, str] = {}
    sessions = frames.get("sessions", pd.DataFrame())
    for host, local in zip(sessions.get("host", ()), sessions.get("local", ())):
        book.setdefault(split_endpoint(local)[0], host)
    net = frames.get("net", pd.DataFrame())
    for host, local in zip(net.get("host", ()), net.get("local", ())):
        if isinstance(local, str):
            book.setdefault(local, host)
    return book


def _offsets(sessions: pd.DataFrame, transcripts: pd.DataFrame) -> list[int] | None:
    """Row offset of each side's lines when the frames are whole (written side after side), else None."""
    counts = sessions["lines"].astype(int).tolist()
    if sum(counts) != len(transcripts):
        return None
    for column in ("host", "service", "side"):
        expected = sessions[column].repeat(counts).tolist()
        if expected != transcripts[column].tolist():
            return None
    offsets, at = [], 0
    for count in counts:
        offsets.append(at)
        at += count
    return offsets


def _pair(sides: pd.DataFrame) -> list[int]:
    """For each side, the row number of the other side of the same connection (-1 when not recorded)."""
    partner = [-1] * len(sides)
    servers: dict[tuple[Any, Any], list[int]] = {}
    for j, row in enumerate(sides.itertuples()):
        if row.side == "server":
            servers.setdefault((row.local, row.peer), []).append(j)
    starts, ends = sides.start.tolist(), sides.end.tolist()
    for i, row in enumerate(sides.itertuples()):
        if row.side != "client":
            continue
        fits = [
            j
            for j in servers.get((row.peer, row.local), ())
            if partner[j] < 0 and starts[j] <= ends[i] + PAIR_SLACK and starts[i] <= ends[j] + PAIR_SLACK
        ]
        if fits:
            best = min(fits, key=lambda j: abs(starts[j] - starts[i]))
            partner[i], partner[best] = best, i
    return partner


def session_sides(frames: Frames) -> pd.DataFrame:
    """The ``sessions`` frame plus ``key`` (TCP session id), ``partner`` (row of the other side) and ``first``."""
    sessions = frames["sessions"].reset_index(drop=True)
    offsets = _offsets(sessions, frames["transcripts"])
    sides = sessions.assign(first=offsets if offsets is not None else -1)
    partner = _pair(sides)
    keys: list[str] = [""] * len(sides)
    counters: dict[tuple[str, str, str], int] = {}
    for i in sorted(range(len(sides)), key=lambda k: (sides.start.iloc[k], k)):
        row = sides.iloc[i]
        server = row if row.side == "server" or partner[i] < 0 else sides.iloc[partner[i]]
        if isinstance(server.session, str) and server.session:
            keys[i] = server.session
            continue
        counter = (row.host, row.service, row.side)
        counters[counter] = counters.get(counter, 0) + 1
        keys[i] = f"{row.host}/{row.service}/{row.side}/{counters[counter]}"
    return sides.assign(key=keys, partner=partner)


def side_lines(frames: Frames, side: pd.Series) -> list[TranscriptLine]:
    """One side's transcript lines (positional join when possible, else by key and time window)."""
    transcripts = frames["transcripts"]
    if side["first"] >= 0:
        rows = transcripts.iloc[int(side["first"]) : int(side["first"]) + int(side["lines"])]
    else:
        mask = (
            (transcripts.session == side.session)
            & (transcripts.host == side.host)
            & (transcripts.service == side.service)
            & (transcripts.side == side.side)
            & transcripts.time.between(side.start, side.end)
        )
        rows = transcripts[mask].sort_index(kind="stable").sort_values("time", kind="stable")
    return [TranscriptLine(float(r.time), r.direction, str(r.text), int(r.size)) for r in rows.itertuples()]


def is_command(line: TranscriptLine, previous: TranscriptLine | None) -> bool:
    """A client line that is a command: not message content, not the lone ``.``, not an AUTH answer."""
    if line.direction != CLIENT or _CONTENT.match(line.text) or line.text == ".":
        return False
    return not (previous is not None and previous.direction == SERVER and previous.text.startswith("334"))


def final_reply(lines: list[TranscriptLine]) -> str | None:
    """The last reply that says how the session went: the one before ``QUIT``'s ``221``, else the last."""
    replies = [(i, ln) for i, ln in enumerate(lines) if ln.direction == SERVER and ln.text[3:4] != "-"]
    if not replies:
        return None
    quit_at = next((i for i, ln in enumerate(lines) if ln.direction == CLIENT and ln.text.upper() == "QUIT"), None)
    before = [ln.text for i, ln in replies if quit_at is None or i < quit_at]
    return before[-1] if before else replies[-1][1].text


def queue_ids(lines: list[TranscriptLine]) -> list[str]:
    """Queue ids the server announced (``250 2.0.0 Ok: queued as 5422520C001``), in order."""
    return [m.group(1) for ln in lines if ln.direction == SERVER for m in [QUEUED_AS.search(ln.text)] if m]


def describe_session(frames: Frames, sides: pd.DataFrame, book: dict[str, str], i: int) -> dict[str, Any]:
    """The listing row of the TCP session that side ``i`` of :func:`session_sides` belongs to."""
    row = sides.iloc[i]
    other = sides.iloc[row.partner] if row.partner >= 0 else None
    server = row if row.side == "server" else other
    client = row if row.side == "client" else other
    lines = side_lines(frames, server if server is not None else row)
    client_ep = client.local if client is not None else row.peer
    server_ep = server.local if server is not None else row.peer
    commands = sum(is_command(ln, lines[k - 1] if k else None) for k, ln in enumerate(lines))
    return {
        "session": row.key,
        "client": client.host if client is not None else book.get(split_endpoint(client_ep)[0], "?"),
        "client_address": client_ep,
        "server": server.host if server is not None else book.get(split_endpoint(server_ep)[0], "?"),
        "server_address": server_ep,
        "service": server.service if server is not None else row.service,
        "port": split_endpoint(server_ep)[1],
        "start": min(row.start, other.start) if other is not None else row.start,
        "end": max(row.end, other.end) if other is not None else row.end,
        "commands": commands,
        "final_reply": final_reply(lines),
        "queue_ids": " ".join(queue_ids(lines)),
        "sides": "client+server" if other is not None else str(row.side),
    }


LISTING_COLUMNS = ["session", "client", "client_address", "server", "server_address", "service", "port",
                   "start", "end", "duration", "commands", "final_reply", "queue_ids", "sides"]  # fmt: skip


def list_sessions(frames_or_result: Any) -> pd.DataFrame:
    """One row per TCP session (both recorded sides folded into one), in start order."""
    frames = as_frames(frames_or_result)
    sides = session_sides(frames)
    book = address_book(frames)
    seen: set[str] = set()
    rows = []
    for i in range(len(sides)):
        key = sides.key.iloc[i]
        if key not in seen:
            seen.add(key)
            rows.append(describe_session(frames, sides, book, i))
    listing = pd.DataFrame(rows, columns=[c for c in LISTING_COLUMNS if c != "duration"])
    listing.insert(LISTING_COLUMNS.index("duration"), "duration", listing.end - listing.start)
    return listing.sort_values(["start", "session"], kind="stable").reset_index(drop=True)


def pick_side(frames: Frames, session: str | None = None, *, host: str | None = None,
              service: str | None = None, index: int = 0, side: str | None = None) -> pd.Series:  # fmt: skip
    """One recorded side: by session id (the server's view unless ``host``/``side`` say otherwise), or the
    ``index``-th side (in start order) on ``host`` and/or of ``service``."""
    sides = session_sides(frames)
    chosen = sides
    if session is not None:
        chosen = sides[(sides.key == session) | (sides.session == session)]
    if host is not None:
        chosen = chosen[chosen.host == host]
    if service is not None:
        chosen = chosen[chosen.service == service]
    if side is not None:
        chosen = chosen[chosen.side == side]
    if session is not None and side is None and host is None and (chosen.side == "server").any():
        chosen = chosen[chosen.side == "server"]
    chosen = chosen.sort_values("start", kind="stable")
    if not 0 <= index < len(chosen):
        wanted = ", ".join(f"{k}={v!r}" for k, v in dict(session=session, host=host, service=service).items() if v)
        known = ", ".join(sorted(set(sides.key))) or "none"
        raise ValueError(f"no recorded session side #{index} with {wanted or 'no filter'}; sessions: {known}")
    return chosen.iloc[index]


def session_lines(frames_or_result: Any, session: str | None = None, **select: Any) -> list[TranscriptLine]:
    """The lines of one recorded side chosen as :func:`pick_side` chooses."""
    frames = as_frames(frames_or_result)
    return side_lines(frames, pick_side(frames, session, **select))


def session_transcript(frames_or_result: Any, session: str | None = None, *, host: str | None = None,
                       service: str | None = None, index: int = 0, side: str | None = None,
                       header: bool = True, timestamps: bool = True) -> str:  # fmt: skip
    """One session as a terminal shows it, ``[+12.345 ms] S: 220 mail.example.org ESMTP Postfix``, so a
    class can read the dialogue (times are this side's clock, from its first line)."""
    frames = as_frames(frames_or_result)
    chosen = pick_side(frames, session, host=host, service=service, index=index, side=side)
    text = render_transcript(side_lines(frames, chosen), timestamps=timestamps)
    if not header:
        return text
    title = (
        f"# {chosen.key}: {chosen.service} as seen by the {chosen.side} {chosen.host} "
        f"(local {chosen.local}, peer {chosen.peer}), from t={chosen.start:.6f} s"
    )
    return f"{title}\n{text}" if text else title


@dataclass(frozen=True, slots=True)
class Arrow:
    """Lines one end sent at ``sent`` and the other read at ``received`` (equal when only one side is known)."""

    direction: str
    sent: float
    received: float
    texts: tuple[str, ...]


def _merge(items: list[tuple[str, float, float, str]]) -> list[Arrow]:
    """Consecutive lines with the same direction, send time and receive time become one arrow."""
    arrows: list[Arrow] = []
    for direction, sent, received, text in items:
        last = arrows[-1] if arrows else None
        if last and last.direction == direction and last.sent == sent and last.received == received:
            arrows[-1] = Arrow(direction, sent, received, (*last.texts, text))
        else:
            arrows.append(Arrow(direction, sent, received, (text,)))
    return arrows


def paired_arrows(client: list[TranscriptLine], server: list[TranscriptLine]) -> list[Arrow]:
    """Arrows from both sides' clocks: the k-th line of a direction on one side is the k-th on the other."""
    items = []
    for direction, senders, receivers in ((CLIENT, client, server), ("S", server, client)):
        sent = [ln for ln in senders if ln.direction == direction]
        got = [ln for ln in receivers if ln.direction == direction]
        for k, line in enumerate(sent):
            received = got[k].time if k < len(got) else line.time
            items.append((line.time, k, direction, received, line.text))
    items.sort(key=lambda item: (item[0], item[3]))
    return _merge([(d, t, r, text) for t, _, d, r, text in items])


def single_arrows(lines: list[TranscriptLine]) -> list[Arrow]:
    """Arrows from one side's lines only (send and receive time are that side's reading)."""
    return _merge([(ln.direction, ln.time, ln.time, ln.text) for ln in lines])


def reply_class(text: str) -> str | None:
    """``success``/``intermediate``/``transient``/``permanent`` for a reply line, None when it is not one."""
    match = _REPLY.match(text.strip())
    return classify(int(match.group(1))) if match else None


def _enhanced_lines(code: int, rest: str) -> list[str]:
    first = rest.split(" ", 1)[0]
    match = ENHANCED_CODE.match(first)
    if match is None:
        return ["  no enhanced status code (RFC 3463 class.subject.detail) in this reply"]
    klass, subject, detail = (int(g) for g in match.groups())
    meaning = ENHANCED_MEANING.get(f"{subject}.{detail}", "not a registered subject.detail combination")
    lines = [
        f"  enhanced code {first} (RFC 3463): {ENHANCED_CLASS[klass]}; subject {subject} = "
        f"{ENHANCED_SUBJECT.get(subject, 'unknown subject')}; detail {subject}.{detail} = {meaning}"
    ]
    if klass != code // 100:
        lines.append(f"  note: enhanced class {klass} disagrees with reply code {code} (RFC 3463 §3.1)")
    return lines


def explain_reply(text: str) -> str:
    """A reply line explained for a class: its RFC 5321 §4.2.1 class and area, then its RFC 3463 code."""
    stripped = text.strip().splitlines()[0].strip() if text.strip() else ""
    match = _REPLY.match(stripped)
    if match is None:
        return f"{stripped!r}: not an SMTP reply (RFC 5321 §4.2: three digits 2yz..5yz, then text)"
    code, rest = int(match.group(1)), match.group(3).strip()
    kind = classify(code)
    second = SECOND_DIGIT.get(code // 10 % 10, "not defined by RFC 5321")
    lines = [
        stripped,
        f"  reply code {code}: {kind} ({code // 100}yz, RFC 5321 §4.2.1): {FIRST_DIGIT[kind]}",
        f"  second digit {code // 10 % 10} (x{code // 10 % 10}z): {second}",
        *_enhanced_lines(code, rest),
    ]
    return "\n".join(lines)
