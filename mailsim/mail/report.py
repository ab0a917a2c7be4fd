"""What a delivery agent hands back to qmgr for one :class:`~mailsim.mail.delivery.DeliverRequest`."""

from __future__ import annotations

from dataclasses import dataclass

from mailsim.mail.delivery import RecipientStatus


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """One status per request recipient, in request order, and the site-level failure if any.

    ``site_failure`` is set when the destination as a whole failed (no MX answered, a 4xx greeting):
    qmgr feeds it back as negative concurrency feedback and may declare the destination dead.
    An agent that expands a recipient (aliases) logs each expansion itself and reports one summary
    status for the recipient it was given.
    """

    statuses: tuple[RecipientStatus, ...]
    site_failure: str | None = None
    site_dsn: str = "4.4.1"
