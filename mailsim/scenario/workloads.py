"""Putting ``[[workload]]`` entries into a world: user populations, replay files, and the routes mail takes in.

Two role builders (see :data:`mailsim.scenario.roles.ROLE_BUILDERS`):

- :func:`add_workload_users` runs before the mail hosts are built: every domain named in a workload's
  ``from``/``to`` gets ``population`` users (``user1@domain`` ...), added to the scenario's users so the
  hosts that have the domain in mydestination know them (getpwnam, local_recipient_maps).
- :func:`build_workload` runs after: each entry becomes a :class:`~mailsim.ua.workload.WorkloadAgent`,
  its replay file read now (errors name ``FILE:LINE``; lenient skips are counted in the warnings
  and in a ``workload``/``replay`` trace record).

A sender's route: the server is the entry's ``server``, else the MSA of the sender's domain (a host with
role msa or mta whose name is the domain or ends in ``.domain``), else the first such host; the client is
the entry's ``client``, else the sender's user host, else the server itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from mailsim.core.errors import ScenarioError
from mailsim.scenario.spec import UserSpec, WorkloadSpec
from mailsim.scenario.world import World
from mailsim.ua.replay import Replay, read_csv, read_maillog
from mailsim.ua.workload import Route, WorkloadAgent

SENDING_ROLES = frozenset({"msa", "mta"})


def add_workload_users(world: World) -> None:
    """``population`` users for every domain a workload names (before the hosts read the user list)."""
    spec = world.spec
    known = {u.address.lower() for u in spec.users}
    extra: list[UserSpec] = []
    for w in spec.workload:
        for name in (*w.senders, *w.recipients):
            if "@" in name:
                continue
            for k in range(1, w.population + 1):
                address = f"user{k}@{name}"
                if address.lower() not in known:
                    known.add(address.lower())
                    extra.append(UserSpec(address, "", None))
    if extra:
        world.spec = replace(spec, users=spec.users + tuple(extra))


def build_workload(world: World) -> None:
    """A started WorkloadAgent per ``[[workload]]`` entry."""
    from mailsim.engine.transcript import trace_sink

    transcripts = trace_sink(world.sim) if world.fidelity == "wire" else None
    for index, w in enumerate(world.spec.workload):
        replay = _replay(world, index, w)
        agent = WorkloadAgent(world.sim, index, w, _router(world, index, w), replay=replay, transcripts=transcripts)
        world.agents.append(agent)
        agent.start()


def _replay(world: World, index: int, w: WorkloadSpec) -> Replay | None:
    if w.kind not in ("csv", "maillog") or w.file is None:
        return None
    if w.kind == "csv":
        replay = read_csv(w.file, lenient=w.lenient)
    else:
        replay = read_maillog(w.file, year=world.sim.epoch.year, lenient=w.lenient, host=w.log_host)
    where = f"workload[{index}]"
    for key, missing in (("from", lambda r: r.sender is None), ("to", lambda r: not r.recipients and not r.nrcpt)):
        names = w.senders if key == "from" else w.recipients
        if not names and any(missing(r) for r in replay.rows):
            raise ScenarioError(file=str(w.file), key=f"{where}.{key}",
                                expected=f"a '{key}' column in every row, or {key} in the workload", found="nothing")  # fmt: skip
    if replay.skipped:
        world.warnings.append(f"{w.file}: skipped {replay.skipped} bad or foreign line(s) (lenient)")
    world.sim.emit("-", "workload", "replay", file=str(w.file), rows=len(replay.rows), skipped=replay.skipped,
                   workload=index)  # fmt: skip
    return replay


def _router(world: World, index: int, w: WorkloadSpec) -> Callable[[str], Route]:
    """The route of each sender, worked out once per (sender domain, login)."""
    cache: dict[tuple[str, str | None], Route] = {}
    passwords = {u.address.lower(): u.password for u in world.spec.users if u.password}
    user_hosts = {u.address.lower(): u.host for u in world.spec.users if u.host}

    def route(sender: str) -> Route:
        login = w.user or (sender if sender.lower() in passwords else None)
        key = (sender.rpartition("@")[2].lower(), login)
        found = cache.get(key)
        if found is None:
            found = _route(world, index, w, sender, login, passwords, user_hosts.get(sender.lower()))
            cache[key] = found
        return found

    return route


def _route(
    world: World, index: int, w: WorkloadSpec, sender: str, login: str | None,
    passwords: dict[str, str], user_host: str | None,
) -> Route:  # fmt: skip
    where = f"workload[{index}]"
    server = w.server or _msa_for(world, sender)
    if server is None:
        raise ScenarioError(key=f"{where}.server", expected="a host with role msa or mta to send through", found=None)
    client = w.client or user_host or server
    host: Any = world.hosts.get(server)
    if w.via == "sendmail":
        if host is None:
            raise ScenarioError(key=f"{where}.server", expected="a mail host to run sendmail on", found=server)
        return Route(client, server, "", host.main.get("myorigin"), pickup=host.submit)
    if w.via == "submission" and login is None:
        raise ScenarioError(key=f"{where}.user", expected="a scenario user with a password (submission needs AUTH)",
                            found=sender)  # fmt: skip
    origin = sender.rpartition("@")[2] or server
    tls = world.tls.client_context() if w.via == "submission" and world.tls is not None else None
    password = passwords.get(login.lower()) if login else None
    return Route(client, server, world.spec.host(server).addresses[0], origin, None, tls, login, password)


def _msa_for(world: World, sender: str) -> str | None:
    domain = sender.rpartition("@")[2].lower()
    hosts = [h for h in world.spec.hosts if SENDING_ROLES & set(h.roles)]
    for host in hosts:
        if domain and (host.name.lower() == domain or host.name.lower().endswith("." + domain)):
            return host.name
    return hosts[0].name if hosts else None
