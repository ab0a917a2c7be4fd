"""Host-derived defaults, computed from HostFacts and never from the real machine."""

from __future__ import annotations

import pytest

from mailsim.config import HostFacts, parse_main_cf
from mailsim.core.errors import ConfigError

HOST = HostFacts("mail", ("192.0.2.10/24", "2001:db8::10/64"))


def test_a_short_hostname_gets_localdomain_or_mydomain() -> None:
    assert parse_main_cf("", host=HOST).get("myhostname") == "mail.localdomain"
    assert parse_main_cf("mydomain = example.org\n", host=HOST).get("myhostname") == "mail.example.org"


@pytest.mark.parametrize(
    ("myhostname", "mydomain"),
    [("mail.example.org", "example.org"), ("example.com", "com"), ("a.b.c.d", "b.c.d"), ("host", "localdomain")],
)
def test_mydomain_is_myhostname_minus_its_first_label(myhostname: str, mydomain: str) -> None:
    assert parse_main_cf(f"myhostname = {myhostname}\n").get("mydomain") == mydomain


def test_the_empty_main_cf_delivers_for_the_host_itself() -> None:
    main = parse_main_cf("", host=HostFacts("mx.example.net"))
    assert main.list("mydestination") == ["mx.example.net", "localhost.example.net", "localhost"]
    assert main.get("myorigin") == "mx.example.net"
    assert main.get("inet_interfaces") == "all"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("", "127.0.0.0/8 192.0.2.0/24 [::1]/128 [2001:db8::]/64"),
        ("mynetworks_style = host\n", "127.0.0.1/32 192.0.2.10/32 [::1]/128 [2001:db8::10]/128"),
        ("compatibility_level = 2\n", "127.0.0.1/32 192.0.2.10/32 [::1]/128 [2001:db8::10]/128"),
        ("mynetworks_style = class\n", "127.0.0.0/8 192.0.2.0/24 [::1]/128 [2001:db8::]/64"),
        ("inet_interfaces = loopback-only\n", "127.0.0.0/8 [::1]/128"),
        ("inet_protocols = ipv4\n", "127.0.0.0/8 192.0.2.0/24"),
        ("inet_interfaces = 192.0.2.10\n", "192.0.2.0/24"),
    ],
)
def test_mynetworks_follows_style_interfaces_and_protocols(settings: str, expected: str) -> None:
    assert parse_main_cf(settings, host=HOST).get("mynetworks") == expected


def test_class_style_uses_the_classful_network() -> None:
    main = parse_main_cf("mynetworks_style = class\ninet_protocols = ipv4\n", host=HostFacts("h", ("10.1.2.3/24",)))
    assert main.get("mynetworks") == "127.0.0.0/8 10.0.0.0/8"


def test_a_bare_address_is_a_lan_interface() -> None:
    assert (
        parse_main_cf("inet_protocols = ipv4\n", host=HostFacts("h", ("198.51.100.7",))).get("mynetworks")
        == "127.0.0.0/8 198.51.100.0/24"
    )


def test_a_bad_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="expected an IPv4 or IPv6 address"):
        HostFacts("h", ("not-an-ip",)).interfaces()
