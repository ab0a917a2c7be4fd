"""The seed's little Internet for sender-authentication tests: schweikert.ch, atrust.com and a Gmail-like receiver.

Addresses are from the documentation ranges (RFC 5737). Keys are generated once per test session.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailsim.dns import ZoneSet
from mailsim.policy.auth.dnsview import DnsQuery
from mailsim.policy.auth.keys import DkimKey, KeyRing

HOME = "192.0.2.10"  # David's home machine
MAIL_SCHWEIKERT = "192.0.2.25"  # mail.schweikert.ch (virus scan, outbound)
RELAY_ATRUST = "198.51.100.7"  # mail-relay.atrust.com (forwards evi@atrust.com)
GMAIL = "203.0.113.5"  # the final receiver
NOW = 1_704_067_200.0  # 2024-01-01T00:00:00Z, the simulated wall clock

MESSAGE = (
    b"From: David Schweikert <david@schweikert.ch>\r\n"
    b"To: Evi Nemeth <evi@atrust.com>\r\n"
    b"Subject: SPF and forwarding\r\n"
    b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
    b"Message-ID: <20240101000000.1@schweikert.ch>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"Hello Evi,\r\n"
    b"this message goes through your forwarder.\r\n"
)


@dataclass
class World:
    """The zones and the keys of the seed's domains."""

    zones: ZoneSet
    schweikert: DkimKey
    schweikert_ed: DkimKey
    atrust: DkimKey

    @property
    def dns(self) -> DnsQuery:
        return self.zones.answer


def build_world(ring: KeyRing, *, dmarc: str = "v=DMARC1; p=reject; rua=mailto:dmarc@schweikert.ch") -> World:
    """schweikert.ch allows only its mail server; atrust.com its relay; both sign with DKIM."""
    zones = ZoneSet()
    zones.add_host("mail.schweikert.ch", [MAIL_SCHWEIKERT])
    zones.add_host("mail-relay.atrust.com", [RELAY_ATRUST])
    zones.add_record("schweikert.ch", "MX", "10 mail.schweikert.ch")
    zones.add_record("schweikert.ch", "TXT", "v=spf1 mx -all")
    zones.add_record("atrust.com", "MX", "10 mail-relay.atrust.com")
    zones.add_record("atrust.com", "TXT", "v=spf1 mx -all")
    zones.add_record("mail-relay.atrust.com", "TXT", "v=spf1 a -all")
    zones.add_record("_dmarc.schweikert.ch", "TXT", dmarc)
    keys = ring.get("schweikert.ch", "mail"), ring.get("schweikert.ch", "ed", "ed25519"), ring.get("atrust.com", "arc")
    for key in keys:
        zones.add_record(key.record_name, "TXT", key.txt_record)
    return World(zones, *keys)
