"""permit_mx_backup and permit_mx_backup_networks (smtpd_check.c): backup MX yes, primary MX no, DNS trouble defers.

The smtpd host is mx.example.com (192.0.2.10; mydestination $myhostname, localhost.$mydomain, localhost),
asked by an outside client to relay for example.net, whose MX records the tests set.
"""

from __future__ import annotations

import pytest

from mailsim.policy.restrictions import DnsStatus, PolicyWorld
from tests.policy.policy_helpers import USERS, line, rcpt, restrictions

RELAY = "permit_mynetworks, permit_mx_backup, reject_unauth_destination"
BOB = "bob@example.net"
ACCEPT = "250 2.1.5 Ok"
DENIED = "554 5.7.1 <bob@example.net>: Relay access denied"
DEFERRED = "450 4.4.4 <bob@example.net>: Recipient address rejected: "
Mx = tuple[tuple[int, str], ...]
Addresses = tuple[str, ...] | DnsStatus
ADDRESSES: dict[str, Addresses] = {
    "mx.example.net": ("198.51.100.25",),
    "mx2.example.net": ("198.51.100.26", "2001:db8::26"),
    "backup.example.org": ("192.0.2.10",),  # one of smtpd's own addresses, under another name
    "mx.example.com": ("192.0.2.10",),
}


class Dns:
    """MX and address answers for the policy, with a record of what was asked."""

    def __init__(self, mx: Mx | DnsStatus, addresses: dict[str, Addresses] | None = None) -> None:
        self.mx = mx
        self.addresses = {**ADDRESSES, **(addresses or {})}
        self.asked: list[tuple[str, str]] = []

    def mx_records(self, domain: str) -> Mx | DnsStatus:
        self.asked.append(("MX", domain))
        return self.mx

    def host_addresses(self, name: str) -> Addresses:
        self.asked.append(("A", name))
        return self.addresses.get(name, DnsStatus.NOT_FOUND)

    def world(self) -> PolicyWorld:
        return PolicyWorld(
            mx_records=self.mx_records, host_addresses=self.host_addresses, local_users=USERS.__contains__
        )


def relay(dns: Dns, recipient: str = BOB, rule: str = RELAY, **params: str) -> str:
    """The RCPT reply for ``recipient`` from an outside client, ``rule`` as smtpd_relay_restrictions."""
    policy = restrictions(None, dns.world(), smtpd_relay_restrictions=rule, **params)
    return line(rcpt(policy, recipient, client="203.0.113.5", name="client.example.net"))


@pytest.mark.parametrize(
    "mx",
    [
        ((10, "mx.example.net"), (20, "mx.example.com")),  # backup by name: mx.example.com is in mydestination
        ((20, "backup.example.org"), (10, "mx.example.net")),  # backup by address; the DNS order does not matter
        ((10, "mx.example.net"), (10, "mx2.example.net"), (30, "elsewhere.example"), (20, "backup.example.org")),
    ],
)
def test_a_backup_mx_relays_for_the_domain(mx: tuple[tuple[int, str], ...]) -> None:
    assert relay(Dns(mx)) == ACCEPT


@pytest.mark.parametrize(
    "mx",
    [
        ((10, "mx.example.com"), (20, "mx.example.net")),  # the primary
        ((10, "mx.example.net"), (10, "backup.example.org")),  # one of the equal-best: also a primary
        ((10, "mx.example.com"),),  # the only MX
        ((10, "mx.example.net"), (20, "mx2.example.net")),  # not an MX at all
    ],
)
def test_a_primary_mx_or_a_stranger_is_not_permitted(mx: tuple[tuple[int, str], ...]) -> None:
    assert relay(Dns(mx)) == DENIED


@pytest.mark.parametrize("status", [DnsStatus.NOT_FOUND, DnsStatus.NULL_MX, DnsStatus.MALFORMED])
def test_without_mx_records_the_domain_is_not_backed_up(status: DnsStatus) -> None:
    dns = Dns(status)
    assert relay(dns) == DENIED
    assert dns.asked == [("MX", "example.net")]  # Postfix 2.3+: no A lookup of the domain itself


