"""The SPF policy service: policyd-spf's reject, defer and prepend, as Postfix would receive them."""

from __future__ import annotations

import pytest

from mailsim.core import Simulation
from mailsim.core.errors import ConfigError
from mailsim.dns import Faults, Resolver
from mailsim.policy.access import parse_action
from mailsim.policy.auth.dnsview import DnsQuery
from mailsim.policy.auth.spfpolicy import SpfPolicySettings, decide_spf_policy, spf_policy
from tests.policy.auth.seedworld import MAIL_SCHWEIKERT, RELAY_ATRUST, World

REQUEST = {
    "request": "smtpd_access_policy",
    "protocol_state": "RCPT",
    "protocol_name": "ESMTP",
    "client_address": RELAY_ATRUST,
    "client_name": "mail-relay.atrust.com",
    "helo_name": "mail-relay.atrust.com",
    "sender": "david@schweikert.ch",
    "recipient": "evi.nemeth@gmail.example",
    "instance": "1a2b.5f3c1d2e.1",
}


def _timeout(world: World, name: str) -> DnsQuery:
    faults = Faults()
    faults.add("TIMEOUT", name)
    return Resolver(Simulation(seed=0, keep_trace=False), world.zones, host="gmail", faults=faults).lookup_now


def test_fail_is_rejected_with_policyd_spfs_words(world: World) -> None:
    action = spf_policy(REQUEST, world.dns)
    assert action == (
        "550 5.7.23 Message rejected due to: SPF fail - not authorized. Please see "
        "http://www.openspf.net/Why?s=mfrom;id=david@schweikert.ch;ip=198.51.100.7;r=<UNKNOWN>"
    )
    assert parse_action(action).code == 550


def test_the_receiver_is_the_recipients_domain_when_not_hidden(world: World) -> None:
    action = spf_policy(REQUEST, world.dns, settings=SpfPolicySettings(hide_receiver=False))
    assert action.endswith(";r=gmail.example")


def test_pass_prepends_policyd_spfs_received_spf(world: World) -> None:
    request = dict(REQUEST, client_address=MAIL_SCHWEIKERT, helo_name="mail.schweikert.ch")
    decision = decide_spf_policy(request, world.dns)
    assert decision.kind == "prepend"
    assert decision.action == (
        "prepend Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.25; helo=mail.schweikert.ch; "
        "envelope-from=david@schweikert.ch; receiver=<UNKNOWN> "
    )
    assert parse_action(decision.action).verb == "PREPEND"
    assert decision.mail_from is not None and decision.mail_from.result == "pass"


def test_a_dns_timeout_defers_and_never_rejects(world: World) -> None:
    decision = decide_spf_policy(REQUEST, _timeout(world, "schweikert.ch"))
    assert decision.kind == "defer"
    assert decision.action.startswith(
        "defer_if_permit 4.7.24 Message deferred due to: SPF Temporary Error: DNS TIMEOUT"
    )
    assert decision.dns_time > 0
    without = decide_spf_policy(
        REQUEST, _timeout(world, "schweikert.ch"), settings=SpfPolicySettings(temperror_defer=False)
    )
    assert without.kind == "prepend" and "Received-SPF: Temperror" in without.action


def test_softfail_is_rejected_only_when_configured(world: World) -> None:
    world.zones.add_record("soft.example", "TXT", "v=spf1 ~all")
    request = dict(REQUEST, sender="a@soft.example")
    assert decide_spf_policy(request, world.dns).kind == "prepend"
    strict = decide_spf_policy(request, world.dns, settings=SpfPolicySettings(mail_from_reject="Softfail"))
    assert strict.action.startswith("550 5.7.23 Message rejected due to: domain owner discourages use of this host.")


def test_a_permerror_is_rejected_with_5_7_24_when_configured(world: World) -> None:
    world.zones.add_record("broken.example", "TXT", "v=spf1 ip4:300.1.1.1 -all")
    request = dict(REQUEST, sender="a@broken.example")
    assert decide_spf_policy(request, world.dns).kind == "prepend"
    action = spf_policy(request, world.dns, settings=SpfPolicySettings(permerror_reject=True))
    assert action.startswith("550 5.7.24 Message rejected due to: SPF Permanent Error")


def test_helo_is_checked_first(world: World) -> None:
    world.zones.add_record("liar.example", "TXT", "v=spf1 -all")
    request = dict(REQUEST, helo_name="liar.example")
    assert spf_policy(request, world.dns).startswith(
        "550 5.7.23 Message rejected due to: SPF fail - not authorized. "
        "Please see http://www.openspf.net/Why?s=helo;id=liar.example;"
    )
    no_helo = SpfPolicySettings(helo_reject="No_Check")
    assert spf_policy(request, world.dns, settings=no_helo).startswith("550 5.7.23")  # still the MAIL FROM fail
    header_only = SpfPolicySettings(helo_reject="False", mail_from_reject="False")
    assert decide_spf_policy(request, world.dns, settings=header_only).kind == "prepend"


def test_bounces_are_judged_by_helo(world: World) -> None:
    decision = decide_spf_policy(dict(REQUEST, sender=""), world.dns)
    assert decision.action == (
        "prepend Received-SPF: Pass (sender SPF authorized) identity=helo; client-ip=198.51.100.7; "
        "helo=mail-relay.atrust.com; envelope-from=<>; receiver=<UNKNOWN> "
    )


def test_loopback_clients_are_skipped(world: World) -> None:
    action = spf_policy(dict(REQUEST, client_address="127.0.0.1"), world.dns)
    assert action.startswith("prepend X-Comment: SPF check N/A for local connections - client-ip=127.0.0.1;")


def test_one_header_per_message_however_many_recipients(world: World) -> None:
    request = dict(REQUEST, client_address=MAIL_SCHWEIKERT, helo_name="mail.schweikert.ch")
    first = decide_spf_policy(request, world.dns)
    assert spf_policy(dict(request, recipient="b@gmail.example"), world.dns, previous=first) == "dunno"
    rejected = decide_spf_policy(REQUEST, world.dns)
    assert spf_policy(REQUEST, world.dns, previous=rejected) == rejected.action


def test_a_bad_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Mail_From_reject"):
        SpfPolicySettings(mail_from_reject="Sometimes")
