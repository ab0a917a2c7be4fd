"""Putting agents on hosts: a Postfix instance where a host runs an MTA, MSA, DA or AA, and user agents.

Each builder takes the :class:`~mailsim.scenario.world.World` and adds to it; the runner applies them
in order. The MTA side is :class:`mailsim.mta.master.MailHost` (its services from master.cf); delivery
agents are handed to it as factories by master.cf command, since mta/ and da/ never import each other.
Scripted messages (``[[messages]]``) become user-agent submissions at their virtual times.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

from mailsim.config.hostfacts import HostFacts
from mailsim.config.parameters import MODEL_KNOBS
from mailsim.config.syntax import ConfigWarning
from mailsim.core.errors import ScenarioError
from mailsim.engine.bridge import event_from_awaitable
from mailsim.engine.tls import TlsAuthority
from mailsim.engine.transcript import trace_sink
from mailsim.msa.submission import with_submission
from mailsim.mta.master import HostParts, MailHost, load_host_config, master_text
from mailsim.mta.milters.keys import publish_dkim_keys  # mailsim-auth: milters' DKIM/ARC keys into DNS
from mailsim.scenario.reads import build_reads  # mailsim-ua-reader: [[reads]]
from mailsim.scenario.resources import build_resources
from mailsim.scenario.spec import HostSpec, MessageSpec
from mailsim.scenario.workloads import add_workload_users, build_workload
from mailsim.scenario.world import World
from mailsim.ua.submit import Submission, UserAgent

MAIL_ROLES = frozenset({"msa", "mta", "da", "aa"})


def delivery_commands() -> dict[str, Any]:
    """Delivery-agent factories by master.cf command name (local, virtual, pipe); they share the host's stores."""
    from mailsim.da.local import LocalAgent
    from mailsim.da.pipe import PipeAgent
    from mailsim.da.virtual import VirtualAgent

    return {
        "local": lambda host, service: LocalAgent(host, service.name, stores=host.stores),
        "virtual": lambda host, service: VirtualAgent(host, service.name, stores=host.stores),
        "pipe": lambda host, service: PipeAgent.from_args(host, service.name, service.args),
    }


def _prepare_files(host: MailHost, folder: Path | None) -> None:
    """The host's filesystem: its mailboxes, and ``hosts/<name>/root/`` copied in (homes, .forward, lists)."""
    from mailsim.da.stores import MailStores

    host.files.mkdir(parents=True, exist_ok=True)
    if folder is not None and (folder / "root").is_dir():
        shutil.copytree(folder / "root", host.files, dirs_exist_ok=True)
    host.stores = MailStores(host.files, hostname=host.name, clock=host.sim.wallclock)


def _files(world: World) -> Path:
    if world.files is None:
        world.files = Path(tempfile.mkdtemp(prefix=f"mailsim-{world.spec.name}-"))
    return world.files


def build_mail_hosts(world: World) -> None:
    """A MailHost for every host with a mail role; listeners start at time zero."""
    tls = world.tls if world.tls is not None else TlsAuthority(f"{world.spec.name} CA")
    world.tls = tls
    transcripts = trace_sink(world.sim) if world.fidelity == "wire" else None
    commands = delivery_commands()
    for spec in world.spec.hosts:
        if not MAIL_ROLES & set(spec.roles):
            continue
        config = load_host_config(spec.config, HostFacts(spec.name, spec.addresses))
        if "msa" in spec.roles:
            config = with_submission(config, master_text(spec.config))
        parts = HostParts(world.sim, spec.name, spec.addresses, spec.config, world.resolver(spec.name),
                          _files(world) / "hosts" / spec.name, list(world.spec.users), tls, transcripts,
                          programs=_programs(), commands=commands, config=config)  # fmt: skip
        host = MailHost(parts)
        _prepare_files(host, spec.config)
        world.hosts[spec.name] = host
        world.warnings.extend(f"{spec.name}: {w.render('postfix')}" for w in host.config.warnings if not _knob(w))
        host.smtpd_factories()
        world.warnings.extend(f"{spec.name}: smtpd ({name}): fatal: {text}" for name, text in host.fatal.items())
        world.sim.env.process(_start(world, host))


