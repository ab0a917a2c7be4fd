"""What a scenario describes: hosts, links, DNS, users, scripted messages, workload, faults (DESIGN.md §6).

The TOML schema (``SCHEMA``) and the frozen records it produces live side by side so a key and the
field it fills are read together. Durations are seconds, bandwidths bytes per second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailsim.core.units import parse_duration, parse_size
from mailsim.mta.hardware import DAEMONS, DEFAULT_FSYNC, DEFAULT_SAMPLE, Cost, HardwareSpec, parse_cost
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
    Invalid,
    ListOf,
    Table,
    list_of,
    one_of,
    probability,
    window,
)
from mailsim.ua.arrivals import Burst, Distribution, fixed, hourly_profile, parse_distribution


def _names(value: Any) -> tuple[str, ...]:
    """One name or a list of names (addresses or domains)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
        raise Invalid("an address or domain, or a list of them")
    return tuple(items)


def _distribution(quantity: Callable[[Any], float]) -> Callable[[Any], Distribution]:
    def convert(value: Any) -> Distribution:
        try:
            return parse_distribution(value, quantity)
        except ValueError as exc:
            raise Invalid(str(exc)) from None

    return convert


def _hourly(value: Any) -> tuple[float, ...]:
    try:
        return hourly_profile(value if isinstance(value, list) else ())
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _service_times(value: Any) -> tuple[tuple[str, Distribution], ...]:
    if not isinstance(value, dict):
        raise Invalid('a table of transport = duration distribution, like { smtp = "exponential(50ms)" }')
    durations = _distribution(parse_duration)
    return tuple((str(name), durations(spec)) for name, spec in value.items())


