"""Delivery requests and per-recipient outcomes: what qmgr hands a delivery agent and what comes back.

:class:`DeliverRequest` mirrors Postfix's ``deliver_request.h``: one message, one transport and
nexthop, the recipients qmgr grouped for that destination. :class:`RecipientStatus` is one
recipient's outcome as Postfix logs it (``to=<...>, relay=..., delay=..., delays=a/b/c/d,
dsn=X.Y.Z, status=sent|deferred|bounced|expired (reason)``); the bounce daemon turns it into a DSN
block with :func:`mailsim.mail.dsn.dsn_recipient`. A recipient's own life cycle is one table,
:data:`RECIPIENT_TRANSITIONS`, with one function that refuses illegal moves (STYLE.md principle 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntFlag, StrEnum
from types import MappingProxyType

from mailsim.core.errors import SimulationError
from mailsim.mail.envelope import Body, RcptDsn, Ret
from mailsim.mail.queuefile import QueueRecipient, QueueState
from mailsim.mail.reply import Reply


class DeliveryStatus(StrEnum):
    """Postfix's ``status=`` words, plus ``queued`` for a recipient not tried yet."""

    QUEUED = "queued"
    SENT = "sent"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    EXPIRED = "expired"
    EXPANDED = "expanded"


_D = DeliveryStatus
RECIPIENT_TRANSITIONS: Mapping[DeliveryStatus, frozenset[DeliveryStatus]] = MappingProxyType(
    {
        _D.QUEUED: frozenset({_D.SENT, _D.DEFERRED, _D.BOUNCED, _D.EXPIRED, _D.EXPANDED}),
        _D.DEFERRED: frozenset({_D.SENT, _D.DEFERRED, _D.BOUNCED, _D.EXPIRED, _D.EXPANDED}),
        _D.SENT: frozenset(),
        _D.BOUNCED: frozenset(),
        _D.EXPIRED: frozenset(),
        _D.EXPANDED: frozenset(),
    }
)


def recipient_transition(status: DeliveryStatus, new: DeliveryStatus) -> DeliveryStatus:
    """The new status if legal; SimulationError otherwise (e.g. a recipient delivered twice)."""
    if new not in RECIPIENT_TRANSITIONS[status]:
        raise SimulationError(f"illegal recipient status move {status} -> {new}")
    return new


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One recipient's outcome of one delivery attempt."""

    recipient: str
    status: DeliveryStatus
    dsn: str
    reason: str
    reply: Reply | None = None  # the remote SMTP/LMTP reply, when there was one
    relay: str = "none"  # "host[address]:port", "local", "none"
    remote_mta: str | None = None  # host name for the DSN's Remote-MTA field
    delay: float = 0.0
    delays: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # before qmgr, in qmgr, connect, transfer
    original: str | None = None  # address before rewriting/alias expansion (orig_to=)
    rcpt_dsn: RcptDsn = RcptDsn()

    def __post_init__(self) -> None:
        if self.status is _D.QUEUED:
            raise ValueError("a RecipientStatus reports an outcome; 'queued' is not one")

    @property
    def final(self) -> bool:
        """True when the recipient leaves the queue (anything but deferred)."""
        return self.status is not _D.DEFERRED

    @classmethod
    def from_reply(cls, recipient: str, reply: Reply, *, host: str, address: str, command: str,
                   port: int = 25, **more: object) -> RecipientStatus:  # fmt: skip
        """Outcome from a remote reply: 2xx sent, 4xx deferred, 5xx bounced, in Postfix's wording."""
        if reply.is_success:
            status, reason = _D.SENT, reply.oneline()
        else:
            status = _D.DEFERRED if reply.is_transient else _D.BOUNCED
            reason = f"host {host}[{address}] said: {reply.oneline()} (in reply to {command} command)"
        return cls(
            recipient, status, reply.status, reason, reply, f"{host}[{address}]:{port}", host,
            **more,  # type: ignore[arg-type]
        )  # fmt: skip


class DeliverFlags(IntFlag):
    """deliver_request.h's DEL_REQ_FLAG_CONN_*: qmgr's on-demand connection caching hints to smtp(8)."""

    CONN_LOAD = 1 << 11  # consult the connection cache
    CONN_STORE = 1 << 12  # save the connection after the delivery


@dataclass(frozen=True, slots=True)
class DeliverRequest:
    """What qmgr asks one delivery agent to do (Postfix ``DELIVER_REQUEST``)."""

    queue_id: str
    queue_name: QueueState
    transport: str
    nexthop: str
    sender: str
    recipients: tuple[QueueRecipient, ...]
    arrival_time: float
    size: int
    envid: str | None = None
    ret: Ret | None = None
    smtputf8: bool = False
    body: Body | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    flags: DeliverFlags = DeliverFlags(0)

    def __post_init__(self) -> None:
        if not self.recipients:
            raise ValueError("a DeliverRequest needs at least one recipient")

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(rcpt.address for rcpt in self.recipients)
