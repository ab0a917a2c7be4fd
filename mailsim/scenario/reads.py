"""``[[reads]]``: user agents that read a mailbox over IMAP or POP3 at scripted times, then reply or forward.

The seed's last two arrows, AA → UA: each entry becomes a simpy process that waits until ``at`` and runs one
:class:`~mailsim.ua.reader.MailReader` session from the client machine to the access agent, logging in as
the user with the password of the ``[[users]]`` table. IMAP reads the unseen messages one at a time and,
with ``mark_read``, sets ``\\Seen``; POP3 downloads everything and, with ``delete``, empties the maildrop.
Replies and forwards of what was read (only messages whose Subject contains ``matching``, when given) go
back into the mail system as any message a user writes: port 587 of the MSA, STARTTLS, AUTH with the
user's credentials (:class:`~mailsim.ua.submit.UserAgent`). A session that fails (a wrong password, a host
that is down) is a ``ua read`` record with ``outcome = "failed"``; the run goes on.

Defaults: the client is the user's host, else the first host with role ua; the access agent and the MSA
are the hosts with role aa and msa whose names are in the user's domain, else the first such host.
Postfix parameters read: none.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

from mailsim.engine.bridge import event_from_awaitable
from mailsim.engine.transcript import trace_sink
from mailsim.scenario.spec import HostSpec, ReadSpec, UserSpec
from mailsim.scenario.world import World
from mailsim.ua.dialogue import AccessError
from mailsim.ua.reader import MailReader, ReadPlan, ReadResult, compose_forward, compose_reply, is_automatic
from mailsim.ua.submit import Submission, UserAgent


def build_reads(world: World) -> None:
    """One reading process per ``[[reads]]`` entry."""
    for read in world.spec.reads:
        world.sim.env.process(_read(world, read))


def serving_host(world: World, role: str, address: str) -> HostSpec | None:
    """The host with ``role`` for an address's domain: named in the domain, else the first with the role."""
    domain = address.rpartition("@")[2].lower()
    hosts = [h for h in world.spec.hosts if role in h.roles]
    for host in hosts:
        if host.name.lower() == domain or host.name.lower().endswith("." + domain):
            return host
    return hosts[0] if hosts else None


def _client(world: World, read: ReadSpec, user: UserSpec, server: HostSpec) -> str:
    if read.host is not None:
        return read.host
    if user.host is not None:
        return user.host
    return next((h.name for h in world.spec.hosts if "ua" in h.roles), server.name)


def _read(world: World, read: ReadSpec) -> Generator[Any, Any, None]:
    yield world.sim.env.timeout(read.at)
    user = next(u for u in world.spec.users if u.address == read.user)
    server = world.spec.host(read.server) if read.server else serving_host(world, "aa", user.address)
    assert server is not None  # the loader checked there is one
    client = _client(world, read, user, server)
    reader = MailReader(user.address, host=client, sim=world.sim)
    plan = ReadPlan(read.protocol, server.addresses[0], user.address, user.password, mark_read=read.mark_read,
                    delete=read.delete)  # fmt: skip
    try:
        result = yield event_from_awaitable(world.sim, reader.read(plan))
    except AccessError:
        return  # recorded by the reader as a failed read
    answers = list(_answers(read, user, result))
    if not answers:
        return
    msa = world.spec.host(read.msa) if read.msa else serving_host(world, "msa", user.address)
    assert msa is not None  # the loader checked there is one
    transcripts = trace_sink(world.sim) if world.fidelity == "wire" else None
    tls = world.tls.client_context() if world.tls is not None else None
    for submission in answers:
        agent = UserAgent(world.sim, client, user.address, tls_context=tls, transcripts=transcripts)
        yield event_from_awaitable(world.sim, agent.send(submission, msa.addresses[0], server_name=msa.name))


def _answers(read: ReadSpec, user: UserSpec, result: ReadResult) -> Iterator[Submission]:
    """The replies and forwards of the messages read, in the order they were read."""
    for fetched in result.fetched:
        if read.matching is not None and read.matching.casefold() not in fetched.summary.subject.casefold():
            continue
        if read.reply is not None and not is_automatic(fetched.content):
            yield compose_reply(fetched.content, user.address, read.reply, password=user.password)
        if read.forward:
            yield compose_forward(fetched.content, user.address, read.forward, password=user.password)
