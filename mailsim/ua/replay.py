"""Replayed arrivals: a CSV file of timestamps, or the ``qmgr`` lines of a real Postfix maillog.

A CSV file has a header row naming its columns: ``time`` (required: seconds or a duration such as
``90s``/``2m``, or an ISO 8601 timestamp), and optionally ``from``, ``to`` (addresses separated by
spaces or semicolons), ``nrcpt`` and ``size`` (``"12KB"`` or bytes). Times are replayed relative to
the earliest row, so a log from any day starts at the workload's ``start``.

A maillog is read for the line qmgr(8) writes when a message enters the active queue::

    Jan  5 09:00:10 mail postfix/qmgr[22470]: 5422520C001: from=<alice@example.org>, size=511, nrcpt=1 (queue active)

in either syslog time format (``Mmm dd hh:mm:ss``, the year taken from the scenario's epoch, or
RFC 3339 as rsyslog writes it). The first such line per queue id counts as an arrival (a deferred
message's later activations do not), until qmgr logs ``QUEUEID: removed``. Other Postfix lines are
ignored; lines that are not from Postfix (dovecot, opendkim, garbage) are *foreign*.

Errors: a bad row or a foreign line is a :class:`~mailsim.core.errors.ScenarioError` naming
``FILE:LINE``; with ``lenient`` it is skipped and counted (:attr:`Replay.skipped`).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mailsim.core.errors import ScenarioError
from mailsim.core.units import parse_duration, parse_size

_MONTHS = {
    m: i
    for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)
}
_SYSLOG = re.compile(
    r"^(?P<month>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<clock>\d\d:\d\d:\d\d(?:\.\d+)?) (?P<host>\S+) "
    r"(?P<program>[^\s\[:]+)(?:\[\d+\])?: (?P<text>.*)$"
)
_RFC3339 = re.compile(
    r"^(?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?P<host>\S+) "
    r"(?P<program>[^\s\[:]+)(?:\[\d+\])?: (?P<text>.*)$"
)
_ACTIVE = re.compile(r"^(?P<qid>[0-9A-Za-z]+): from=<(?P<sender>[^>]*)>, size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+)\b")
_REMOVED = re.compile(r"^(?P<qid>[0-9A-Za-z]+): removed$")
_SPLIT = re.compile(r"[\s;,]+")


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One replayed arrival: when (seconds from the first), and whatever the source says about it."""

    time: float
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    nrcpt: int | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Replay:
    """Arrivals in time order, and how many lines or rows were skipped (lenient parsing only)."""

    rows: tuple[ReplayRow, ...]
    skipped: int = 0
    file: str = ""


class _Reader:
    """Collects rows; a bad line raises or (lenient) counts."""

    def __init__(self, file: Path, lenient: bool) -> None:
        self.file, self.lenient = file, lenient
        self.skipped = 0

    def bad(self, line: int, expected: str, found: str) -> None:
        if not self.lenient:
            raise ScenarioError(file=str(self.file), line=line, expected=expected, found=repr(found[:80]))
        self.skipped += 1

    def replay(self, stamped: list[tuple[float, ReplayRow]]) -> Replay:
        stamped.sort(key=lambda pair: pair[0])
        first = stamped[0][0] if stamped else 0.0
        rows = tuple(ReplayRow(t - first, r.sender, r.recipients, r.nrcpt, r.size) for t, r in stamped)
        return Replay(rows, self.skipped, str(self.file))


def _open(file: Path) -> list[str]:
    try:
        return file.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError as exc:
        raise ScenarioError(file=str(file), expected="a readable file", found=exc.strerror or str(exc)) from None


# -- CSV --------------------------------------------------------------------------------------------------


def read_csv(file: Path, *, lenient: bool = False) -> Replay:
    """Arrivals from a CSV file with a ``time`` column (see the module docstring)."""
    lines = _open(file)
    reader = _Reader(file, lenient)
    rows = list(csv.reader(lines))
    if not rows or "time" not in [c.strip().lower() for c in rows[0]]:
        raise ScenarioError(file=str(file), line=1, expected="a header row with a 'time' column",
                            found=repr(",".join(rows[0]) if rows else ""))  # fmt: skip
    header = [c.strip().lower() for c in rows[0]]
    stamped: list[tuple[float, ReplayRow]] = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        parsed = _csv_row(dict(zip(header, (c.strip() for c in row))), len(row) == len(header))
        if isinstance(parsed, str):
            reader.bad(number, parsed, ",".join(row))
        else:
            stamped.append(parsed)
    return reader.replay(stamped)


