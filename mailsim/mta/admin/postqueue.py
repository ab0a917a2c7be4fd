"""postqueue(1) and showq(8): the mail queue listing (``mailq``, ``postqueue -p``, ``postqueue -j``).

:func:`showq` reads a host's queue the way the showq daemon reads the spool: the queues in
showq's order (maildrop, active, incoming, deferred, hold; corrupt files are not listed), each
file's sender (the null sender shown as ``empty_address_recipient``), then the recipients of the
defer logfile with their reasons (:attr:`QueueDirectory.defer_log`, reset each time qmgr
activates the file), then the file's other pending recipients without a reason. Done recipients
are not shown. :func:`format_mailq` prints that as Postfix 3.x's ``showq_compat.c`` does (the
``%-11s %7ld %20.20s %s`` columns, ``*`` active and ``!`` hold after the queue id, a
``(reason)`` line right-aligned to column 76 whenever the reason changes and
``(reason unavailable)`` after a reason, the ``-- N Kbytes in M Requests.`` footer, ``Mail queue
is empty``); :func:`format_json` prints ``postqueue -j``'s JSON lines (``showq_json.c``).

Message size is the size record's content length, as Postfix's (mailsim counts the CRLF wire
bytes of the content; Postfix counts its record encoding, so the same text has a slightly
different size). Arrival times print like asctime(3) in the run's calendar (its epoch's zone).

Parameters: empty_address_recipient (MAILER-DAEMON), enable_long_queue_ids (no),
duplicate_filter_limit (1000, the size of showq's duplicate filter).
"""

from __future__ import annotations

import getopt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from mailsim.config.tools import ToolResult
from mailsim.mail.address import quote_address
from mailsim.mail.queuefile import QueueFile, QueueState

SHOWQ_QUEUES = (QueueState.MAILDROP, QueueState.ACTIVE, QueueState.INCOMING, QueueState.DEFERRED, QueueState.HOLD)
STATUS_MARK = {QueueState.ACTIVE: "*", QueueState.HOLD: "!"}
SHORT = ("%-11s %7s %-20s %s\n", "%-11s %7d %20.20s %s\n", ("-Queue ID-", "--Size--", "----Arrival Time----",
                                                             "-Sender/Recipient-------"))  # fmt: skip
LONG = ("%-17s %8s %-19s %s\n", "%-17s %8d %19.19s %s\n", ("----Queue ID-----", "--Size--", "---Arrival Time----",
                                                            "--Sender/Recipient------"))  # fmt: skip
REASON_COLUMN = 76
EX_UNAVAILABLE = 69  # postqueue's exit status for usage and fatal errors
POSTQUEUE_USAGE = "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site"


@dataclass(frozen=True, slots=True)
class ShowqRecipient:
    """One recipient line of a listing; ``delay_reason`` is empty when the defer log has none."""

    address: str
    delay_reason: str = ""


@dataclass(frozen=True, slots=True)
class ShowqMessage:
    """What showq(8) reports for one queue file (the fields of ``postqueue -j``)."""

    queue_name: str
    queue_id: str
    arrival_time: int  # seconds since the Unix epoch, as the T record holds it
    message_size: int
    forced_expire: bool
    sender: str
    recipients: tuple[ShowqRecipient, ...]


def _printable(text: str) -> str:
    """Postfix's printable(text, '?'): control characters become '?'."""
    return "".join("?" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in text)


def _address(address: str) -> str:
    return _printable(quote_address(address)) if address else address


def showq_message(qf: QueueFile, defer_log: Sequence[tuple[str, str]], *, epoch: datetime, empty_address: str,
                  dup_limit: int = 1000) -> ShowqMessage:  # fmt: skip
    """One file as showq reports it: defer-log recipients with reasons first, then the other pending ones."""
    recipients = [ShowqRecipient(_address(rcpt), reason) for rcpt, reason in defer_log]
    seen: set[str] = set()
    for logged in recipients:
        if dup_limit == 0 or len(seen) < dup_limit:
            seen.add(logged.address)
    for rcpt in qf.pending:
        shown = _address(rcpt.address or empty_address)
        if shown not in seen:
            recipients.append(ShowqRecipient(shown))
    arrival = int((epoch + timedelta(seconds=qf.arrival_time)).timestamp())
    size = qf.size if qf.size > 0 else len(qf.to_bytes())
    sender = _address(qf.sender) if qf.sender else empty_address
    forced = qf.attribute("forced_expire") == "yes"
    return ShowqMessage(str(qf.state), qf.queue_id, arrival, size, forced, sender, tuple(recipients))


def showq(host: Any) -> list[ShowqMessage]:
    """The listing of ``host``'s queue at the current virtual time, in showq's queue order."""
    main, queue = host.main, host.queue
    empty = main.get("empty_address_recipient")
    limit = main.int("duplicate_filter_limit")
    by_state: dict[QueueState, list[QueueFile]] = {state: [] for state in SHOWQ_QUEUES}
    for qf in queue:
        if qf.state in by_state:
            by_state[qf.state].append(qf)
    return [
        showq_message(
            qf, queue.defer_log.get(qf.queue_id, ()), epoch=host.sim.epoch, empty_address=empty, dup_limit=limit
        )  # fmt: skip
        for state in SHOWQ_QUEUES
        for qf in by_state[state]
    ]