def test_a_temporary_mx_lookup_failure_turns_a_later_reject_into_450_4_4_4() -> None:
    why = "Unable to look up mail exchanger information: Host not found, try again"
    assert relay(Dns(DnsStatus.TEMPFAIL)) == DEFERRED + why
    # defer_if_reject, not defer_if_permit: a later permit still permits
    trusted = "permit_mx_backup, permit_mynetworks, reject_unauth_destination"
    assert relay(Dns(DnsStatus.TEMPFAIL), rule=trusted, mynetworks="203.0.113.0/24") == ACCEPT


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (DnsStatus.TEMPFAIL, "Temporary failure in name resolution"),
        (DnsStatus.NOT_FOUND, "Name or service not known"),
        (DnsStatus.NO_DATA, "No address associated with hostname"),
    ],
)
def test_an_mx_host_without_addresses_defers_the_reject(status: DnsStatus, why: str) -> None:
    dns = Dns(((10, "mx.example.net"), (20, "ghost.example.net")), {"mx.example.net": status})
    assert relay(dns) == DEFERRED + f"Unable to look up mail exchanger host mx.example.net: {why}"


@pytest.mark.parametrize(
    ("networks", "expected"),
    [
        ("198.51.100.0/24, [2001:db8::]/32", ACCEPT),
        ("198.51.100.0/24", DENIED),  # every address of every primary: mx2's IPv6 address is outside
        ("!198.51.100.26, 198.51.100.0/24, [2001:db8::]/32", DENIED),
        ("example.net", ACCEPT),  # by the MX host's name: parent_domain_matches_subdomains has this list
        ("203.0.113.0/24", DENIED),
    ],
)
def test_permit_mx_backup_networks_restricts_to_primaries_in_those_networks(networks: str, expected: str) -> None:
    dns = Dns(((10, "mx.example.net"), (10, "mx2.example.net"), (20, "mx.example.com")))
    assert relay(dns, permit_mx_backup_networks=networks) == expected
    assert relay(dns, permit_mx_backup_networks="") == ACCEPT


class FlakyDns(Dns):
    """Answers for mx.example.net once, then fails: all_auth_mx_addr() asks again after has_my_addr()."""

    def host_addresses(self, name: str) -> Addresses:
        answer = super().host_addresses(name)
        self.addresses["mx.example.net"] = DnsStatus.TEMPFAIL
        return answer


def test_a_primary_whose_addresses_cannot_be_checked_defers_the_reject() -> None:
    dns = FlakyDns(((10, "mx.example.net"), (20, "mx.example.com")))
    why = "Unable to look up host mx.example.net as mail exchanger: Host not found, try again"
    assert relay(dns, permit_mx_backup_networks="198.51.100.0/24") == DEFERRED + why


def test_the_first_deferral_reason_is_the_one_given() -> None:
    dns = Dns(((10, "mx.example.net"), (20, "mx.example.com")), {"mx.example.net": DnsStatus.TEMPFAIL})
    why = "Unable to look up mail exchanger host mx.example.net: Temporary failure in name resolution"
    assert relay(dns, permit_mx_backup_networks="198.51.100.0/24") == DEFERRED + why


@pytest.mark.parametrize(
    ("recipient", "params"),
    [
        ("alice@mx.example.com", {}),  # mydestination
        ("carol@relayed.example", {"relay_domains": "relayed.example"}),
        ("dave@hosted.example", {"virtual_mailbox_domains": "hosted.example"}),
        ("bob@[192.0.2.10]", {}),  # a literal of our own address is local
    ],
)
def test_authorised_destinations_are_permitted_without_dns(recipient: str, params: dict[str, str]) -> None:
    dns = Dns(DnsStatus.TEMPFAIL)
    assert relay(dns, recipient, "permit_mx_backup, reject", **params) == ACCEPT
    assert dns.asked == []


@pytest.mark.parametrize("recipient", ["bob%elsewhere.example@example.net", "bob@[198.51.100.25]"])
def test_routed_addresses_and_foreign_literals_are_not_looked_up(recipient: str) -> None:
    dns = Dns(((10, "mx.example.net"), (20, "mx.example.com")))
    assert relay(dns, recipient, "permit_mx_backup, reject").startswith("554 5.7.1 ")
    assert dns.asked == []


def test_without_dns_answers_the_restriction_is_a_noted_dunno() -> None:
    policy = restrictions(None, PolicyWorld(), smtpd_relay_restrictions=RELAY)
    verdict = rcpt(policy, BOB, client="203.0.113.5", name="client.example.net")
    assert line(verdict) == DENIED
    assert any("not modelled" in entry.text for entry in verdict.log)
