"""master(8): one host's Postfix instance, built from its main.cf and master.cf.

A :class:`MailHost` owns what Postfix's daemons share on one machine: the configuration, the
queue directory, the trivial-rewrite service, qmgr, cleanup and bounce, and the delivery agents
and smtpd listeners that master.cf names. Daemons reach each other by service name through the
host (``host.agent("smtp")``), never by import, as Postfix's do through master.cf. The host also
offers delivery agents (da/) the small contract they need (``mailsim.da.agent.AgentHost``): its
tables, its accounts, its files, and ``submit`` to re-inject mail through cleanup.

Parameters: default_process_limit (100), myhostname, mydestination, and every parameter read by
the services it starts (each module lists its own).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simpy

from mailsim.config.hostfacts import HostFacts
from mailsim.config.loader import HostConfig, load_config
from mailsim.config.maincf import MainCf, parse_main_cf
from mailsim.config.mastercf import DEFAULT_MASTER_CF, parse_master_cf
from mailsim.config.tables import EmptyTable, Table, open_table, split_list
from mailsim.core.errors import ConfigError
from mailsim.core.servers import Occupancy
from mailsim.engine.server import SmtpServerFactory
from mailsim.mail.delivery import RecipientStatus
from mailsim.mail.envelope import Envelope
from mailsim.mail.queuefile import QueueFile, QueueState
from mailsim.mta.bounce import Bounce
from mailsim.mta.cleanup import Cleanup, Origin
from mailsim.mta.error import DiscardAgent, ErrorAgent, Unavailable
from mailsim.mta.mail_flow import MailFlow
from mailsim.mta.milters.daemons import Daemons
from mailsim.mta.qmgr.manager import Qmgr
from mailsim.mta.queue_directory import QueueDirectory
from mailsim.mta.scache import ConnectionCache
from mailsim.mta.smtp import SmtpAgent
from mailsim.mta.smtpd import Smtpd
from mailsim.mta.trivial_rewrite import TrivialRewrite

SYSTEM_ACCOUNTS = (("root", "/root", 0), ("daemon", "/usr/sbin", 1), ("nobody", "/nonexistent", 65534))


@dataclass(frozen=True, slots=True)
class Account:
    """A UNIX account as local(8) sees it through getpwnam()."""

    name: str
    home: str
    uid: int


@dataclass
class HostParts:
    """What the world gives a host: its place in the network, DNS, files, users and certificates."""

    sim: Any
    name: str
    addresses: tuple[str, ...]
    config_folder: Path | None
    resolver: Any
    files: Path
    users: Sequence[Any] = ()
    tls: Any = None
    transcripts: Any = None
    programs: Any = None
    commands: Mapping[str, Any] = field(default_factory=dict)
    """Delivery-agent factories by master.cf command (local, virtual, pipe): ``factory(host, service_entry)``."""
    config: HostConfig | None = None
    """A configuration prepared by the caller (e.g. with the MSA's submission stanza); else read from the folder."""


class MailHost:
    """A Postfix host: configuration, queues and the services of its master.cf."""

    def __init__(self, parts: HostParts) -> None:
        self.sim = parts.sim
        self.name = parts.name
        self.addresses = parts.addresses
        self.resolver = parts.resolver
        self.files = parts.files
        self.tls_authority = parts.tls
        self.transcripts = parts.transcripts
        self.programs = parts.programs  # a ProgramRegistry: the simulated programs of |command and pipe(8)
        self.commands = dict(parts.commands)
        facts = HostFacts(parts.name, parts.addresses)
        self.config = parts.config or load_host_config(parts.config_folder, facts)
        self.main: MainCf = self.config.main
        self._tables: dict[str, Table] = {}
        self._agents: dict[str, Any] = {}
        self._agent_wrappers: list[Callable[[str, Any], Any]] = []  # resource models around the agents
        self.passwd = _accounts(self, parts.users)
        self.sasl = {u.address: u.password for u in parts.users if u.password}
        self.local_names = frozenset({self.main.get("myhostname").lower(), self.name.lower()})
        self.daemons = Daemons(self)  # mailsim-auth: milters and postsrsd from the host folder, before the maps open
        self._tables.update(self.daemons.tables)
        self.queue = QueueDirectory(self.sim, self.name)
        self.rewrite = TrivialRewrite.for_host(self)
        self.cleanup = Cleanup(self)
        self.bounce_service = Bounce(self)
        self.qmgr = Qmgr(self)
        self.scache = ConnectionCache(self.sim, self.name)  # scache(8): idle SMTP connections of smtp and lmtp
        self.listeners: list[Any] = []
        self.live_client: str | None = None  # address live loopback clients stand for (mailsim serve)
        self.stores: Any = None  # the host's mailboxes, shared by local, virtual and the access agents
        self.fatal: dict[str, str] = {}  # services that would die at start-up, with Postfix's fatal text
        self.access: dict[str, Any] = {}  # access agents by service (pop3, imap) on hosts with the aa role
        self.hardware: Any = None  # CPU cores and disk when the scenario declares them (mailsim.mta.hardware)
        self.occupancy: dict[str, Occupancy] = {}  # busy processes per smtpd service and transport, for samples
        self.flow = MailFlow(self.main)  # in_flow_delay tokens (mailsim.mta.mail_flow)
        self._preload()

    # -- configuration ---------------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return self.config.folder or self.files

    def service_main(self, service: str, type: str | None = None) -> MainCf:
        """main.cf as a master.cf service sees it (its ``-o`` overrides applied)."""
        return self.config.service_main_cf(service, type)

    def table(self, spec: str, syntax: str | None = None) -> Table:
        """A lookup table, opened once, with paths relative to this host's config folder.

        Tables named by alias_maps or alias_database are read in aliases(5) syntax, as postalias
        would have compiled them; every other table in postmap(1) syntax (unless ``syntax`` says).
        """
        found = self._tables.get(spec)
        if found is None:
            passwd = {a.name: f"{a.name}:x:{a.uid}:{a.uid}::{a.home}:/bin/sh" for a in self.passwd.values()}
            aliases = set(split_list(self.main.get("alias_maps"))) | set(split_list(self.main.get("alias_database")))
            syntax = syntax or ("aliases" if spec in aliases else "postmap")
            try:
                found = open_table(spec, self.folder, passwd=passwd, syntax=syntax)
            except ConfigError:
                if spec not in aliases or self.main.is_set("alias_maps"):
                    raise
                found = EmptyTable(spec)  # Debian's default alias_maps with no aliases file: an empty database
            self._tables[spec] = found
        return found

    def _preload(self) -> None:
        """Open every table main.cf names explicitly, so a missing or broken one is reported before the run."""
        for name in self.main.settings:
            if name.endswith(("_maps", "_checks")) or name in ("alias_database", "mynetworks"):
                for spec in split_list(self.main.get(name)):
                    if ":" in spec and not spec.startswith(("proxy:unix:passwd", "unix:")):
                        self.table(spec)

    def tables(self, value: str) -> list[Table]:
        return [self.table(spec) for spec in split_list(value)]

    def home(self, name: str) -> Path:
        account = self.passwd[name]
        return self.files / account.home.lstrip("/")

    def client_tls_context(self) -> ssl.SSLContext | None:
        return self.tls_authority.client_context() if self.tls_authority is not None else None

    def server_tls_context(self) -> ssl.SSLContext | None:
        return self.tls_authority.server_context(self.main.get("myhostname")) if self.tls_authority else None

    # -- services --------------------------------------------------------------------------------------

    def resolve(self, address: str, sender: str) -> tuple[str, str, str]:
        """trivial-rewrite's answer for qmgr: (transport, nexthop, recipient)."""
        answer = self.rewrite.resolve(address, sender)
        return answer.transport, answer.nexthop, answer.recipient

    def process_limit(self, transport: str) -> int:
        service = self.config.master.service(transport, "unix")
        return service.process_limit(self.main) if service else self.main.int("default_process_limit")

    def agent(self, transport: str) -> Any:
        """The delivery agent behind a transport name, built from its master.cf entry on first use."""
        found = self._agents.get(transport)
        if found is None:
            found = self._build_agent(transport)
            for wrap in self._agent_wrappers:
                found = wrap(transport, found)
            self._agents[transport] = found
        return found

    def wrap_agents(self, wrap: Callable[[str, Any], Any]) -> None:
        """Put every delivery agent behind ``wrap(transport, agent)`` from now on (resource models), outermost last."""
        self._agent_wrappers.append(wrap)
        self._agents = {transport: wrap(transport, found) for transport, found in self._agents.items()}

    def _build_agent(self, transport: str) -> Any:
        service = self.config.master.service(transport, "unix")
        if service is None:
            return Unavailable(self, transport)
        command = service.command
        if command == "smtp":
            return SmtpAgent(self, transport)
        if command == "lmtp":
            return SmtpAgent(self, transport, lmtp=True)
        if command in ("error", "discard"):
            return (ErrorAgent if command == "error" else DiscardAgent)(self, transport)
        factory = self.commands.get(command)
        return factory(self, service) if factory is not None else Unavailable(self, transport)

    def inject(
        self, sender: str, recipients: Sequence[str], content: bytes, *, service: str,
        attributes: Sequence[tuple[str, str]] = (), queue_id: str | None = None,
    ) -> str | None:  # fmt: skip
        """Post a message through cleanup as local mail (pickup, bounce); returns the queue id at once."""
        queue_id = queue_id or self.queue.new_queue_id()
        self.flow.take()  # a cleanup client; it cannot pause here (see mailsim.mta.mail_flow)
        origin = Origin(service, rewrite_headers=True, protocol="local", attributes=list(attributes))
        result = self.cleanup.process(queue_id, Envelope(sender, tuple(recipients)), content, origin)
        return result.queue_id

    def sendmail(self, sender: str, recipients: Sequence[str], content: bytes) -> str | None:
        """sendmail(1): postdrop writes a maildrop file, pickup hands it to cleanup under a new queue id.

        pickup is woken by postdrop's trigger, so this happens at once; the maildrop file is removed
        once cleanup has the message, as pickup(8) does.
        """
        local = sender.partition("@")[0].lower()
        uid = self.passwd[local].uid if local in self.passwd else 0
        drop = QueueFile.from_envelope(self.queue.new_queue_id(), Envelope(sender, tuple(recipients)), content,
                                       arrival_time=self.sim.now, state=QueueState.MAILDROP)  # fmt: skip
        self.queue.enter(drop, service="postdrop")
        queue_id = self.queue.new_queue_id()
        self.sim.trace.emit(self.name, "pickup", "pickup", queue_id=queue_id, uid=uid, sender=sender)
        accepted = self.inject(sender, recipients, content, service="pickup", queue_id=queue_id)
        self.queue.move(drop.queue_id, QueueState.DELETED, service="pickup")
        return accepted

    def submit(
        self, sender: str, recipients: Sequence[str], content: bytes, *, service: str,
        attributes: Sequence[tuple[str, str]] = (),
    ) -> simpy.Event:  # fmt: skip
        """The same for simpy processes (local(8) forwarding, programs): an event whose value is the queue id."""
        return self.sim.env.timeout(0, value=self.inject(sender, recipients, content, service=service,
                                                          attributes=attributes))  # fmt: skip

    def bounce(self, qf: QueueFile, statuses: Sequence[RecipientStatus], kind: str) -> str | None:
        return self.bounce_service.notify(qf, statuses, kind)

    # -- listeners ---------------------------------------------------------------------------------------

    def smtpd_factories(self) -> list[tuple[str, int, SmtpServerFactory]]:
        """(service, port, factory) for every master.cf inet service whose smtpd can start.

        An smtpd whose configuration Postfix would refuse (e.g. an empty main.cf at compatibility
        level 0: no relay restriction at all) dies with ``fatal:`` as in Postfix: the service is
        recorded in ``self.fatal`` and the trace, and nothing listens on its port.
        """
        found = []
        for service in self.config.master.services():
            if service.type != "inet" or service.command != "smtpd":
                continue
            _, port = service.listen(self.main.get("known_tcp_ports"))
            name = "submission" if port == 587 else ("smtps" if port == 465 else service.name.rpartition(":")[2])
            try:
                hooks = Smtpd(self, service.name)
            except ConfigError as exc:
                self.fatal[name] = f"in parameter {exc.key}, {exc.detail}" if exc.key else str(exc)
                continue
            factory = SmtpServerFactory(hooks.server_settings(), hooks, service=name, host=self.name,
                                        transcripts=self.transcripts)  # fmt: skip
            found.append((name, port, factory))
        return found

    async def start(self, loop: Any) -> None:
        """Listen on every address of the host for each smtpd service (master.cf inet entries)."""
        for service, port, factory in self.smtpd_factories():
            for address in self.addresses:
                server = await loop.create_server(factory, host=address, port=port)
                self.listeners.append((service, address, port, server))
            self.sim.trace.emit(self.name, "master", "listen", name=service, port=port)
        for service, text in self.fatal.items():
            self.sim.trace.emit(self.name, "smtpd", "fatal", name=service, text=text)


def master_text(folder: Path | None) -> str:
    """The host's master.cf text (Debian's stock file when the folder has none)."""
    path = folder / "master.cf" if folder is not None else None
    return path.read_text(encoding="utf-8") if path is not None and path.exists() else DEFAULT_MASTER_CF


def load_host_config(folder: Path | None, facts: HostFacts) -> HostConfig:
    """main.cf and master.cf of a host folder; a host without one runs Postfix's defaults."""
    if folder is not None:
        return load_config(folder, facts)
    master = parse_master_cf(DEFAULT_MASTER_CF, file="master.cf")
    return HostConfig(parse_main_cf("", file="main.cf", host=facts, master=master), master, None)


def _accounts(host: MailHost, users: Sequence[Any]) -> dict[str, Account]:
    accounts = {name: Account(name, home, uid) for name, home, uid in SYSTEM_ACCOUNTS}
    destinations = {d.lower() for d in host.main.list("mydestination")}
    for uid, user in enumerate(users, start=1000):
        local, _, domain = user.address.partition("@")
        if domain.lower() in destinations or domain.lower() == host.name.lower():
            accounts.setdefault(local.lower(), Account(local.lower(), f"/home/{local.lower()}", uid))
    return accounts