def _csv_row(cells: dict[str, str], complete: bool) -> tuple[float, ReplayRow] | str:
    """(time, row), or what was expected when the row is bad."""
    if not complete:
        return "as many cells as the header has columns"
    when = _time(cells.get("time", ""))
    if when is None:
        return "a time: seconds, a duration like 90s, or an ISO 8601 timestamp"
    try:
        size = parse_size(cells["size"]) if cells.get("size") else None
        nrcpt = int(cells["nrcpt"]) if cells.get("nrcpt") else None
    except ValueError:
        return "a size like 12KB and a whole number nrcpt"
    if nrcpt is not None and nrcpt < 1:
        return "nrcpt of at least 1"
    recipients = tuple(a for a in _SPLIT.split(cells.get("to", "")) if a)
    return when, ReplayRow(when, cells.get("from") or None, recipients, nrcpt, size)


def _time(text: str) -> float | None:
    if not text:
        return None
    try:
        return parse_duration(text)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


# -- maillog ----------------------------------------------------------------------------------------------


def read_maillog(file: Path, *, year: int, lenient: bool = False, host: str | None = None) -> Replay:
    """Arrivals from the ``qmgr ... from=<...>, size=..., nrcpt=...`` lines of a Postfix maillog."""
    reader = _Reader(file, lenient)
    stamped: list[tuple[float, ReplayRow]] = []
    active: set[tuple[str, str]] = set()
    clock = _SyslogClock(year)
    for number, line in enumerate(_open(file), start=1):
        if not line.strip():
            continue
        parsed = _parse_line(line, clock)
        if parsed is None:
            reader.bad(number, "a syslog line from a Postfix program (postfix/qmgr, postfix/smtpd, ...)", line)
            continue
        when, source, program, text = parsed
        if host is not None and source != host:
            continue
        if not program.startswith("postfix"):
            reader.bad(number, "a line from a Postfix program (postfix/qmgr, postfix/smtpd, ...)", line)
            continue
        if not program.endswith("/qmgr"):
            continue
        _qmgr_line(reader, number, line, (source, text), when, active, stamped)
    return reader.replay(stamped)


def _qmgr_line(
    reader: _Reader, number: int, line: str, where: tuple[str, str], when: float,
    active: set[tuple[str, str]], stamped: list[tuple[float, ReplayRow]],
) -> None:  # fmt: skip
    source, text = where
    removed = _REMOVED.match(text)
    if removed:
        active.discard((source, removed.group("qid")))
        return
    match = _ACTIVE.match(text)
    if match is None:
        if ": from=<" in text:
            reader.bad(number, "QUEUEID: from=<SENDER>, size=BYTES, nrcpt=COUNT", line)
        return
    key = (source, match.group("qid"))
    if key in active:
        return  # a deferred message activated again: not a new arrival
    active.add(key)
    row = ReplayRow(when, match.group("sender"), (), max(1, int(match.group("nrcpt"))), int(match.group("size")))
    stamped.append((when, row))


class _SyslogClock:
    """Traditional syslog stamps carry no year: start in ``year`` and roll over when the month goes back."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.last_month = 0

    def seconds(self, month: int, day: int, clock: str) -> float:
        if month < self.last_month - 6:
            self.year += 1
        self.last_month = month
        hh, mm, ss = clock.split(":")
        stamp = datetime(self.year, month, day, int(hh), int(mm), tzinfo=UTC)
        return stamp.timestamp() + float(ss)


def _parse_line(line: str, clock: _SyslogClock) -> tuple[float, str, str, str] | None:
    """(seconds, host, program, text) of a syslog line, or None when it is not one."""
    match = _SYSLOG.match(line)
    if match and match.group("month") in _MONTHS:
        try:
            when = clock.seconds(_MONTHS[match.group("month")], int(match.group("day")), match.group("clock"))
        except ValueError:
            return None
        return when, match.group("host"), match.group("program"), match.group("text")
    match = _RFC3339.match(line)
    if match:
        try:
            stamp = datetime.fromisoformat(match.group("stamp").replace("Z", "+00:00"))
        except ValueError:
            return None
        stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        return stamp.timestamp(), match.group("host"), match.group("program"), match.group("text")
    return None
