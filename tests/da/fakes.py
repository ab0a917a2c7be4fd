"""A small host for delivery-agent tests: real Simulation, real config parsing, real files, fake queue and cleanup.

It satisfies :class:`mailsim.da.agent.AgentHost`; the lead's MailHost is tested against the agents separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simpy

from mailsim.config import HostFacts, Table, load_config, open_table
from mailsim.config.syntax import split_list
from mailsim.core.simulation import Simulation
from mailsim.da.agent import DeliveryAgent
from mailsim.da.programs import ProgramRegistry
from mailsim.mail.delivery import DeliverRequest
from mailsim.mail.queuefile import QueueFile, QueueRecipient, QueueState
from mailsim.mail.report import DeliveryReport

HOSTNAME = "mail.example.org"
BASE_MAIN_CF = """compatibility_level = 3.6
myhostname = {hostname}
mydomain = {domain}
mydestination = $myhostname, $mydomain, localhost
alias_maps = hash:/etc/aliases
"""
MESSAGE = (
    b"From: Sender <sender@example.net>\r\nTo: someone@example.org\r\nSubject: hello\r\n"
    b"Message-ID: <m1@example.net>\r\n\r\nFrom the start\r\nbody line\r\n"
)


@dataclass(frozen=True)
class Account:
    name: str
    home: str
    uid: int


@dataclass
class Submitted:
    sender: str
    recipients: tuple[str, ...]
    content: bytes
    service: str
    queue_id: str


@dataclass
class FakeQueue:
    files: dict[str, QueueFile] = field(default_factory=dict)

    def get(self, queue_id: str) -> QueueFile | None:
        return self.files.get(queue_id)


class FakeHost:
    """One simulated host with a config folder (main.cf, master.cf, aliases, tables) and an output folder."""

    def __init__(
        self,
        root: Path,
        *,
        main_cf: str = "",
        aliases: str = "",
        users: Sequence[str] = ("alice", "bob", "abdou"),
        config_files: dict[str, str] | None = None,
        files: dict[str, str] | None = None,
        master_cf: str | None = None,
        hostname: str = HOSTNAME,
        programs: ProgramRegistry | None = None,
    ) -> None:
        self.sim = Simulation(seed=7)
        self.name = hostname
        self.config_dir = root / "config"
        self.config_dir.mkdir(parents=True)
        domain = hostname.partition(".")[2] if hostname.count(".") > 1 else hostname
        (self.config_dir / "main.cf").write_text(BASE_MAIN_CF.format(hostname=hostname, domain=domain) + main_cf)
        (self.config_dir / "aliases").write_text(aliases)
        if master_cf is not None:
            (self.config_dir / "master.cf").write_text(master_cf)
        for name, text in (config_files or {}).items():
            (self.config_dir / name).write_text(text)
        self.config = load_config(self.config_dir, HostFacts(hostname, ("192.0.2.10/24",)))
        self.files = root / "files"
        for name, text in (files or {}).items():
            target = self.files / name.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.passwd = {"root": Account("root", "/root", 0), "daemon": Account("daemon", "/usr/sbin", 1)}
        self.passwd |= {user: Account(user, f"/home/{user}", 1000 + i) for i, user in enumerate(users)}
        self.programs = programs if programs is not None else ProgramRegistry()
        self.queue = FakeQueue()
        self.submitted: list[Submitted] = []
        self.agents: dict[str, DeliveryAgent] = {}
        self._tables: dict[tuple[str, str], Table] = {}

    # -- AgentHost -------------------------------------------------------------------------------
    def service_main(self, service: str) -> Any:
        return self.config.service_main_cf(service)

    def table(self, spec: str, *, syntax: str = "postmap") -> Table:
        key = (spec, syntax)
        if key not in self._tables:
            passwd = {name: f"{name}:x:{a.uid}:{a.uid}::{a.home}:/bin/sh" for name, a in self.passwd.items()}
            self._tables[key] = open_table(spec, self.config_dir, syntax=syntax, passwd=passwd)
        return self._tables[key]

    def tables(self, value: str) -> list[Table]:
        return [self.table(spec) for spec in split_list(value)]

    def submit(
        self, sender: str, recipients: Sequence[str], content: bytes, *, service: str, attributes: Sequence = ()
    ) -> simpy.Event:
        queue_id = f"NEW{len(self.submitted) + 1:04d}"
        self.submitted.append(Submitted(sender, tuple(recipients), content, service, queue_id))
        return self.sim.env.timeout(0, value=queue_id)

    def agent(self, transport: str) -> DeliveryAgent:
        return self.agents[transport]

    # -- test helpers ----------------------------------------------------------------------------
    def deliver(
        self,
        agent: DeliveryAgent,
        *recipients: str,
        content: bytes = MESSAGE,
        sender: str = "sender@example.net",
        transport: str = "local",
        originals: Sequence[str | None] = (),
    ) -> DeliveryReport:
        """Queue a message, hand it to ``agent`` as qmgr would, run the simulation, return the report."""
        queue_id = f"Q{len(self.queue.files) + 1:04d}"
        rcpts = tuple(QueueRecipient(r, originals[i] if originals else None) for i, r in enumerate(recipients))
        qf = QueueFile(queue_id, QueueState.ACTIVE, sender, rcpts, content, self.sim.now)
        self.queue.files[queue_id] = qf
        request = DeliverRequest(
            queue_id, QueueState.ACTIVE, transport, self.name, sender, rcpts, qf.arrival_time, qf.size
        )
        event = agent.deliver(request)
        self.sim.run(until=self.sim.now + 3600)
        assert event.processed, "delivery did not finish within an hour of virtual time"
        return event.value

    def records(self, service: str = "local") -> list[dict[str, Any]]:
        """The ``delivery`` trace records of ``service`` as flat dicts."""
        return [
            {"queue_id": r.queue_id, "message_id": r.message_id, **r.fields}
            for r in self.sim.trace.select("delivery", service=service)
        ]

    def path(self, simulated: str) -> Path:
        return self.files / simulated.lstrip("/")
