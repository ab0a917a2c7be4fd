"""What a scenario describes: hosts, links, DNS, users, scripted messages, workload, faults (DESIGN.md §6).

The TOML schema (``SCHEMA``) and the frozen records it produces live side by side so a key and the
field it fills are read together. Durations are seconds, bandwidths bytes per second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailsim.scenario.schema import (
    ADDRESS,
    BANDWIDTH,
    BOOLEAN,
    DURATION,
    INTEGER,
    RATE,
    SIZE,
    STRING,
    STRINGS,
    Field,
    ListOf,
    Table,
    list_of,
    one_of,
    probability,
    window,
)

ROLES = ("ua", "msa", "mta", "da", "aa", "dns")
FAULT_KINDS = ("host-down", "link-down", "dns-nxdomain", "dns-servfail", "dns-timeout")

HOST = Table(
    {
        "name": Field(STRING, "the host's fully qualified name", required=True),
        "addresses": Field(list_of(ADDRESS, "a list of IP addresses"), "IPv4/IPv6 addresses", required=True),
        "roles": Field(list_of(one_of(*ROLES), "a list of roles"), "what runs there: " + ", ".join(ROLES), default=()),
        "config": Field(STRING, "folder with main.cf, master.cf, aliases, tables (relative to the scenario)"),
        "resolver": Field(STRING, "host whose DNS service this host queries (default: dns.server)"),
        "live": Field(STRING, "HOST:PORT of a real server standing in for this host"),
        "cpus": Field(INTEGER, "CPU cores (capacity model)", default=2),
    }
)
ROUTER = Table({"name": Field(STRING, "the router's name", required=True)})
LINK = Table(
    {
        "a": Field(STRING, "a host or router", required=True),
        "b": Field(STRING, "a host or router", required=True),
        "latency": Field(DURATION, "one-way latency", default=0.001),
        "bandwidth": Field(BANDWIDTH, "capacity in each direction", default=125_000_000.0),
        "loss": Field(probability, "packet loss probability", default=0.0),
        "down": Field(list_of(window, "a list of windows"), "outage windows", default=()),
    }
)
RECORD = Table(
    {
        "name": Field(STRING, "owner name", required=True),
        "type": Field(one_of("A", "AAAA", "MX", "TXT", "CNAME", "PTR", "NS"), "record type", required=True),
        "value": Field(STRING, "record data in zone-file syntax", required=True),
        "ttl": Field(INTEGER, "time to live in seconds", default=300),
    }
)
DNS = Table(
    {
        "zones": Field(STRINGS, "zone files (relative to the scenario)", default=()),
        "records": Field(ListOf(RECORD), "records given inline", default=()),
        "server": Field(STRING, "host that answers queries; latency is the round trip to it"),
        "latency": Field(DURATION, "query time when no server host is named", default=0.0),
        "auto_hosts": Field(BOOLEAN, "publish A/AAAA and PTR records for every host", default=True),
    }
)
USER = Table(
    {
        "address": Field(STRING, "the user's mail address", required=True),
        "password": Field(STRING, "SASL password for submission and IMAP/POP3", default=""),
        "host": Field(STRING, "host where the user's agent runs"),
    }
)
MESSAGE = Table(
    {
        "at": Field(DURATION, "when the user agent sends it", default=0.0),
        "from": Field(STRING, "envelope sender and From header", required=True),
        "to": Field(STRINGS, "recipients", required=True),
        "subject": Field(STRING, "Subject header", default=""),
        "body": Field(STRING, "text body", default=""),
        "size": Field(SIZE, "pad the body to about this many bytes", default=0),
        "via": Field(one_of("submission", "smtp", "sendmail"), "how it enters the mail system", default="submission"),
        "client": Field(STRING, "host that sends it (default: the sender's user host)"),
        "server": Field(STRING, "host it is handed to (default: the sender domain's MSA)"),
        "user": Field(STRING, "SASL login (default: the sender address when it is a user)"),
        "headers": Field(one_of("full", "bare"), "bare: no Date, no Message-ID, unqualified From (the MSA grooms)",
                         default="full"),  # fmt: skip
    }
)
WORKLOAD = Table(
    {
        "kind": Field(one_of("poisson"), "arrival process", default="poisson"),
        "from": Field(STRINGS, "sender addresses drawn uniformly", required=True),
        "to": Field(STRINGS, "recipient addresses drawn uniformly", required=True),
        "rate": Field(RATE, "mean arrival rate", required=True),
        "size": Field(SIZE, "body size", default=2048),
        "start": Field(DURATION, "first possible arrival", default=0.0),
        "stop": Field(DURATION, "no arrivals after this time"),
        "via": Field(one_of("submission", "smtp", "sendmail"), "entry point", default="submission"),
    }
)
FAULT = Table(
    {
        "kind": Field(one_of(*FAULT_KINDS), "what fails", required=True),
        "at": Field(DURATION, "start of the fault", required=True),
        "until": Field(DURATION, "end of the fault (default: end of run)"),
        "host": Field(STRING, "host (host-down)"),
        "link": Field(STRINGS, "[A, B] endpoints (link-down)"),
        "name": Field(STRING, "DNS name or *.suffix (dns-*)"),
        "type": Field(STRING, "DNS record type (dns-*; default: all)"),
    }
)
OUTPUTS = Table(
    {
        "format": Field(one_of("parquet", "csv"), "frame file format", default="parquet"),
        "plots": Field(BOOLEAN, "draw the standard figures", default=True),
        "maillog": Field(BOOLEAN, "write a Postfix-format maillog", default=True),
    }
)
SCHEMA = Table(
    {
        "name": Field(STRING, "scenario name (default: folder name)"),
        "description": Field(STRING, "what it shows", default=""),
        "seed": Field(INTEGER, "seed of every random stream", default=0),
        "until": Field(DURATION, "virtual time to run", default=3600.0),
        "fidelity": Field(
            one_of("wire", "fast"), "wire: real SMTP engine and bytes; fast: charged round trips", default="wire"
        ),
        "epoch": Field(STRING, "calendar time of t=0 (ISO 8601)", default="2026-01-05T09:00:00+00:00"),
        "hosts": Field(ListOf(HOST), "the machines", required=True),
        "routers": Field(ListOf(ROUTER), "routers between links", default=()),
        "links": Field(ListOf(LINK), "network links", default=()),
        "dns": Field(DNS, "DNS data and resolver model", default=None),
        "users": Field(ListOf(USER), "mail users", default=()),
        "messages": Field(ListOf(MESSAGE), "scripted messages", default=()),
        "workload": Field(ListOf(WORKLOAD), "generated traffic", default=()),
        "faults": Field(ListOf(FAULT), "injected failures", default=()),
        "outputs": Field(OUTPUTS, "what a run writes", default=None),
    }
)


@dataclass(frozen=True, slots=True)
class HostSpec:
    name: str
    addresses: tuple[str, ...]
    roles: tuple[str, ...]
    config: Path | None
    resolver: str | None
    live: str | None
    cpus: int
    line: int | None = None


@dataclass(frozen=True, slots=True)
class LinkSpec:
    a: str
    b: str
    latency: float
    bandwidth: float
    loss: float
    down: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class RecordSpec:
    name: str
    type: str
    value: str
    ttl: int


@dataclass(frozen=True, slots=True)
class DnsSpec:
    zones: tuple[Path, ...]
    records: tuple[RecordSpec, ...]
    server: str | None
    latency: float
    auto_hosts: bool


@dataclass(frozen=True, slots=True)
class UserSpec:
    address: str
    password: str
    host: str | None


@dataclass(frozen=True, slots=True)
class MessageSpec:
    at: float
    sender: str
    to: tuple[str, ...]
    subject: str
    body: str
    size: int
    via: str
    client: str | None
    server: str | None
    user: str | None
    headers: str = "full"


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    kind: str
    senders: tuple[str, ...]
    recipients: tuple[str, ...]
    rate: float
    size: int
    start: float
    stop: float | None
    via: str


@dataclass(frozen=True, slots=True)
class FaultSpec:
    kind: str
    at: float
    until: float | None
    host: str | None
    link: tuple[str, ...] | None
    name: str | None
    type: str | None


@dataclass(frozen=True, slots=True)
class OutputSpec:
    format: str = "parquet"
    plots: bool = True
    maillog: bool = True


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """A validated scenario: every reference checked, every quantity converted."""

    name: str
    folder: Path
    description: str
    seed: int
    until: float
    fidelity: str
    epoch: str
    hosts: tuple[HostSpec, ...]
    routers: tuple[str, ...]
    links: tuple[LinkSpec, ...]
    dns: DnsSpec
    users: tuple[UserSpec, ...]
    messages: tuple[MessageSpec, ...]
    workload: tuple[WorkloadSpec, ...]
    faults: tuple[FaultSpec, ...]
    outputs: OutputSpec

    def host(self, name: str) -> HostSpec:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)
