"""What qmgr does when deliveries come back: feedback, dead sites, and each message's final move.

A delivery agent reports one status per recipient and whether the site failed. Site failures are
negative concurrency feedback; a destination declared dead has its waiting entries deferred at
once ("delivery temporarily suspended: REASON", logged by the retry service as Postfix's error(8)
does) and is given another chance after minimal_backoff_time. When all entries of a message are
back, the message is removed (all final), deferred with Postfix's backoff, or — when deferred
past its lifetime — returned to the sender as expired (qmgr_active.c).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from mailsim.mail.delivery import DeliveryStatus, RecipientStatus
from mailsim.mail.queuefile import QueueState
from mailsim.mail.report import DeliveryReport
from mailsim.mta.qmgr.destinations import Destination, Entry
from mailsim.policy.backoff import delay_warning_due, eligible_at, expired
from mailsim.policy.conn_cache import done_second

if TYPE_CHECKING:
    from mailsim.mta.qmgr.manager import ActiveMessage, Qmgr

RETRY_SERVICE = "error"


def entry_done(qmgr: Qmgr, entry: Entry, dest: Destination, report: DeliveryReport) -> None:
    """Book one delivery's outcome: feedback to the destination, statuses to the message."""
    dest.busy -= 1
    dest.transport.busy -= 1
    dest.last_done = done_second(qmgr.env.now)  # back-to-back deliveries turn connection caching on
    if report.site_failure:
        now = qmgr.env.now
        if dest.failed(report.site_failure, now, qmgr.settings.backoff.minimal_backoff_time):
            qmgr.sim.trace.emit(qmgr.host.name, "qmgr", "dead", destination=dest.name, reason=report.site_failure)
            while dest.todo:
                defer_suspended(qmgr, dest.todo.popleft(), dsn=report.site_dsn)
            qmgr.env.process(_revive(qmgr, dest))
    else:
        dest.succeeded()
    _record(qmgr, entry, report.statuses)
    if not dest.todo and dest.busy == 0:
        dest.transport.forget_idle(dest.name)


def _revive(qmgr: Qmgr, dest: Destination) -> Generator[simpy.Event, Any, None]:
    """qmgr_queue_unthrottle_wrapper: after minimal_backoff_time a dead site gets another chance."""
    yield qmgr.env.timeout(qmgr.settings.backoff.minimal_backoff_time)
    if dest.state.dead:
        dest.succeeded()
        dest.transport.forget_idle(dest.name)


def defer_suspended(qmgr: Qmgr, entry: Entry, dsn: str = "4.4.1") -> None:
    """Defer an entry of a dead destination without connecting (qmgr_defer_todo)."""
    dest = entry.destination
    reason = f"delivery temporarily suspended: {dest.dead_reason if dest else 'destination is dead'}"
    qf = entry.message.qf
    now = qmgr.env.now
    statuses = []
    for rcpt in entry.recipients:
        status = RecipientStatus(rcpt.address, DeliveryStatus.DEFERRED, dsn, reason, delay=now - qf.arrival_time,
                                 original=rcpt.original)  # fmt: skip
        statuses.append(status)
        qmgr.sim.trace.emit(
            qmgr.host.name, RETRY_SERVICE, "delivery", queue_id=qf.queue_id, message_id=qf.attribute("message_id"),
            to=rcpt.address, orig_to=rcpt.original, relay="none", delay=now - qf.arrival_time,
            delays=(0.0, now - entry.message.activated, 0.0, 0.0), dsn=dsn, status="deferred", text=reason,
        )  # fmt: skip
    _record(qmgr, entry, tuple(statuses))


def _record(qmgr: Qmgr, entry: Entry, statuses: tuple[RecipientStatus, ...]) -> None:
    message = entry.message
    queue = qmgr.host.queue
    qf = queue.get(message.qf.queue_id)
    for key, status in zip(entry.keys, statuses):
        message.outcomes.append(status)
        if status.final and qf is not None:
            qf = qf.mark_done(key)
        elif qf is not None:
            queue.defer_append(qf.queue_id, status.recipient, status.reason)  # the defer logfile mailq shows
    if qf is not None:
        queue.update(qf)
        message.qf = qf
    release(qmgr, message)