def _asctime(arrival: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(arrival, tz).ctime()


def format_mailq(messages: Iterable[ShowqMessage], *, long_queue_ids: bool = False, tz: tzinfo = UTC) -> str:
    """``postqueue -p`` output for these messages, byte for byte as Postfix's showq_compat prints it."""
    string_format, sender_format, headings = LONG if long_queue_ids else SHORT
    out: list[str] = []
    count = total = 0
    for message in messages:
        out.append("\n" if count else string_format % headings)
        mark = STATUS_MARK.get(QueueState(message.queue_name), "") + ("#" if message.forced_expire else "")
        out.append(sender_format % (message.queue_id + mark, message.message_size,
                                    _asctime(message.arrival_time, tz), message.sender))  # fmt: skip
        saved = ""
        for rcpt in message.recipients:
            if rcpt.delay_reason != saved:
                saved = rcpt.delay_reason
                shown = saved or "reason unavailable"
                out.append(" " * max(REASON_COLUMN - len(shown), 0) + f"({shown})\n")
            out.append(string_format % ("", "", "", rcpt.address))
        count += 1
        total += message.message_size
    if not count:
        return "Mail queue is empty\n"
    out.append(f"\n-- {total // 1024} Kbytes in {count} Request{'' if count == 1 else 's'}.\n")
    return "".join(out)


def json_quote(text: str) -> str:
    """showq_json.c's json_quote: short escapes for common controls, \\uXXXX (upper case) for the rest."""
    short = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", '"': '\\"'}
    out = []
    for ch in text:
        if ch in short:
            out.append(short[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def format_json(messages: Iterable[ShowqMessage]) -> str:
    """``postqueue -j`` output: one JSON object per line, keys in Postfix's order (Postfix 3.1 and later)."""
    lines = []
    for m in messages:
        recipients = ", ".join(
            f'{{"address": "{json_quote(r.address)}"'
            + (f', "delay_reason": "{json_quote(r.delay_reason)}"' if r.delay_reason else "")
            + "}"
            for r in m.recipients
        )
        lines.append(
            f'{{"queue_name": "{json_quote(m.queue_name)}", "queue_id": "{json_quote(m.queue_id)}", '
            f'"arrival_time": {m.arrival_time}, "message_size": {m.message_size}, '
            f'"forced_expire": {"true" if m.forced_expire else "false"}, "sender": "{json_quote(m.sender)}", '
            f'"recipients": [{recipients}]}}\n'
        )
    return "".join(lines)


def mailq(host: Any) -> str:
    """``mailq`` / ``postqueue -p`` for ``host`` now."""
    return format_mailq(showq(host), long_queue_ids=host.main.bool("enable_long_queue_ids"), tz=_zone(host))


def postqueue_json(host: Any) -> str:
    """``postqueue -j`` for ``host`` now."""
    return format_json(showq(host))


def _zone(host: Any) -> tzinfo:
    return host.sim.epoch.tzinfo or UTC


def queue_frame(host: Any) -> Any:
    """The listing as a DataFrame: one row per (message, recipient shown), ``postqueue -j``'s fields."""
    import pandas as pd

    rows = [
        {
            "queue_name": m.queue_name,
            "queue_id": m.queue_id,
            "arrival_time": m.arrival_time,
            "message_size": m.message_size,
            "forced_expire": m.forced_expire,
            "sender": m.sender,
            "recipient": r.address,
            "delay_reason": r.delay_reason,
        }  # fmt: skip
        for m in showq(host)
        for r in m.recipients
    ]
    columns = ["queue_name", "queue_id", "arrival_time", "message_size", "forced_expire", "sender", "recipient",
               "delay_reason"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def run_postqueue(host: Any, argv: Sequence[str]) -> ToolResult:
    """postqueue(1) over ``host``: ``-p`` (listing), ``-j`` (JSON), ``-f`` (flush), ``-i QUEUEID`` (flush one).

    ``-c DIR`` is accepted and ignored here (the caller has chosen the host); ``-s site`` is refused
    as Postfix refuses a site without fast flush support (flush(8) is not modelled). Usage errors exit
    69, as Postfix's postqueue does.
    """
    try:
        opts, args = getopt.getopt(list(argv), "c:fi:jps:v")
    except getopt.GetoptError as error:
        return ToolResult(EX_UNAVAILABLE, "", f"postqueue: invalid option -- '{error.opt}'\n" + _usage())
    modes = [(flag, value) for flag, value in opts if flag in ("-f", "-i", "-j", "-p", "-s")]
    if args or len(modes) != 1:
        return ToolResult(EX_UNAVAILABLE, "", _usage())
    flag, value = modes[0]
    if flag == "-p":
        return ToolResult(0, mailq(host), "")
    if flag == "-j":
        return ToolResult(0, postqueue_json(host), "")
    if flag == "-f":
        host.qmgr.flush()
        return ToolResult(0, "", "")
    if flag == "-i":
        return _flush_one(host, value)
    message = f'postqueue: fatal: Flush service is not configured for destination "{value}"\n'
    return ToolResult(EX_UNAVAILABLE, "", message)  # fast flush (flush(8)) is not modelled


def _usage() -> str:
    return f"postqueue: fatal: {POSTQUEUE_USAGE}\n"


def _flush_one(host: Any, queue_id: str) -> ToolResult:
    """``postqueue -i``: a deferred file is given to qmgr now (as the flush service's touch and kick do)."""
    qf = host.queue.get(queue_id)
    if qf is not None and qf.state is QueueState.DEFERRED and queue_id not in host.qmgr.active:
        host.qmgr.notify(queue_id)
    return ToolResult(0, "", "")
