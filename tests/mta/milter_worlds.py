"""Small worlds and pure fixtures for the milter, filter and policy-service tests."""

from __future__ import annotations

import mailbox
import textwrap
from pathlib import Path

import numpy as np

from mailsim.dns import ZoneSet
from mailsim.mail.envelope import Envelope
from mailsim.mta.milters.base import DaemonContext, MilterMessage
from mailsim.mta.milters.conf import parse_daemon_conf
from mailsim.policy.auth.keys import KeyRing
from mailsim.scenario.loader import load
from mailsim.scenario.runner import RunResult, run_scenario
from mailsim.scenario.spec import ScenarioSpec

NOW = 1_767_603_600.0  # 2026-01-05T09:00:00Z
MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.net>\r\n"
    b"Subject: Lunch?\r\n"
    b"Date: Mon, 05 Jan 2026 09:00:00 +0000\r\n"
    b"Message-ID: <lunch.1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"Hi Bob,\r\nlunch at noon?\r\n"
)
SENDER_MAIN = """compatibility_level = 3.6
myhostname = mail.example.org
mydomain = example.org
myorigin = $mydomain
mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain
local_header_rewrite_clients = permit_inet_interfaces, permit_sasl_authenticated
"""
RECEIVER_MAIN = """compatibility_level = 3.6
myhostname = mx.example.net
mydomain = example.net
mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain
"""
ORG_ZONE = '$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns hm 1 7200 900 1209600 300\n@ IN MX 10 mail\n@ IN TXT "{spf}"\n'
NET_ZONE = "$ORIGIN example.net.\n$TTL 300\n@ IN SOA ns hm 1 7200 900 1209600 300\n@ IN MX 10 mx\n"
SCENARIO = """
seed = 3
until = "UNTIL"
hosts = [
  { name = "laptop.example.org", addresses = ["198.51.100.50"], roles = ["ua"] },
  { name = "mail.example.org", addresses = ["192.0.2.10"], roles = ["msa", "mta", "da"], config = "hosts/mail" },
  { name = "mx.example.net", addresses = ["203.0.113.25"], roles = ["mta", "da"], config = "hosts/mx" },
]
routers = [ { name = "internet" } ]
links = [
  { a = "laptop.example.org", b = "internet", latency = "10ms" },
  { a = "mail.example.org", b = "internet", latency = "5ms" },
  { a = "mx.example.net", b = "internet", latency = "20ms" },
]
[dns]
zones = ["zones/example.org.zone", "zones/example.net.zone"]

[[users]]
address = "alice@example.org"
password = "alice-secret"
host = "laptop.example.org"

[[users]]
address = "bob@example.net"
"""
MESSAGE_TOML = """
[[messages]]
at = "10s"
from = "alice@example.org"
to = ["bob@example.net"]
subject = "Lunch?"
body = '''BODY'''
"""


def world(
    tmp: Path,
    *,
    sender: dict[str, str] | None = None,
    receiver: dict[str, str] | None = None,
    spf: str = "v=spf1 mx -all",
    body: str = "Hi Bob,\nlunch at noon?\n",
    extra: str = "",
    until: str = "1h",
) -> ScenarioSpec:
    """alice@example.org (laptop -> MSA mail.example.org) writes to bob@example.net (mx.example.net).

    ``sender``/``receiver`` map file names to contents in each host folder (``main.cf`` is appended to
    the base main.cf); ``extra`` is more scenario TOML (faults, messages).
    """
    for folder, base, files in (("mail", SENDER_MAIN, sender or {}), ("mx", RECEIVER_MAIN, receiver or {})):
        (tmp / "hosts" / folder).mkdir(parents=True)
        (tmp / "hosts" / folder / "main.cf").write_text(base + files.get("main.cf", ""))
        for name, text in files.items():
            if name != "main.cf":
                path = tmp / "hosts" / folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(textwrap.dedent(text))
    (tmp / "zones").mkdir()
    (tmp / "zones" / "example.org.zone").write_text(ORG_ZONE.format(spf=spf))
    (tmp / "zones" / "example.net.zone").write_text(NET_ZONE)
    text = SCENARIO.replace("UNTIL", until) + MESSAGE_TOML.replace("BODY", body) + textwrap.dedent(extra)
    (tmp / "scenario.toml").write_text(text)
    return load(tmp)


def run(spec: ScenarioSpec) -> RunResult:
    return run_scenario(spec)


def records(result: RunResult, event: str, *, host: str | None = None, service: str | None = None) -> list:
    return [
        r
        for r in result.world.sim.trace
        if r.event == event and (host is None or r.host == host) and (service is None or r.service == service)
    ]


def mailbox_messages(result: RunResult, host: str, user: str) -> list[bytes]:
    """The messages local(8) wrote to ``user``'s mbox on ``host``."""
    path = result.world.files / "hosts" / host / "var" / "mail" / user
    if not path.exists():
        return []
    box = mailbox.mbox(str(path))
    return [box.get_bytes(key) for key in box.iterkeys()]  # as stored: as_bytes() would fold headers again


def context(zones: ZoneSet | None = None, *, folder: Path | None = None, ring: KeyRing | None = None) -> DaemonContext:
    """A daemon context over a bare ZoneSet (no resolver, no simulation)."""
    zones = zones if zones is not None else ZoneSet()
    return DaemonContext("mx.example.net", "mx.example.net", folder or Path("."), zones.answer,
                         lambda name: np.random.default_rng(0), ring or KeyRing(), ("mx.example.net",))  # fmt: skip


def conf(text: str, file: str = "test.conf"):  # type: ignore[no-untyped-def]
    return parse_daemon_conf(textwrap.dedent(text), file=file)


def message(
    content: bytes = MESSAGE,
    *,
    client: str = "192.0.2.10",
    helo: str = "mail.example.org",
    sender: str = "alice@example.org",
    sasl: str | None = None,
    smtpd: bool = True,
    daemon_name: str = "mx.example.net",
) -> MilterMessage:
    return MilterMessage("mx.example.net", "ABC123", client, helo, helo, sasl, daemon_name, smtpd,
                         Envelope(sender, ("bob@example.net",)), content, NOW)  # fmt: skip
