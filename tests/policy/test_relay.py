"""The relay-trick battery: refused from a foreign client, allowed from mynetworks and after AUTH."""

from __future__ import annotations

import pytest

from mailsim.core.errors import ConfigError
from mailsim.policy.relay import relay_battery, relay_verdicts, tricks
from tests.policy.policy_helpers import Static, context, line, restrictions

PROBES = relay_battery("mx.example.com", "192.0.2.10")
FOREIGN = context(client="203.0.113.5", name="unknown")
LAN = context(client="192.0.2.77", name="pc.example.com")


def lines(policy, ctx=FOREIGN) -> list[str]:  # type: ignore[no-untyped-def]
    return [line(verdict) for _, verdict in relay_verdicts(policy, PROBES, ctx)]


def test_every_trick_is_refused_from_a_foreign_client_with_postfix_defaults() -> None:
    expected = [f"454 4.7.1 <{probe.recipient}>: Relay access denied" for probe in PROBES]
    assert lines(restrictions()) == expected


def test_refusal_names_the_address_as_smtpd_sees_it() -> None:
    by_trick = dict(zip((p.trick for p in PROBES), lines(restrictions())))
    assert by_trick["source route"] == "454 4.7.1 <victim@relay-test.example>: Relay access denied"
    assert by_trick["quoted local part"] == "454 4.7.1 <victim@relay-test.example@mx.example.com>: Relay access denied"


def test_trusted_networks_may_relay() -> None:
    assert set(lines(restrictions(mynetworks_style="subnet"), LAN)) == {"250 2.1.5 Ok"}


def test_authenticated_clients_may_relay() -> None:
    authenticated = context(client="203.0.113.5", name="unknown", sasl_username="alice")
    assert set(lines(restrictions(), authenticated)) == {"250 2.1.5 Ok"}


def test_the_open_relay_mistake_and_its_fix() -> None:
    assert set(lines(restrictions(mynetworks="0.0.0.0/0"))) == {"250 2.1.5 Ok"}
    assert "250 2.1.5 Ok" not in lines(restrictions(mynetworks="127.0.0.0/8, 192.0.2.0/24"))


def test_an_access_map_that_says_ok_to_everyone_opens_the_relay() -> None:
    tables = {"static:OK": Static("OK")}
    open_relay = restrictions(
        tables, smtpd_relay_restrictions="check_client_access static:OK, reject_unauth_destination"
    )
    assert set(lines(open_relay)) == {"250 2.1.5 Ok"}


def test_permit_everything_is_refused_before_it_can_relay() -> None:
    with pytest.raises(ConfigError, match="reject_unauth_destination, defer_unauth_destination"):
        restrictions(smtpd_relay_restrictions="permit")


def test_reject_unauth_destination_answers_554() -> None:
    policy = restrictions(
        smtpd_relay_restrictions="permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"
    )
    assert {text[:9] for text in lines(policy)} == {"554 5.7.1"}


def test_untrusted_routing_is_what_keeps_quoted_routes_out() -> None:
    """Without dequoting, ``user@remote@local`` is local but ROUTED: only allow_untrusted_routing lets it in."""
    double_at = next(probe for probe in PROBES if probe.trick == "double at")
    no_dequote = restrictions(resolve_dequoted_address="no", local_recipient_maps="")
    routed = restrictions(resolve_dequoted_address="no", allow_untrusted_routing="yes", local_recipient_maps="")
    assert line(dict(relay_verdicts(no_dequote, [double_at], FOREIGN))[double_at]).endswith("Relay access denied")
    assert dict(relay_verdicts(routed, [double_at], FOREIGN))[double_at].accepted


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("user@remote.example", set()),
        ("user%remote.example@mx.example.com", {"percent hack"}),
        ("remote.example!user@mx.example.com", {"bang path"}),
        ("@mx.example.com:user@remote.example", {"source route"}),
        ('"user@remote.example"@mx.example.com', {"quoted local part", "double at"}),
        ("user@remote.example.", {"trailing dot"}),
        ("user@[192.0.2.99]", {"ip literal"}),
    ],
)
def test_tricks_are_named(path: str, expected: set[str]) -> None:
    assert tricks(path) == expected
