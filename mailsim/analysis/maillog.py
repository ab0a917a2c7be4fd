"""A Postfix-format maillog written from the trace, so pflogsumm-style tools and habits work.

Each trace record whose (service, event) has a formatter becomes one syslog line
``Jan  5 09:00:01 mail postfix/smtpd[1201]: TEXT``. Process ids are stable per host and service.

Trace vocabulary read here (the MTA emits exactly these):
- smtpd  connect(client) / client(queue_id, client, sasl_method, sasl_username) /
  reject(stage, client, reply, sender, recipient, proto, helo) / lost(stage, client) /
  timeout(stage, client) / disconnect(client, commands)
- cleanup  cleanup(queue_id, message_id) / milter or check actions: action(queue_id, text)
- qmgr  active(queue_id, sender, size, nrcpt) / removed(queue_id) / expired(queue_id, sender)
- pickup  pickup(queue_id, uid, sender)
- smtp, lmtp, local, virtual, pipe, error, discard, relay: delivery(queue_id, to, orig_to, relay,
  delay, delays, dsn, status, text, and conn_use when smtp reused a cached connection) and (smtp)
  connect_failed(text)
- bounce  notice(queue_id, kind, new_queue_id)
- postsuper  postsuper(queue_id, action)
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path

from mailsim.core.trace import TraceRecord

Formatter = Callable[[TraceRecord], str | None]
DELIVERY_SERVICES = ("smtp", "lmtp", "local", "virtual", "pipe", "error", "discard", "relay", "retry")


def pretty_delay(seconds: float) -> str:
    """Postfix's delay style: whole seconds from 10 s up, otherwise two significant digits, 0.01 s resolution."""
    if seconds >= 10:
        return str(int(seconds))
    seconds = round(seconds, 2)
    if seconds == 0:
        return "0"
    return f"{seconds:.2g}"


def _qid(r: TraceRecord) -> str:
    return r.queue_id or "NOQUEUE"


def _delivery(r: TraceRecord) -> str:
    parts = [f"to=<{r.get('to', '')}>"]
    if r.get("orig_to") and r.get("orig_to") != r.get("to"):
        parts.append(f"orig_to=<{r.get('orig_to')}>")
    parts.append(f"relay={r.get('relay', 'none')}")
    if r.get("conn_use"):  # log_adhoc.c: only over a reused connection, between relay= and delay=
        parts.append(f"conn_use={r.get('conn_use')}")
    parts.append(f"delay={pretty_delay(float(r.get('delay', 0.0)))}")
    delays = r.get("delays") or (0.0, 0.0, 0.0, 0.0)
    parts.append("delays=" + "/".join(pretty_delay(float(d)) for d in delays))
    parts.append(f"dsn={r.get('dsn', '')}")
    parts.append(f"status={r.get('status', '')} ({r.get('text', '')})")
    return f"{_qid(r)}: " + ", ".join(parts)


def _reject(r: TraceRecord) -> str:
    tail = f"from=<{r.get('sender', '')}>"
    if r.get("recipient") is not None:
        tail += f" to=<{r.get('recipient')}>"
    tail += f" proto={r.get('proto', 'ESMTP')} helo=<{r.get('helo', '')}>"
    return f"{_qid(r)}: reject: {r.get('stage', 'RCPT')} from {r.get('client')}: {r.get('reply')}; {tail}"


def _client(r: TraceRecord) -> str:
    text = f"{_qid(r)}: client={r.get('client')}"
    if r.get("sasl_username"):
        text += f", sasl_method={r.get('sasl_method')}, sasl_username={r.get('sasl_username')}"
    return text


FORMATS: dict[tuple[str, str], Formatter] = {
    ("smtpd", "connect"): lambda r: f"connect from {r.get('client')}",
    ("smtpd", "client"): _client,
    ("smtpd", "reject"): _reject,
    ("smtpd", "lost"): lambda r: f"lost connection after {r.get('stage')} from {r.get('client')}",
    ("smtpd", "timeout"): lambda r: f"timeout after {r.get('stage')} from {r.get('client')}",
    ("smtpd", "fatal"): lambda r: f"fatal: {r.get('text')}",
    ("smtpd", "disconnect"): lambda r: f"disconnect from {r.get('client')} {r.get('commands', '')}".rstrip(),
    ("cleanup", "cleanup"): lambda r: f"{_qid(r)}: message-id=<{r.message_id or ''}>",
    ("cleanup", "action"): lambda r: f"{_qid(r)}: {r.get('text')}",
    ("qmgr", "active"): lambda r: (
        f"{_qid(r)}: from=<{r.get('sender', '')}>, size={r.get('size')}, nrcpt={r.get('nrcpt')} (queue active)"
    ),
    ("qmgr", "warning"): lambda r: f"warning: {r.get('text')}",
    ("qmgr", "removed"): lambda r: f"{_qid(r)}: removed",
    ("qmgr", "expired"): lambda r: f"{_qid(r)}: from=<{r.get('sender', '')}>, status=expired, returned to sender",
    ("pickup", "pickup"): lambda r: f"{_qid(r)}: uid={r.get('uid', 0)} from=<{r.get('sender', '')}>",
    ("bounce", "notice"): lambda r: f"{_qid(r)}: sender {r.get('kind')} notification: {r.get('new_queue_id')}",
    ("postsuper", "postsuper"): lambda r: None if r.get("mass") else f"{_qid(r)}: {r.get('action')}",
}
for _service in DELIVERY_SERVICES:
    FORMATS[(_service, "delivery")] = _delivery
FORMATS[("smtp", "connect_failed")] = lambda r: str(r.get("text"))


def _pid(host: str, service: str) -> int:
    return 1000 + zlib.crc32(f"{host}/{service}".encode()) % 30000


def syslog_time(moment: datetime) -> str:
    """The classic syslog stamp ``Jan  5 09:00:01`` (day padded with a space)."""
    return f"{moment:%b} {moment.day:>2} {moment:%H:%M:%S}"


def maillog_line(record: TraceRecord, epoch: datetime) -> str | None:
    """The maillog line of one record, or None when it has no maillog form."""
    formatter = FORMATS.get((record.service, record.event))
    text = formatter(record) if formatter is not None else None
    if text is None:
        return None
    moment = epoch + timedelta(seconds=record.time)
    short = record.host.split(".")[0]
    return f"{syslog_time(moment)} {short} postfix/{record.service}[{_pid(record.host, record.service)}]: {text}"


def maillog_lines(records: Iterable[TraceRecord], epoch: datetime) -> Iterable[str]:
    """Postfix maillog lines for the records that have a maillog form, in trace order."""
    for record in records:
        line = maillog_line(record, epoch)
        if line is not None:
            yield line


def write_maillog(records: Iterable[TraceRecord], epoch: datetime, path: Path) -> int:
    """Write the maillog file; returns the number of lines."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for line in maillog_lines(records, epoch):
            out.write(line + "\n")
            count += 1
    return count
