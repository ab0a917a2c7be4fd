"""qmgr(8): moves mail from incoming and deferred into active, and schedules delivery agents.

Theory of operation
-------------------
cleanup places a file in ``incoming`` and calls :meth:`Qmgr.notify`. The feeder moves files into
``active`` while fewer than qmgr_message_active_limit are active, alternating between incoming and
deferred files that are due (incoming first). Activating a message resolves each pending
recipient with trivial-rewrite to (transport, nexthop, recipient) and groups recipients into
entries per destination (at most ``<transport>_destination_recipient_limit`` each; with a limit of
1 the destination is the recipient itself, as Postfix does for local). The dispatcher starts
deliveries while a transport has process slots (master.cf maxproc) and a destination has
concurrency window left, serving destinations round-robin (:mod:`mailsim.mta.qmgr.destinations`).
Selecting an entry updates its destination's connection-caching flags (qmgr_entry_select,
:mod:`mailsim.policy.conn_cache`), which the delivery request carries to the agent.
Each delivery agent reports per-recipient statuses and whether the *site* failed; site failures
feed negative concurrency feedback and may declare the destination dead, in which case its
queued entries are deferred at once without connecting ("delivery temporarily suspended").
When all of a message's entries are done, :mod:`mailsim.mta.qmgr.completion` bounces, defers
(Postfix's backoff) or removes it. Deferred files are scanned every queue_run_delay.

Parameters: qmgr_message_active_limit (20000), queue_run_delay (300s), minimal_backoff_time
(300s), maximal_backoff_time (4000s), maximal_queue_lifetime (5d), bounce_queue_lifetime (5d),
delay_warning_time (0h), default_process_limit (100), initial_destination_concurrency (5),
default_destination_concurrency_limit (20), default_destination_recipient_limit (50),
default_destination_concurrency_{positive,negative}_feedback (1/concurrency),
default_destination_concurrency_failed_cohort_limit (1), and ``<transport>_destination_*``; in_flow_delay
(1s): after each feed qmgr adds in-flow tokens for the files it took from incoming (:mod:`mailsim.mta.mail_flow`);
defer_transports (empty): recipients resolved to a listed transport go to the ``retry`` service instead
("4.3.2 deferred transport", qmgr_message_resolve), except for files moved by ``postqueue -f`` (QMGR_FLUSH_DFXP).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

import simpy

from mailsim.mail.delivery import DeliverFlags, DeliverRequest, RecipientStatus
from mailsim.mail.queuefile import CorruptQueueFile, QueueFile, QueueRecipient, QueueState
from mailsim.mta.qmgr.completion import defer_suspended, entry_done, release
from mailsim.mta.qmgr.destinations import Destination, Entry, Transport
from mailsim.mta.qmgr.settings import QmgrSettings, transport_settings
from mailsim.policy.conn_cache import on_select


class HostServices(Protocol):
    """What qmgr needs from its host: config, queue, rewriting and the agents by transport name."""

    name: str
    sim: Any
    queue: Any
    main: Any

    def resolve(self, address: str, sender: str) -> tuple[str, str, str]: ...

    def agent(self, transport: str) -> Any: ...

    def process_limit(self, transport: str) -> int: ...

    def bounce(self, qf: QueueFile, statuses: Any, kind: str) -> str | None: ...


@dataclass(slots=True)
class ActiveMessage:
    """A message in the active queue: its entries in flight and the outcomes so far."""

    qf: QueueFile
    activated: float
    outstanding: int = 0
    outcomes: list[RecipientStatus] = field(default_factory=list)


class Qmgr:
    """The queue manager of one host (see the module docstring)."""

    def __init__(self, host: HostServices) -> None:
        self.host = host
        self.sim = host.sim
        self.env: simpy.Environment = host.sim.env
        self.settings = QmgrSettings.from_main(host.main)
        self.transports: dict[str, Transport] = {}
        self.active: dict[str, ActiveMessage] = {}
        self.incoming: deque[str] = deque()
        self.due: deque[str] = deque()
        self.deferred: list[tuple[float, int, str]] = []
        self._seq = 0
        self._prefer_incoming = True
        self.defer_transports = frozenset(host.main.list("defer_transports"))
        self.flushing: set[str] = set()  # files a flush moved: defer_transports is lifted for them once
        self._wake: simpy.Event = self.env.event()
        self.env.process(self._scanner())
        self.env.process(self._run())

    # -- intake ---------------------------------------------------------------------------------------

    def notify(self, queue_id: str | None = None) -> None:
        """cleanup (or postsuper) says a file is in incoming: look at it soon."""
        if queue_id is not None:
            self.incoming.append(queue_id)
        self._poke()

    def defer_until(self, queue_id: str, eligible: float) -> None:
        """Remember a deferred file's time stamp; the scan after it picks the file up."""
        self.host.queue.eligible[queue_id] = eligible
        self._seq += 1
        heapq.heappush(self.deferred, (eligible, self._seq, queue_id))

    def flush(self) -> None:
        """``postqueue -f``: every deferred file is due now."""
        for queue_id in self.host.queue.ids(QueueState.DEFERRED):
            self.defer_until(queue_id, self.env.now)
            if self.defer_transports:
                self.flushing.add(queue_id)
        self._scan()

    def _poke(self) -> None:
        if not self._wake.triggered:
            self._wake.succeed()

    def _scanner(self) -> Generator[simpy.Event, Any, None]:
        period = self.settings.backoff.queue_run_delay
        while True:
            self._scan()
            yield self.env.timeout(period)

    def _scan(self) -> None:
        now = self.env.now
        while self.deferred and self.deferred[0][0] <= now:
            _, _, queue_id = heapq.heappop(self.deferred)
            qf = self.host.queue.get(queue_id)
            if qf is not None and qf.state is QueueState.DEFERRED and self.host.queue.eligible.get(queue_id) <= now:
                self.due.append(queue_id)
        if self.due:
            self._poke()

    # -- the main loop ---------------------------------------------------------------------------------

    def _run(self) -> Generator[simpy.Event, Any, None]:
        while True:
            self._feed()
            self._dispatch()
            self._wake = self.env.event()
            yield self._wake

    def _next_file(self) -> str | None:
        sources = (self.incoming, self.due) if self._prefer_incoming else (self.due, self.incoming)
        self._prefer_incoming = not self._prefer_incoming
        for source in sources:
            while source:
                queue_id = source.popleft()
                qf = self.host.queue.get(queue_id)
                if qf is not None and qf.state in (QueueState.INCOMING, QueueState.DEFERRED):
                    return queue_id
        return None

    def _feed(self) -> None:
        fed = 0  # files taken from incoming, for in_flow_delay's tokens (mailsim.mta.mail_flow)
        while len(self.active) < self.settings.active_limit:
            queue_id = self._next_file()
            if queue_id is None:
                break
            fed += self.host.queue.get(queue_id).state is QueueState.INCOMING
            self._activate(queue_id)
        flow = getattr(self.host, "flow", None)
        if flow is not None:
            flow.after_feed(fed, not self.incoming)

    def _activate(self, queue_id: str) -> None:
        try:
            self.host.queue.read(queue_id)
        except CorruptQueueFile as exc:
            self._save_corrupt(queue_id, exc)
            return
        qf = self.host.queue.move(queue_id, QueueState.ACTIVE, service="qmgr")
        now = self.env.now
        message = ActiveMessage(qf, now)
        self.active[queue_id] = message
        self.sim.trace.emit(
            self.host.name, "qmgr", "active", queue_id=queue_id, message_id=qf.attribute("message_id"),
            sender=qf.sender, size=qf.size, nrcpt=len(qf.pending), age=now - qf.arrival_time,
        )  # fmt: skip
        message.outstanding += 1  # hold the message open while its entries are assigned
        for (transport, name, nexthop), pairs in self._group(qf).items():
            self._assign(message, transport, name, nexthop, pairs)
        release(self, message)

    def _save_corrupt(self, queue_id: str, exc: CorruptQueueFile) -> None:
        """A file qmgr cannot read goes to the corrupt queue, where it stays for the postmaster (never lost)."""
        queue = self.host.queue.get(queue_id).state
        self.host.queue.move(queue_id, QueueState.CORRUPT, service="qmgr")
        self.sim.trace.emit(
            self.host.name, "qmgr", "warning", queue_id=queue_id,
            text=f'saving corrupt file "{queue_id}" from queue "{queue}" to queue "corrupt" ({exc.reason})',
        )  # fmt: skip

    def _group(self, qf: QueueFile) -> dict[tuple[str, str, str], list[tuple[str, QueueRecipient]]]:
        """Pending recipients resolved and grouped by (transport, destination name, nexthop)."""
        groups: dict[tuple[str, str, str], list[tuple[str, QueueRecipient]]] = {}
        lifted = qf.queue_id in self.flushing  # postqueue -f delivers over deferred transports too
        self.flushing.discard(qf.queue_id)
        for rcpt in sorted(qf.pending, key=_recipient_order):
            transport, nexthop, address = self.host.resolve(rcpt.address, qf.sender)
            if transport in self.defer_transports and not lifted:
                transport, nexthop = "retry", "4.3.2 deferred transport"
            routed = QueueRecipient(address, rcpt.original or rcpt.address, rcpt.dsn, rcpt.done)
            limit = self.transport(transport).recipient_limit
            name = address.lower() if limit == 1 else nexthop.lower()
            groups.setdefault((transport, name, nexthop), []).append((rcpt.address, routed))
        return groups

    def transport(self, name: str) -> Transport:
        found = self.transports.get(name)
        if found is None:
            process, recipients, limits = transport_settings(self.host, name)
            found = Transport(name, process, recipients, limits)
            self.transports[name] = found
        return found

    def _assign(
        self, message: ActiveMessage, transport: str, name: str, nexthop: str,
        pairs: list[tuple[str, QueueRecipient]],
    ) -> None:  # fmt: skip
        carrier = self.transport(transport)
        dest = carrier.destination(name, nexthop)
        limit = carrier.recipient_limit or len(pairs)
        for start in range(0, len(pairs), limit):
            chunk = pairs[start : start + limit]
            entry = Entry(message, [routed for _, routed in chunk], [key for key, _ in chunk], dest)
            message.outstanding += 1
            if dest.state.dead:
                defer_suspended(self, entry)
            else:
                dest.todo.append(entry)

    def _dispatch(self) -> None:
        progress = True
        while progress:
            progress = False
            for carrier in list(self.transports.values()):
                dest = carrier.select()
                if dest is None:
                    continue
                entry = dest.todo.popleft()
                dest.busy += 1
                carrier.busy += 1
                dest.flags = on_select(dest.flags, dest.busy, dest.last_done, self.env.now)
                self.env.process(self._deliver(entry, dest, dest.flags))
                progress = True

    def _deliver(self, entry: Entry, dest: Destination, flags: DeliverFlags) -> Generator[simpy.Event, Any, None]:
        qf: QueueFile = entry.message.qf
        request = DeliverRequest(
            qf.queue_id, QueueState.ACTIVE, dest.transport.name, dest.nexthop, qf.sender,
            tuple(entry.recipients), qf.arrival_time, qf.size, qf.envid, qf.ret, qf.smtputf8, qf.body,
            qf.attributes, flags,
        )  # fmt: skip
        report = yield self.host.agent(dest.transport.name).deliver(request)
        entry_done(self, entry, dest, report)
        self._poke()


def _recipient_order(rcpt: QueueRecipient) -> tuple[int, str, str]:
    """qmgr_message_sort: by domain (case-insensitive), then address; so agents get (and defer) them in this order."""
    at = rcpt.address.rfind("@")
    return (1, "", rcpt.address) if at < 0 else (0, rcpt.address[at:].lower(), rcpt.address)
