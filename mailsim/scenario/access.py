"""Access agents on hosts with the ``aa`` role: POP3 on 110 and IMAP on 143 over the host's mailboxes.

The mailbox of a user is where local(8) puts it: ``$home/$home_mailbox`` when home_mailbox is set
(Maildir when it ends in ``/``), else ``$mail_spool_directory/USER``. Logins are the scenario's users
of the host (the address or its local part) with their passwords. The same server objects serve
the simulated network and, in ``mailsim serve``, real loopback sockets.

Parameters: home_mailbox, mail_spool_directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any

from mailsim.aa.access import emitter
from mailsim.aa.imap import ImapServer
from mailsim.aa.pop3 import Pop3Server
from mailsim.engine.bridge import event_from_awaitable
from mailsim.engine.simloop import host_context
from mailsim.mta.master import MailHost
from mailsim.scenario.world import World

PORTS = {"pop3": 110, "imap": 143}


def mailbox_path(host: MailHost, user: str) -> str:
    """The path (relative to the host's files) of a user's mailbox, as local(8) would write it."""
    home_mailbox = host.main.get("home_mailbox")
    if home_mailbox:
        home = host.passwd[user].home if user in host.passwd else f"/home/{user}"
        return f"{home.rstrip('/')}/{home_mailbox}"
    return f"{host.main.get('mail_spool_directory').rstrip('/')}/{user}"


def credentials(host: MailHost, world: World) -> dict[str, str]:
    """Login name -> password for the host's users (both ``bob`` and ``bob@example.net`` work)."""
    found: dict[str, str] = {}
    for user in world.spec.users:
        local = user.address.partition("@")[0].lower()
        if user.password and local in host.passwd:
            found[user.address] = user.password
            found[local] = user.password
    return found


def access_servers(host: MailHost, world: World) -> dict[str, Any]:
    """The POP3 and IMAP servers of one host (built once, kept on the host)."""
    def mailboxes(user: str) -> Any:
        return host.stores.open(mailbox_path(host, user.partition("@")[0].lower()))

    hostname, logins = host.main.get("myhostname"), credentials(host, world)
    return {
        "pop3": Pop3Server(hostname=hostname, credentials=logins, mailboxes=mailboxes,
                           emit=emitter(world.sim, host.name, "pop3")),
        "imap": ImapServer(hostname=hostname, credentials=logins, mailboxes=mailboxes,
                           emit=emitter(world.sim, host.name, "imap")),
    }  # fmt: skip


def stream_factory(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]) -> Callable[[], Any]:
    """A protocol factory for a streams handler (what asyncio.start_server builds), for live serving."""

    def factory() -> asyncio.StreamReaderProtocol:
        reader = asyncio.StreamReader()
        return asyncio.StreamReaderProtocol(reader, handler)

    return factory


def build_access_agents(world: World) -> None:
    """POP3 and IMAP listeners on every host with the aa role, started at time zero."""
    for spec in world.spec.hosts:
        host = world.hosts.get(spec.name)
        if host is None or "aa" not in spec.roles:
            continue
        host.access = access_servers(host, world)
        world.sim.env.process(_listen(world, host))


def _listen(world: World, host: MailHost) -> Generator[Any, Any, None]:
    async def start() -> None:
        with host_context(host.name):
            for name, server in host.access.items():
                await server.start(None, PORTS[name])
                world.sim.trace.emit(host.name, "master", "listen", name=name, port=PORTS[name])

    yield event_from_awaitable(world.sim, start())
