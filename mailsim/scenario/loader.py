"""Reading a scenario folder: TOML syntax, schema, cross-references, and the files it names.

Every problem becomes a :class:`ScenarioError` ``FILE:LINE: key.path: expected X, found Y``; all
problems of a file are collected and raised together as :class:`ScenarioErrors`, so a user fixes
them in one pass. Nothing here raises a bare exception for a user's mistake.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mailsim.core.errors import MailsimError, ScenarioError
from mailsim.mta.hardware import HardwareSpec
from mailsim.scenario.locate import key_lines, line_of
from mailsim.scenario.schema import Problem
from mailsim.scenario.spec import (
    SCHEMA,
    DnsSpec,
    FaultSpec,
    HostSpec,
    LinkSpec,
    MessageSpec,
    OutputSpec,
    ReadSpec,
    RecordSpec,
    ScenarioSpec,
    UserSpec,
    WorkloadSpec,
)
from mailsim.ua.arrivals import Burst

SCENARIO_FILE = "scenario.toml"
_TOML_POSITION = re.compile(r"^(?P<what>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")


class ScenarioErrors(MailsimError):
    """Several problems in one scenario; ``str()`` gives one line each."""

    def __init__(self, errors: Iterable[ScenarioError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


def scenario_file(path: str | Path) -> Path:
    """The scenario.toml for a folder or file argument (the folder form is the usual one)."""
    path = Path(path)
    candidate = path / SCENARIO_FILE if path.is_dir() else path
    if not candidate.is_file():
        raise ScenarioError(
            file=str(candidate), expected=f"a scenario folder holding {SCENARIO_FILE}", found="no such file"
        )
    return candidate


def read_toml(file: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Parsed TOML and the line of every key; syntax errors name the line tomllib found."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read: {exc}", file=str(file)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.match(str(exc))
        line = int(match.group("line")) if match else None
        what = match.group("what") if match else str(exc)
        lines = text.splitlines()
        found = repr(lines[line - 1].strip()) if line is not None and 0 < line <= len(lines) else "see above"
        raise ScenarioError(
            f"TOML syntax error: {what}", file=str(file), line=line, expected="valid TOML", found=found
        ) from None
    return data, key_lines(text)


def load(path: str | Path, *, edit: Callable[[dict[str, Any]], None] | None = None) -> ScenarioSpec:
    """A validated scenario from its folder; raises :class:`ScenarioErrors` listing every problem.

    ``edit`` may change the parsed TOML before it is validated (sweeps set keys this way).
    """
    file = scenario_file(path)
    data, lines = read_toml(file)
    if edit is not None:
        edit(data)
    problems: list[Problem] = []
    raw = SCHEMA.validate(data, "", problems)
    if problems or raw is None:
        raise ScenarioErrors(_errors(file, lines, problems))
    spec = _build(file.parent, raw, lines)
    problems = list(_cross_check(spec))
    if problems:
        raise ScenarioErrors(_errors(file, lines, problems))
    return spec


def _errors(file: Path, lines: dict[str, int], problems: list[Problem]) -> list[ScenarioError]:
    def render(found: Any) -> str:
        return "nothing" if found == "nothing" else repr(found)

    return [
        ScenarioError(
            file=str(file), line=line_of(lines, p.path), key=p.path, expected=p.expected, found=render(p.found)
        )
        for p in problems
    ]


def _build(folder: Path, raw: dict[str, Any], lines: dict[str, int]) -> ScenarioSpec:
    dns = raw["dns"] or {"zones": (), "records": (), "server": None, "latency": 0.0, "auto_hosts": True}
    return ScenarioSpec(
        name=raw["name"] or folder.resolve().name,
        folder=folder,
        description=raw["description"],
        seed=raw["seed"],
        until=raw["until"],
        fidelity=raw["fidelity"],
        epoch=raw["epoch"],
        hosts=tuple(_host(folder, h, lines.get(f"hosts[{i}]")) for i, h in enumerate(raw["hosts"])),
        routers=tuple(r["name"] for r in raw["routers"]),
        links=tuple(LinkSpec(**link) for link in raw["links"]),
        dns=DnsSpec(
            zones=tuple(folder / z for z in dns["zones"]),
            records=tuple(RecordSpec(**r) for r in dns["records"]),
            server=dns["server"],
            latency=dns["latency"],
            auto_hosts=dns["auto_hosts"],
        ),
        users=tuple(UserSpec(**u) for u in raw["users"]),
        messages=tuple(_message(m) for m in raw["messages"]),
        workload=tuple(_workload(folder, w) for w in raw["workload"]),
        faults=tuple(FaultSpec(**f) for f in raw["faults"]),
        outputs=OutputSpec(**raw["outputs"]) if raw["outputs"] else OutputSpec(),
        reads=tuple(ReadSpec(**r) for r in raw["reads"]),
    )


def _host(folder: Path, h: dict[str, Any], line: int | None) -> HostSpec:
    config = folder / h["config"] if h["config"] else None
    return HostSpec(h["name"], h["addresses"], h["roles"], config, h["resolver"], h["live"], h["cpus"], line,
                    h["service_time"], _hardware(h))  # fmt: skip


def _hardware(h: dict[str, Any]) -> HardwareSpec | None:
    """A host's machine; its cores default to the host's ``cpus``."""
    hw = h["hardware"]
    if hw is None:
        return None
    costs = tuple((name, cost) for name, cost in (hw["cpu"] or {}).items() if cost is not None)
    return HardwareSpec(hw["cores"] or h["cpus"], hw["fsync"], costs, hw["sample"])


def _message(m: dict[str, Any]) -> MessageSpec:
    return MessageSpec(
        m["at"],
        m["from"],
        m["to"],
        m["subject"],
        m["body"],
        m["size"],
        m["via"],
        m["client"],
        m["server"],
        m["user"],
        m["headers"],
    )


def _workload(folder: Path, w: dict[str, Any]) -> WorkloadSpec:
    return WorkloadSpec(
        kind=w["kind"],
        senders=w["from"],
        recipients=w["to"],
        rate=w["rate"],
        size=w["size"],
        start=w["start"],
        stop=w["stop"],
        via=w["via"],
        profile=w["profile"],
        bursts=tuple(Burst(**b) for b in w["bursts"]),
        rcpts=w["rcpts"],
        population=w["population"],
        unknown=w["unknown"],
        members=w["members"],
        file=folder / w["file"] if w["file"] else None,
        lenient=w["lenient"],
        log_host=w["log_host"],
        limit=w["limit"],
        client=w["client"],
        server=w["server"],
        user=w["user"],
    )


def _cross_check(spec: ScenarioSpec) -> Iterable[Problem]:
    """References between parts: names exist, addresses are unique, files are there."""
    seen: dict[str, str] = {}
    nodes = set(spec.routers)
    for i, host in enumerate(spec.hosts):
        if host.name in nodes:
            yield Problem(f"hosts[{i}].name", "a name not used by another host or router", host.name)
        nodes.add(host.name)
        for j, address in enumerate(host.addresses):
            if address in seen:
                yield Problem(f"hosts[{i}].addresses[{j}]", f"an address not already used by {seen[address]}", address)
            seen[address] = host.name
        if host.hardware is not None and host.hardware.cores < 1:  # cores came from cpus
            yield Problem(f"hosts[{i}].cpus", "at least 1 core for the host's hardware", host.cpus)
        if host.config is not None and not host.config.is_dir():
            yield Problem(f"hosts[{i}].config", "an existing folder with the host's Postfix files", str(host.config))
    hosts = {h.name for h in spec.hosts}
    for i, link in enumerate(spec.links):
        for end in ("a", "b"):
            if getattr(link, end) not in nodes:
                yield Problem(f"links[{i}].{end}", "the name of a host or router", getattr(link, end))
    for i, zone in enumerate(spec.dns.zones):
        if not zone.is_file():
            yield Problem(f"dns.zones[{i}]", "an existing zone file", str(zone))
    if spec.dns.server is not None and spec.dns.server not in hosts:
        yield Problem("dns.server", "the name of a host", spec.dns.server)
    yield from _check_people(spec, hosts)
    yield from _check_faults(spec, hosts, nodes)
    yield from _check_workload(spec, hosts)
    yield from _check_reads(spec, hosts)


def _check_people(spec: ScenarioSpec, hosts: set[str]) -> Iterable[Problem]:
    for i, host in enumerate(spec.hosts):
        if host.resolver is not None and host.resolver not in hosts:
            yield Problem(f"hosts[{i}].resolver", "the name of a host", host.resolver)
    for i, user in enumerate(spec.users):
        if "@" not in user.address:
            yield Problem(f"users[{i}].address", "an address like alice@example.org", user.address)
        if user.host is not None and user.host not in hosts:
            yield Problem(f"users[{i}].host", "the name of a host", user.host)
    for i, message in enumerate(spec.messages):
        for key in ("client", "server"):
            value = getattr(message, key)
            if value is not None and value not in hosts:
                yield Problem(f"messages[{i}].{key}", "the name of a host", value)
        if not message.to:
            yield Problem(f"messages[{i}].to", "at least one recipient", [])


def _check_faults(spec: ScenarioSpec, hosts: set[str], nodes: set[str]) -> Iterable[Problem]:
    pairs = {frozenset((link.a, link.b)) for link in spec.links}
    for i, fault in enumerate(spec.faults):
        where = f"faults[{i}]"
        if fault.until is not None and fault.until <= fault.at:
            yield Problem(f"{where}.until", f"a time after at ({fault.at:g}s)", fault.until)
        if fault.kind == "host-down" and fault.host not in hosts:
            yield Problem(f"{where}.host", "the name of a host", fault.host)
        if fault.kind == "link-down" and (fault.link is None or frozenset(fault.link) not in pairs):
            yield Problem(f"{where}.link", "[A, B] naming a link of the scenario", fault.link)
        if fault.kind.startswith("dns-") and not fault.name:
            yield Problem(f"{where}.name", "a DNS name or *.suffix", fault.name)


def _check_workload(spec: ScenarioSpec, hosts: set[str]) -> Iterable[Problem]:
    """What each arrival process needs (mailsim.ua.workload reads the replay files when the world is built)."""
    for i, w in enumerate(spec.workload):
        where = f"workload[{i}]"
        generated = w.kind in ("poisson", "diurnal")
        if generated and not (w.rate is not None and w.rate >= 0) and not w.bursts:
            yield Problem(f"{where}.rate", f'a rate like "120/h" ({w.kind} arrivals)', w.rate)
        if w.kind == "diurnal" and not w.profile:
            yield Problem(f"{where}.profile", "24 hourly weights (diurnal arrivals)", "nothing")
        if not generated and (w.file is None or not w.file.is_file()):
            yield Problem(f"{where}.file", f"an existing {w.kind} file to replay", str(w.file) if w.file else "nothing")
        if w.kind != "maillog" and w.kind != "csv" and not w.senders:
            yield Problem(f"{where}.from", "senders: addresses or domains", "nothing")
        if w.kind != "csv" and not w.recipients:
            yield Problem(f"{where}.to", "recipients: addresses or domains", "nothing")
        for key in ("population", "members"):
            if getattr(w, key) < (1 if key == "population" else 0):
                yield Problem(
                    f"{where}.{key}", "a positive number" if key == "population" else "0 or more", getattr(w, key)
                )
        for j, burst in enumerate(w.bursts):
            if burst.until <= burst.at:
                yield Problem(f"{where}.bursts[{j}].until", f"a time after at ({burst.at:g}s)", burst.until)
        for key in ("client", "server"):
            if getattr(w, key) is not None and getattr(w, key) not in hosts:
                yield Problem(f"{where}.{key}", "the name of a host", getattr(w, key))


def _check_reads(spec: ScenarioSpec, hosts: set[str]) -> Iterable[Problem]:
    """[[reads]]: a user with a password, hosts that exist, an access agent to read from (mailsim-ua-reader)."""
    users = {u.address: u for u in spec.users}
    roles = {h.name: set(h.roles) for h in spec.hosts}
    for i, read in enumerate(spec.reads):
        where = f"reads[{i}]"
        user = users.get(read.user)
        if user is None or not user.password:
            yield Problem(f"{where}.user", "the address of a [[users]] entry that has a password", read.user)
        for key in ("host", "server", "msa"):
            value = getattr(read, key)
            if value is not None and value not in hosts:
                yield Problem(f"{where}.{key}", "the name of a host", value)
        if read.server is not None and read.server in hosts and "aa" not in roles[read.server]:
            yield Problem(f"{where}.server", "a host with role aa (IMAP and POP3)", read.server)
        if read.server is None and not any("aa" in r for r in roles.values()):
            yield Problem(f"{where}.server", "a host with role aa to read from", "none in the scenario")
        answers = read.reply is not None or bool(read.forward)
        if answers and read.msa is None and not any("msa" in r for r in roles.values()):
            yield Problem(f"{where}.msa", "a host with role msa to send replies and forwards through", "none")
