"""error(8) and discard(8): delivery agents that decide without delivering.

error bounces every recipient with the reason in its nexthop (``error:5.1.1 User unknown in
virtual alias table``), or defers it when the service runs as ``retry`` or the status is 4.X.X;
discard reports every recipient as sent ("discarded"). A transport that master.cf does not
define is answered by :class:`Unavailable` ("mail transport unavailable", deferred), as qmgr does.
"""

from __future__ import annotations

import re
from typing import Any

import simpy

from mailsim.mail.delivery import DeliverRequest, DeliveryStatus, RecipientStatus
from mailsim.mail.report import DeliveryReport

_DSN = re.compile(r"^([45]\.\d{1,3}\.\d{1,3})\s*(.*)$")


class _Decider:
    """Shared body: one status for every recipient, logged as the service that decided it."""

    def __init__(self, host: Any, service: str) -> None:
        self.host = host
        self.service = service

    def verdict(self, request: DeliverRequest) -> tuple[DeliveryStatus, str, str]:
        raise NotImplementedError

    def deliver(self, request: DeliverRequest) -> simpy.Event:
        status, dsn, reason = self.verdict(request)
        now = self.host.sim.now
        qf = self.host.queue.get(request.queue_id)
        mid = qf.attribute("message_id") if qf else None
        statuses = []
        for rcpt in request.recipients:
            outcome = RecipientStatus(rcpt.address, status, dsn, reason, delay=now - request.arrival_time,
                                      original=rcpt.original, rcpt_dsn=rcpt.dsn)  # fmt: skip
            statuses.append(outcome)
            self.host.sim.trace.emit(
                self.host.name, self.service, "delivery", queue_id=request.queue_id, message_id=mid, to=rcpt.address,
                orig_to=rcpt.original, relay="none", delay=outcome.delay, delays=(0.0, 0.0, 0.0, 0.0), dsn=dsn,
                status=str(status), text=reason,
            )  # fmt: skip
        return self.host.sim.env.timeout(0, value=DeliveryReport(tuple(statuses)))


class ErrorAgent(_Decider):
    """error(8): the nexthop is ``X.Y.Z text`` (or just text: 5.0.0)."""

    def verdict(self, request: DeliverRequest) -> tuple[DeliveryStatus, str, str]:
        match = _DSN.match(request.nexthop.strip())
        dsn, text = (match.group(1), match.group(2)) if match else ("5.0.0", request.nexthop.strip())
        if self.service == "retry" or dsn.startswith("4"):
            return DeliveryStatus.DEFERRED, "4" + dsn[1:], text or "delivery temporarily suspended"
        return DeliveryStatus.BOUNCED, dsn, text or "undeliverable"


class DiscardAgent(_Decider):
    """discard(8): "discarded" (with the nexthop text, if any)."""

    def verdict(self, request: DeliverRequest) -> tuple[DeliveryStatus, str, str]:
        return DeliveryStatus.SENT, "2.0.0", request.nexthop.strip() or "discarded"


class Unavailable(_Decider):
    """A transport with no master.cf service: deferred, as Postfix's qmgr does."""

    def verdict(self, request: DeliverRequest) -> tuple[DeliveryStatus, str, str]:
        return DeliveryStatus.DEFERRED, "4.3.0", "mail transport unavailable"
