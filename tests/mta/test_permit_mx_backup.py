"""permit_mx_backup on the wire: a backup MX takes mail for a domain and queues it for the primary.

backup.example.com is the second MX of example.net (mx.example.net is the first), the only MX of
other.example.com, and nothing for nomx.example.com (an A record, no MX). A client on mail.example.org
talks SMTP to the backup directly. DNS queries take 20 ms each.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mailsim.api import run
from mailsim.scenario.loader import load
from mailsim.scenario.spec import ScenarioSpec

BACKUP_MAIN = """compatibility_level = 3.6
myhostname = backup.example.com
mydomain = example.com
mydestination = $myhostname, localhost.$mydomain, localhost
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, permit_mx_backup, reject_unauth_destination
"""
MAINS = {
    "mail": "compatibility_level = 3.6\nmyhostname = mail.example.org\nmydomain = example.org\n",
    "mx": "compatibility_level = 3.6\nmyhostname = mx.example.net\nmydomain = example.net\n"
    "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain\n",
}
SOA = "$TTL 300\n@ IN SOA ns hm 1 7200 900 1209600 300\n"
ZONES = {
    "example.org": "@ IN MX 10 mail\n",
    "example.net": "@ IN MX 10 mx\n@ IN MX 20 backup.example.com.\n",
    "example.com": "other IN MX 10 backup\nnomx IN A 198.51.100.99\n",
}
SCENARIO = """
seed = 1
until = "15m"
hosts = [
  { name = "mail.example.org", addresses = ["192.0.2.10"], roles = ["mta"], config = "hosts/mail" },
  { name = "mx.example.net", addresses = ["203.0.113.25"], roles = ["mta"], config = "hosts/mx" },
  { name = "backup.example.com", addresses = ["198.51.100.5"], roles = ["mta"], config = "hosts/backup" },
]
routers = [ { name = "internet" } ]
links = [
  { a = "mail.example.org", b = "internet", latency = "5ms" },
  { a = "mx.example.net", b = "internet", latency = "10ms" },
  { a = "backup.example.com", b = "internet", latency = "10ms" },
]
[dns]
zones = ["zones/example.org.zone", "zones/example.net.zone", "zones/example.com.zone"]
latency = "20ms"

[[users]]
address = "bob@example.net"
"""
PRIMARY_DOWN = '[[faults]]\nkind = "host-down"\nhost = "mx.example.net"\nat = "0s"\nuntil = "2m"\n'
MX_SERVFAIL = '[[faults]]\nkind = "dns-servfail"\nname = "example.net"\ntype = "MX"\nat = "0s"\n'


def _message(at: int, to: str) -> str:
    return (
        f'[[messages]]\nat = "{at}s"\nfrom = "alice@example.org"\nto = ["{to}"]\nvia = "smtp"\n'
        'client = "mail.example.org"\nserver = "backup.example.com"\n'
    )


def world(
    tmp: Path, backup_extra: str = "", extra: str = "", to: tuple[str, ...] = ("bob@example.net",)
) -> ScenarioSpec:
    for name, text in {**MAINS, "backup": BACKUP_MAIN + backup_extra}.items():
        (tmp / "hosts" / name).mkdir(parents=True)
        (tmp / "hosts" / name / "main.cf").write_text(text)
    (tmp / "zones").mkdir()
    for origin, records in ZONES.items():
        (tmp / "zones" / f"{origin}.zone").write_text(f"$ORIGIN {origin}.\n" + SOA + records)
    messages = "".join(_message(1 + index, address) for index, address in enumerate(to))
    (tmp / "scenario.toml").write_text(textwrap.dedent(SCENARIO) + messages + extra)
    return load(tmp)


def replies(result, host: str = "backup.example.com") -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Recipient -> the RCPT refusal smtpd on ``host`` gave (accepted recipients are absent)."""
    return {r.get("recipient"): r.get("reply") for r in result.trace.select("reject", host=host)}


