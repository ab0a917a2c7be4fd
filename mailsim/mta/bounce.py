"""bounce(8): delivery status notifications back to the envelope sender, through cleanup.

A failure (or, when delay_warning_time is set, a delay) notice is an RFC 3464 multipart/report
from MAILER-DAEMON with the null sender ``<>``, built by :func:`mailsim.mail.dsn.render_dsn` and
submitted to cleanup like any message. A bounce is never sent for a bounce: a message with the
null sender that fails is a *double bounce*, sent to 2bounce_notice_recipient only when
notify_classes contains ``2bounce`` and otherwise discarded (and logged), as Postfix does.
Recipients whose DSN NOTIFY excludes the event (NOTIFY=NEVER, or no FAILURE/DELAY) get no notice.

Parameters: notify_classes (resource, software), 2bounce_notice_recipient (postmaster),
bounce_notice_recipient (postmaster), myhostname, myorigin, delay_warning_time,
maximal_queue_lifetime.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mailsim.mail.delivery import RecipientStatus
from mailsim.mail.dsn import DsnReport, ReportKind, dsn_recipient, render_dsn
from mailsim.mail.envelope import Notify
from mailsim.mail.queuefile import QueueFile

_NOTIFY = {"failure": Notify.FAILURE, "delay": Notify.DELAY, "success": Notify.SUCCESS}
_LOG_KIND = {"failure": "non-delivery", "delay": "delay status", "success": "delivery status"}


class Bounce:
    """The bounce, defer and trace services of one host (one class: they differ only in the notice)."""

    def __init__(self, host: Any) -> None:
        self.host = host

    def notify(self, qf: QueueFile, statuses: Sequence[RecipientStatus], kind: str) -> str | None:
        """Send the notice for ``statuses``; returns the new queue id, or None when nothing is sent."""
        wanted = [s for s in statuses if s.rcpt_dsn.wants(_NOTIFY[kind])]
        if not wanted:
            return None
        if qf.sender == "":
            return self._double_bounce(qf, wanted)
        main = self.host.main
        report = DsnReport(
            ReportKind(kind), main.get("myhostname"), qf.queue_id, qf.sender,
            self.host.sim.wallclock(qf.arrival_time), tuple(dsn_recipient(s) for s in wanted), qf.envid,
        )  # fmt: skip
        content = render_dsn(
            report, qf.content, date=self.host.sim.wallclock(), myorigin=main.get("myorigin"), ret=qf.ret,
            delay_warning_time=main.time("delay_warning_time"),
            maximal_queue_lifetime=main.time("maximal_queue_lifetime"),
        )  # fmt: skip
        new_id = self.host.inject("", [qf.sender], content, service="bounce")
        self.host.sim.trace.emit(
            self.host.name, "bounce", "notice", queue_id=qf.queue_id, message_id=qf.attribute("message_id"),
            kind=_LOG_KIND[kind], new_queue_id=new_id, recipient=qf.sender,
        )  # fmt: skip
        return new_id

    def _double_bounce(self, qf: QueueFile, statuses: Sequence[RecipientStatus]) -> str | None:
        main = self.host.main
        if "2bounce" not in main.list("notify_classes"):
            self.host.sim.trace.emit(
                self.host.name, "bounce", "discarded", queue_id=qf.queue_id, message_id=qf.attribute("message_id"),
                reason="undeliverable bounce (double bounce) discarded: 2bounce not in notify_classes",
            )  # fmt: skip
            return None
        recipient = main.get("2bounce_notice_recipient")
        new_id = self.host.inject("", [recipient], qf.content, service="bounce")
        self.host.sim.trace.emit(
            self.host.name, "bounce", "notice", queue_id=qf.queue_id, message_id=qf.attribute("message_id"),
            kind="double bounce", new_queue_id=new_id, recipient=recipient,
        )  # fmt: skip
        return new_id