def _knob(warning: ConfigWarning) -> bool:
    """postconf's "unused parameter" for one of mailsim's model knobs: true of Postfix, noise in a simulation."""
    name = warning.message.removeprefix("unused parameter: ").partition("=")[0]
    return warning.message.startswith("unused parameter: ") and name in MODEL_KNOBS


def _programs() -> Any:
    """The simulated programs of a host (|command aliases, pipe(8)); real commands stay off."""
    from mailsim.da.programs import ProgramRegistry

    return ProgramRegistry()


def _start(world: World, host: MailHost) -> Generator[Any, Any, None]:
    yield event_from_awaitable(world.sim, host.start(world.sim.loop))


def build_access(world: World) -> None:
    """IMAP and POP3 on hosts with the aa role (see :mod:`mailsim.scenario.access`)."""
    from mailsim.scenario.access import build_access_agents

    build_access_agents(world)


def build_messages(world: World) -> None:
    """Scripted messages: each is sent by a user agent at its time."""
    transcripts = trace_sink(world.sim) if world.fidelity == "wire" else None
    for index, message in enumerate(world.spec.messages):
        world.sim.env.process(_send(world, index, message, transcripts))


def _send(world: World, index: int, message: MessageSpec, transcripts: Any) -> Generator[Any, Any, None]:
    yield world.sim.env.timeout(message.at)
    client, server = _endpoints(world, index, message)
    if message.via == "sendmail":
        host = world.hosts[server.name]
        content = UserAgent(world.sim, server.name, message.sender).compose(_submission(world, message),
                                                                          domain=host.main.get("myorigin"))  # fmt: skip
        host.sendmail(message.sender, message.to, content)
        return
    agent = UserAgent(world.sim, client.name, message.sender, tls_context=world.tls.client_context() if world.tls else None,
                      transcripts=transcripts)  # fmt: skip
    coro = agent.send(_submission(world, message), server.addresses[0], server_name=server.name)
    yield event_from_awaitable(world.sim, coro)


def _submission(world: World, message: MessageSpec) -> Submission:
    user = next((u for u in world.spec.users if u.address == (message.user or message.sender)), None)
    body = message.body or f"Message {message.subject or ''} from {message.sender}.\n"
    if message.size and len(body) < message.size:
        line = "The quick brown fox jumps over the lazy dog. " * 2 + "\n"
        body += line * ((message.size - len(body)) // len(line) + 1)
    return Submission(message.sender, message.to, message.subject, body, message.via,
                      message.user or (user.address if user else None), user.password if user else None,
                      bare=message.headers == "bare")  # fmt: skip


def _endpoints(world: World, index: int, message: MessageSpec) -> tuple[HostSpec, HostSpec]:
    spec = world.spec
    where = f"messages[{index}]"
    user = next((u for u in spec.users if u.address == message.sender), None)
    client_name = message.client or (user.host if user else None)
    server_name = message.server or _msa_for(world, message.sender)
    if server_name is None:
        raise ScenarioError(key=f"{where}.server", expected="a host with role msa or mta to send through", found=None)
    if client_name is None:
        client_name = server_name
    return spec.host(client_name), spec.host(server_name)


def _msa_for(world: World, sender: str) -> str | None:
    domain = sender.rpartition("@")[2].lower()
    hosts = [h for h in world.spec.hosts if {"msa", "mta"} & set(h.roles)]
    for host in hosts:
        if host.name.lower() == domain or host.name.lower().endswith("." + domain):
            return host.name
    return hosts[0].name if hosts else None


ROLE_BUILDERS = (
    add_workload_users,
    build_mail_hosts,
    build_access,
    publish_dkim_keys,
    build_resources,
    build_messages,
    build_workload,
    build_reads,
)