def deliveries(result, host: str) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    records = [r for r in result.trace.select("delivery", host=host) if r.service == "smtp"]
    return [(r.get("to"), r.get("status"), r.get("relay")) for r in records]


def test_the_backup_accepts_and_queues_the_mail_for_the_primary(tmp_path: Path) -> None:
    result = run(world(tmp_path, extra=PRIMARY_DOWN))
    assert replies(result) == {}
    attempts = deliveries(result, "backup.example.com")
    assert [status for _, status, _ in attempts] == ["deferred", "sent"]  # the primary is down for 2 minutes
    assert attempts[-1][0] == "bob@example.net" and attempts[-1][2].startswith("mx.example.net[203.0.113.25]")
    assert [r.get("to") for r in result.trace.select("delivery", host="mx.example.net")] == ["bob@example.net"]


def test_a_primary_mx_or_a_domain_without_mx_gets_relay_access_denied(tmp_path: Path) -> None:
    result = run(world(tmp_path, to=("carol@other.example.com", "dave@nomx.example.com")))
    assert replies(result) == {
        "carol@other.example.com": "554 5.7.1 <carol@other.example.com>: Relay access denied",
        "dave@nomx.example.com": "554 5.7.1 <dave@nomx.example.com>: Relay access denied",
    }


def test_a_temporary_mx_lookup_failure_defers_with_450_4_4_4(tmp_path: Path) -> None:
    result = run(world(tmp_path, extra=MX_SERVFAIL))
    why = "Unable to look up mail exchanger information: Host not found, try again"
    assert replies(result) == {"bob@example.net": f"450 4.4.4 <bob@example.net>: Recipient address rejected: {why}"}


@pytest.mark.parametrize(
    ("networks", "expected"),
    [
        ("203.0.113.0/24", {}),
        ("192.0.2.0/24", {"bob@example.net": "554 5.7.1 <bob@example.net>: Relay access denied"}),
    ],
)
def test_permit_mx_backup_networks_must_hold_the_primary(tmp_path: Path, networks: str, expected: dict) -> None:
    result = run(world(tmp_path, f"permit_mx_backup_networks = {networks}\n"))
    assert replies(result) == expected


def test_the_mx_lookups_take_their_dns_time_before_the_rcpt_reply(tmp_path: Path) -> None:
    """MX of example.net, then A and AAAA of the primary (not local by name): three 20 ms queries."""
    backed_up = run(world(tmp_path / "mx"))
    relayed = run(world(tmp_path / "relay", "relay_domains = example.net\n"))  # permitted without DNS

    def submitted(result) -> float:  # type: ignore[no-untyped-def]
        (record,) = result.trace.select("submit", host="mail.example.org")
        return float(record.time)

    assert submitted(backed_up) - submitted(relayed) == pytest.approx(0.060)
    asked = [(r.get("qname"), r.get("qtype")) for r in backed_up.trace.select("query", host="backup.example.com")]
    at_rcpt = [query for query in asked if query[0].endswith("example.net")][:3]  # after the client's PTR and A
    assert at_rcpt == [("example.net", "MX"), ("mx.example.net", "A"), ("mx.example.net", "AAAA")]


def test_both_fidelities_give_the_same_replies_and_times(tmp_path: Path) -> None:
    def seen(fidelity: str) -> list[tuple[float, str, str, object]]:
        to = ("bob@example.net", "carol@other.example.com", "dave@nomx.example.com")
        result = run(world(tmp_path / fidelity, to=to), fidelity=fidelity)
        kept = ("reject", "submit", "delivery")
        return [(r.time, r.host, r.event, r.get("reply")) for r in result.trace if r.event in kept]

    wire, fast = seen("wire"), seen("fast")
    assert [record[1:] for record in fast] == [record[1:] for record in wire]
    assert [record[0] for record in fast] == pytest.approx([record[0] for record in wire])  # float sums differ
    assert sum(1 for record in wire if record[2] == "reject") == 2