def release(qmgr: Qmgr, message: ActiveMessage) -> None:
    """One entry of ``message`` is back; when none is outstanding, finish the message."""
    message.outstanding -= 1
    if message.outstanding == 0:
        finish(qmgr, message)


def finish(qmgr: Qmgr, message: ActiveMessage) -> None:
    """All entries are back: bounce failures, then remove, defer or expire the message."""
    queue_id = message.qf.queue_id
    qmgr.active.pop(queue_id, None)
    host, now, backoff = qmgr.host, qmgr.env.now, qmgr.settings.backoff
    qf = host.queue.get(queue_id)
    bounced = [s for s in message.outcomes if s.status is DeliveryStatus.BOUNCED]
    deferred = [s for s in message.outcomes if s.status is DeliveryStatus.DEFERRED]
    if bounced and qf is not None:
        host.bounce(qf, bounced, kind="failure")
    if qf is None or qf.state is not QueueState.ACTIVE:
        pass  # postsuper deleted, held or requeued the file meanwhile: it stays where it is (qmgr_active_defer)
    elif deferred and expired(now, qf.arrival_time, qf.sender, backoff):
        _expire(qmgr, message, deferred)
    elif deferred:
        _maybe_warn(qmgr, message, deferred)
        host.queue.move(queue_id, QueueState.DEFERRED, service="qmgr")
        qmgr.defer_until(queue_id, eligible_at(now, qf.arrival_time, backoff))
    else:
        final = QueueState.BOUNCED if bounced and len(bounced) == len(message.outcomes) else QueueState.DELIVERED
        host.queue.move(queue_id, final, service="qmgr")
        qmgr.sim.trace.emit(host.name, "qmgr", "removed", queue_id=queue_id, message_id=qf.attribute("message_id"))
    qmgr._poke()


def _expire(qmgr: Qmgr, message: ActiveMessage, deferred: list[RecipientStatus]) -> None:
    """Return the still-deferred recipients as failed; their 4.X.X status stays, as Postfix reports it."""
    host, qf = qmgr.host, message.qf
    mid = qf.attribute("message_id")
    qmgr.sim.trace.emit(host.name, "qmgr", "expired", queue_id=qf.queue_id, message_id=mid, sender=qf.sender)
    statuses = []
    for status in deferred:
        expired_status = RecipientStatus(
            status.recipient, DeliveryStatus.EXPIRED, status.dsn, status.reason,
            status.reply, status.relay, status.remote_mta, qmgr.env.now - qf.arrival_time, status.delays,
            status.original, status.rcpt_dsn,
        )  # fmt: skip
        statuses.append(expired_status)
        qmgr.sim.trace.emit(
            host.name, "qmgr", "delivery", queue_id=qf.queue_id, message_id=mid, to=status.recipient,
            orig_to=status.original, relay=status.relay, delay=expired_status.delay, delays=status.delays,
            dsn=expired_status.dsn, status="expired", text=status.reason,
        )  # fmt: skip
    host.bounce(qf, statuses, kind="failure")
    host.queue.move(qf.queue_id, QueueState.EXPIRED, service="qmgr")
    qmgr.sim.trace.emit(host.name, "qmgr", "removed", queue_id=qf.queue_id, message_id=mid)


def _maybe_warn(qmgr: Qmgr, message: ActiveMessage, deferred: list[RecipientStatus]) -> None:
    qf = message.qf
    warned = qf.attribute("delay_warned") == "yes"
    if delay_warning_due(qmgr.env.now, qf.arrival_time, qmgr.settings.delay_warning_time, warned):
        qmgr.host.bounce(qf, deferred, kind="delay")
        qf = qf.__class__(**{**_fields(qf), "attributes": (*qf.attributes, ("delay_warned", "yes"))})
        qmgr.host.queue.update(qf)
        message.qf = qf


def _fields(qf: Any) -> dict[str, Any]:
    return {name: getattr(qf, name) for name in qf.__dataclass_fields__}
