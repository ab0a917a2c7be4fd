"""local(8): the delivery agent for the host's own domains (aliases, .forward, mailboxes, files, commands).

``LocalAgent(host, service="local").deliver(request)`` is a simpy process. For every recipient of the request
(local_destination_recipient_limit is 1 by default, so usually one) it runs :class:`RecipientRun` and hands
qmgr one summary status; each final delivery is logged by itself (see :mod:`mailsim.da.local.recipient`).
Files named in aliases, ``:include:`` lists, ``.forward`` files and every mailbox live in the host's folder
(``host.files``): the simulated ``/var/mail/alice`` is ``host.files/var/mail/alice``; the lead copies the
scenario's ``home/<user>/.forward`` and include files there.

A configuration that cannot be opened (a missing aliases file, a ``fail:`` table) is what makes Postfix's
local(8) exit with a fatal error; qmgr then defers the mail with "unknown mail transport error". mailsim
does the same and records a ``fatal`` trace record with the reason, so the run goes on.

Parameters read: see :mod:`mailsim.da.local.settings`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from mailsim.config.tables import TableFailure
from mailsim.core.errors import ConfigError
from mailsim.da.agent import AgentHost, Attempt, DeliveryCost, deferred_report, message_facts
from mailsim.da.local.recipient import RecipientRun
from mailsim.da.local.settings import LocalSettings
from mailsim.da.stores import MailStores, StoreError
from mailsim.mail.delivery import DeliverRequest
from mailsim.mail.report import DeliveryReport
from mailsim.policy.aliases import AddressResolver, AliasSettings, local_resolver
from mailsim.policy.lookup import maps_find
from mailsim.policy.rewrite.settings import RewriteSettings


class LocalAgent:
    """The local delivery agent of one host (one object serves every concurrent delivery)."""

    def __init__(
        self,
        host: AgentHost,
        service: str = "local",
        *,
        stores: MailStores | None = None,
        cost: DeliveryCost | None = None,
    ) -> None:
        self.host = host
        self.service = service
        self.main = host.service_main(service)
        self.settings = LocalSettings.from_main(self.main)
        self.stores = stores if stores is not None else MailStores(host.files, hostname=host.name)
        self.cost = cost or DeliveryCost()
        self._policy: tuple[AliasSettings, AddressResolver] | None = None

    def deliver(self, request: DeliverRequest) -> simpy.Event:
        """Start delivering; the event's value is the DeliveryReport (one status per request recipient)."""
        return self.host.sim.env.process(self._deliver(request))

    def _deliver(self, request: DeliverRequest) -> Generator[simpy.Event, Any, DeliveryReport]:
        qf = self.host.queue.get(request.queue_id)
        if qf is None:
            return deferred_report(request, "no_queue_file", request.queue_id, relay=self.service)
        try:
            self.policy()
        except (ConfigError, TableFailure) as error:
            self.host.sim.emit(self.host.name, self.service, "fatal", queue_id=request.queue_id, text=str(error))
            return deferred_report(request, "transport_error", relay=self.service)
        facts = message_facts(qf.content)
        statuses = []
        for rcpt in request.recipients:
            attempt = Attempt(request, rcpt, facts, self.host.sim.now)
            status = yield from RecipientRun(self, attempt, qf.content).run()
            statuses.append(status)
        return DeliveryReport(tuple(statuses))

    def policy(self) -> tuple[AliasSettings, AddressResolver]:
        """alias_maps opened through the host and trivial-rewrite's resolver, made on first use."""
        if self._policy is None:
            aliases = AliasSettings.from_main(self.main, lambda spec: self.host.table(spec, syntax="aliases"))
            rewrite = RewriteSettings.from_main(self.main, self.host.table, self.read_file)
            self._policy = (aliases, local_resolver(rewrite, self.service))
        return self._policy

    def find_in(self, maps: str, key: str) -> str | None:
        """A per-user lookup in a maps parameter (mailbox_transport_maps, ...); None when unset or not found."""
        return maps_find(self.host.tables(maps), key) if maps else None

    def read_file(self, path: str) -> str:
        """A file of the simulated host (``:include:`` lists, .forward); OSError when it is not there."""
        try:
            real = self.stores.resolve(path)
        except StoreError as error:
            raise OSError(str(error)) from None
        return real.read_text(encoding="utf-8", errors="surrogateescape")

    def read_file_exists(self, path: str) -> bool:
        try:
            return self.stores.resolve(path).is_file()
        except StoreError:
            return False
