"""virtual(8): mailboxes that belong to no UNIX account, found through virtual_mailbox_maps.

For each recipient (lower-cased whole address, as virtual/recipient.c does): a ``Delivered-To`` loop check
(``5.4.6 mail forwarding loop for ADDR``), then virtual_mailbox_maps looked up with ``user+ext@domain``,
``user@domain`` (the extension stripped with recipient_delimiter) and ``@domain`` (a catch-all), pattern
tables with the whole address only. The result is a path below virtual_mailbox_base: a trailing ``/`` makes
it a Maildir (``delivered to maildir``), anything else an mbox file appended under its lock (``delivered to
mailbox``). A recipient without a map entry bounces with ``5.1.1 unknown user: "ADDR"`` (virtual/unknown.c).
virtual_mailbox_limit caps an mbox file (or a Maildir message): passing it bounces with 5.2.2.

The simulated ``virtual_mailbox_base`` (``/var/mail/vhosts``) is a folder under the host's folder. It must be
an absolute path, as Postfix insists ("do not specify relative pathname"): a relative one is a ConfigError
when the agent is made; an empty one defers mail at delivery time, as Postfix's fatal exit does.
virtual_uid_maps, virtual_gid_maps and virtual_minimum_uid are read by Postfix to choose the file owner; a
simulation has no file ownership, so mailsim ignores them (a missing uid is not an error here).

Parameters read (Postfix 3.7 defaults): virtual_mailbox_maps (), virtual_mailbox_base (),
virtual_mailbox_limit (51200000), recipient_delimiter (), deliver_lock_attempts (20), deliver_lock_delay (1s).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import simpy

from mailsim.config.tables import Table, TableFailure
from mailsim.core.errors import ConfigError, MailsimError
from mailsim.da.agent import AgentHost, Attempt, DeliveryCost, deferred_report, message_facts, outcome, text
from mailsim.da.local.deliveries import Copy, Locking, store_failure, write_store
from mailsim.da.stores import MailStores
from mailsim.mail.delivery import DeliverRequest, DeliveryStatus, RecipientStatus
from mailsim.mail.report import DeliveryReport
from mailsim.policy.lookup import maps_find, split_delim


class VirtualAgent:
    """The virtual delivery agent of one host."""

    def __init__(
        self,
        host: AgentHost,
        service: str = "virtual",
        *,
        stores: MailStores | None = None,
        cost: DeliveryCost | None = None,
    ) -> None:
        self.host = host
        self.service = service
        main = host.service_main(service)
        self.base = main.get("virtual_mailbox_base")
        if self.base and not self.base.startswith("/"):
            setting = main.settings.get("virtual_mailbox_base")
            raise ConfigError(
                "do not specify relative pathname", file=setting.file if setting else None,
                line=setting.line if setting else None, key="virtual_mailbox_base",
                expected="an absolute path", found=self.base,
            )  # fmt: skip
        self.maps_value = main.get("virtual_mailbox_maps")
        self.limit = main.size("virtual_mailbox_limit")
        self.delimiter = main.get("recipient_delimiter")
        self.locking = Locking(main.int("deliver_lock_attempts"), main.time("deliver_lock_delay"))
        self.stores = stores if stores is not None else MailStores(host.files, hostname=host.name)
        self.cost = cost or DeliveryCost()

    def deliver(self, request: DeliverRequest) -> simpy.Event:
        """Start delivering; the event's value is the DeliveryReport."""
        return self.host.sim.env.process(self._deliver(request))

    def _deliver(self, request: DeliverRequest) -> Generator[simpy.Event, Any, DeliveryReport]:
        qf = self.host.queue.get(request.queue_id)
        if qf is None:
            return deferred_report(request, "no_queue_file", request.queue_id, relay=self.service)
        try:
            if not self.base:
                raise ConfigError("do not specify relative pathname: virtual_mailbox_base = ")
            tables = self.host.tables(self.maps_value) if self.maps_value else []
        except ConfigError as error:  # Postfix's virtual(8) exits fatally; qmgr defers the mail
            self.host.sim.emit(self.host.name, self.service, "fatal", queue_id=request.queue_id, text=str(error))
            return deferred_report(request, "transport_error", relay=self.service)
        facts = message_facts(qf.content)
        statuses = []
        for rcpt in request.recipients:
            attempt = Attempt(request, rcpt, facts, self.host.sim.now)
            status = yield from self._recipient(attempt, tables, qf.content)
            statuses.append(status)
        return DeliveryReport(tuple(statuses))

    def _recipient(
        self, attempt: Attempt, tables: Sequence[Table], content: bytes
    ) -> Generator[simpy.Event, Any, RecipientStatus]:
        address = attempt.rcpt.address.lower()
        if attempt.facts.loops_for(address):
            return self._done(attempt, *text("loop", address))
        try:
            found = self.mailbox_of(tables, address)
        except TableFailure:
            return self._done(attempt, "4.3.0", f"{self.maps_value}: lookup {address}: table lookup failure")
        if found is None:
            return self._done(attempt, *text("unknown_user", address))
        path = f"{self.base.rstrip('/')}/{found.lstrip('/')}"
        try:
            store = self.stores.open(path)
        except MailsimError as problem:
            return self._done(attempt, "5.3.5", f"mail system configuration error: {problem}")
        copy = Copy(attempt.request.sender, attempt.rcpt.address, attempt.original)
        holder = f"{self.host.name}/{self.service}/{self.host.sim.counter('deliver-lock')}"
        error = yield from write_store(
            self.host.sim, store, content, copy, cost=self.cost, locking=self.locking, size_limit=self.limit,
            holder=holder,
        )  # fmt: skip
        if error is None:
            return self._done(attempt, *text("maildir" if store.kind == "maildir" else "mailbox"))
        dsn, detail = store_failure(error)
        if store.kind == "maildir":
            return self._done(attempt, dsn, text("maildir_error", detail)[1])
        return self._done(attempt, dsn, text("virtual_mailbox_error", path, detail)[1])

    def mailbox_of(self, tables: Sequence[Table], address: str) -> str | None:
        """virtual8_maps_find(): ``user+ext@domain``, ``user@domain``, ``@domain`` (partial keys not on patterns)."""
        local, _, domain = address.rpartition("@")
        user, extension, _ = split_delim(local, self.delimiter)
        keys = [(address, False)]
        if extension is not None:
            keys.append((f"{user}@{domain}", True))
        keys.append((f"@{domain}", True))
        for key, partial in keys:
            value = maps_find(tables, key, partial)
            if value is not None:
                return value.strip()
        return None

    def _done(self, attempt: Attempt, dsn: str, reason: str) -> RecipientStatus:
        status = DeliveryStatus.SENT if dsn.startswith("2") else (
            DeliveryStatus.DEFERRED if dsn.startswith("4") else DeliveryStatus.BOUNCED
        )  # fmt: skip
        sim = self.host.sim
        return outcome(sim, self.host.name, self.service, attempt, attempt.rcpt.address, status, dsn, reason)