def _cores(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid("a whole number of cores, at least 1")
    return value


def _cost(value: Any) -> Cost:
    try:
        return parse_cost(value)
    except ValueError:
        raise Invalid('a CPU cost like "300us + 10us/KB" (per message + per KB)') from None


NAMES = _names
SIZES = _distribution(parse_size)
COUNTS = _distribution(float)
HOURLY = _hourly
SERVICE_TIMES = _service_times

ROLES = ("ua", "msa", "mta", "da", "aa", "dns")
FAULT_KINDS = ("host-down", "link-down", "dns-nxdomain", "dns-servfail", "dns-timeout")

# -- [[hosts]] hardware: CPU cores and disk (mailsim.mta.hardware) --
CPU_COSTS = Table({name: Field(_cost, f"CPU cost of one {name} job (default in mailsim.mta.hardware)")
                   for name in DAEMONS})  # fmt: skip
HARDWARE = Table(
    {
        "cores": Field(_cores, "CPU cores, a FIFO c-server queue (default: the host's cpus)"),
        "fsync": Field(DURATION, "one fsync of a queue file on the host's disk", default=DEFAULT_FSYNC),
        "cpu": Field(CPU_COSTS, "CPU cost per daemon: per message + per KB", default=None),
        "sample": Field(DURATION, "utilisation sample period (0: no samples)", default=DEFAULT_SAMPLE),
    }
)
HOST = Table(
    {
        "name": Field(STRING, "the host's fully qualified name", required=True),
        "addresses": Field(list_of(ADDRESS, "a list of IP addresses"), "IPv4/IPv6 addresses", required=True),
        "roles": Field(list_of(one_of(*ROLES), "a list of roles"), "what runs there: " + ", ".join(ROLES), default=()),
        "config": Field(STRING, "folder with main.cf, master.cf, aliases, tables (relative to the scenario)"),
        "resolver": Field(STRING, "host whose DNS service this host queries (default: dns.server)"),
        "live": Field(STRING, "HOST:PORT of a real server standing in for this host"),
        "cpus": Field(INTEGER, "CPU cores (capacity model)", default=2),
        "service_time": Field(
            SERVICE_TIMES, "resource model: transport = time one delivery holds a process (mailsim.scenario.resources)",
            default=(),
        ),
        "hardware": Field(HARDWARE, "CPU cores and disk; without it the host costs nothing (mailsim.mta.hardware)"),
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
# -- [[reads]]: a user agent reads a mailbox over IMAP or POP3 (mailsim.scenario.reads) -- mailsim-ua-reader
READ = Table(
    {
        "at": Field(DURATION, "when the user agent connects", default=0.0),
        "user": Field(
            STRING, "the scenario user whose mailbox is read (logs in with the user's password)", required=True
        ),
        "host": Field(STRING, "client machine (default: the user's host, else the first host with role ua)"),
        "server": Field(STRING, "access agent host (default: the aa host of the user's domain)"),
        "protocol": Field(one_of("imap", "pop3"), "imap: one message at a time; pop3: all at once", default="imap"),
        "mark_read": Field(
            BOOLEAN, "imap: set \\Seen on each message read (pop3: the server does at QUIT)", default=True
        ),
        "delete": Field(
            BOOLEAN, "delete what was read (pop3: download-and-delete; imap: \\Deleted + EXPUNGE)", default=False
        ),
        "reply": Field(STRING, "text of a reply sent to each message read (not to automatic mail, RFC 3834)"),
        "forward": Field(STRINGS, "addresses each message read is forwarded to", default=()),
        "matching": Field(STRING, "reply/forward only messages whose Subject contains this (any case)"),
        "msa": Field(STRING, "host replies and forwards are submitted to (default: the MSA of the user's domain)"),
    }
)
WORKLOAD_KINDS = ("poisson", "diurnal", "csv", "maillog")
BURST = Table(
    {
        "at": Field(DURATION, "start of the burst", required=True),
        "until": Field(DURATION, "end of the burst", required=True),
        "rate": Field(RATE, "extra arrival rate while it lasts", required=True),
    }
)
WORKLOAD = Table(
    {
        "kind": Field(
            one_of(*WORKLOAD_KINDS), "arrival process (mailsim.ua.arrivals, mailsim.ua.replay)", default="poisson"
        ),
        "from": Field(NAMES, "senders: addresses, or domains whose `population` users send", default=()),
        "to": Field(NAMES, "recipients: addresses, or domains whose `population` users receive", default=()),
        "rate": Field(RATE, "mean arrival rate (poisson, diurnal: the daily mean)"),
        "profile": Field(HOURLY, "diurnal: 24 hourly weights from 00:00 of the wall clock", default=()),
        "bursts": Field(ListOf(BURST), "windows of extra arrivals", default=()),
        "size": Field(SIZES, "message size distribution", default=fixed(2048)),
        "rcpts": Field(COUNTS, "recipients per message (distribution)", default=fixed(1)),
        "population": Field(INTEGER, "users per domain named in from/to", default=100),
        "unknown": Field(probability, "share of recipients that are unknown users (bounces)", default=0.0),
        "members": Field(INTEGER, "mailing list: every message goes to this many members drawn from `to`", default=0),
        "file": Field(STRING, "csv or maillog file to replay (relative to the scenario)"),
        "lenient": Field(BOOLEAN, "skip bad rows and foreign lines (counted) instead of failing", default=False),
        "log_host": Field(STRING, "maillog: only lines logged by this syslog host name"),
        "start": Field(DURATION, "first possible arrival", default=0.0),
        "stop": Field(DURATION, "no arrivals after this time"),
        "limit": Field(INTEGER, "at most this many messages"),
        "via": Field(one_of("submission", "smtp", "sendmail"), "entry point", default="sendmail"),
        "client": Field(STRING, "host the messages are sent from (default: the server, or the sender's user host)"),
        "server": Field(STRING, "host they are handed to (default: the sender domain's MSA)"),
        "user": Field(STRING, "SASL login for submission (a scenario user; default: the sender when it is one)"),
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
        "reads": Field(ListOf(READ), "user agents reading mail over IMAP/POP3", default=()),
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
    service_time: tuple[tuple[str, Distribution], ...] = ()
    hardware: HardwareSpec | None = None


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
class ReadSpec:
    """A user agent reading a mailbox at a time, and what it does with what it read (the READ table)."""

    at: float
    user: str
    host: str | None = None
    server: str | None = None
    protocol: str = "imap"
    mark_read: bool = True
    delete: bool = False
    reply: str | None = None
    forward: tuple[str, ...] = ()
    matching: str | None = None
    msa: str | None = None


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """Generated traffic: an arrival process, who sends to whom, sizes, and where it enters."""

    kind: str
    senders: tuple[str, ...]
    recipients: tuple[str, ...]
    rate: float | None
    size: Distribution = fixed(2048)
    start: float = 0.0
    stop: float | None = None
    via: str = "sendmail"
    profile: tuple[float, ...] = ()
    bursts: tuple[Burst, ...] = ()
    rcpts: Distribution = fixed(1)
    population: int = 100
    unknown: float = 0.0
    members: int = 0
    file: Path | None = None
    lenient: bool = False
    log_host: str | None = None
    limit: int | None = None
    client: str | None = None
    server: str | None = None
    user: str | None = None


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
    reads: tuple[ReadSpec, ...] = ()

    def host(self, name: str) -> HostSpec:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)
