"""Small scenario folders for MTA tests, written on the fly."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mailsim.scenario.loader import load
from mailsim.scenario.spec import ScenarioSpec

SENDER_MAIN = """
compatibility_level = 3.6
myhostname = mail.example.org
mydomain = example.org
myorigin = $mydomain
mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain
{extra}
"""
RECEIVER_MAIN = """
compatibility_level = 3.6
myhostname = mx.example.net
mydomain = example.net
mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain
"""
ZONES = {
    "example.org.zone": "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns hm 1 7200 900 1209600 300\n@ IN MX 10 mail\n",
    "example.net.zone": "$ORIGIN example.net.\n$TTL 300\n@ IN SOA ns hm 1 7200 900 1209600 300\n@ IN MX 10 mx\n",
}


def two_hosts(
    tmp: Path, body: str, *, until: str = "1h", sender_extra: str = "", receiver_main: str = RECEIVER_MAIN
) -> ScenarioSpec:
    """mail.example.org and mx.example.net across a router, plus whatever ``body`` adds (messages, faults)."""
    (tmp / "hosts/mail").mkdir(parents=True)
    (tmp / "hosts/mx").mkdir(parents=True)
    (tmp / "zones").mkdir()
    (tmp / "hosts/mail/main.cf").write_text(SENDER_MAIN.format(extra=sender_extra))
    (tmp / "hosts/mx/main.cf").write_text(receiver_main)
    for name, text in ZONES.items():
        (tmp / "zones" / name).write_text(text)
    head = """
    seed = 1
    until = "UNTIL"
    hosts = [
      { name = "mail.example.org", addresses = ["192.0.2.10"], roles = ["mta"], config = "hosts/mail" },
      { name = "mx.example.net", addresses = ["203.0.113.25"], roles = ["mta"], config = "hosts/mx" },
    ]
    routers = [ { name = "internet" } ]
    links = [
      { a = "mail.example.org", b = "internet", latency = "5ms" },
      { a = "mx.example.net", b = "internet", latency = "20ms" },
    ]
    [dns]
    zones = ["zones/example.org.zone", "zones/example.net.zone"]
    """
    head = textwrap.dedent(head).replace("UNTIL", until)
    (tmp / "scenario.toml").write_text(head + textwrap.dedent(body))
    return load(tmp)
