"""policyd-spf as smtpd's policy service: from master.cf, its own config file, and the SPF verdicts it turns into actions."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from mailsim.config.mastercf import parse_master_cf
from mailsim.core.errors import ConfigError
from mailsim.core.simulation import Simulation
from mailsim.dns import ZoneSet
from mailsim.mta.policy_service import policy_services_for, read_settings
from tests.mta.milter_worlds import mailbox_messages, records, run, world

MASTER = "policyd-spf unix - n n - 0 spawn\n  user=policyd-spf argv=/usr/bin/policyd-spf\n"
CHECKING = {
    "master.cf": None,  # filled in below: Debian's master.cf with the policyd-spf entry
    "main.cf": "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,\n"
    "    check_policy_service unix:private/policyd-spf\n",
}
REQUEST = {"request": "smtpd_access_policy", "protocol_state": "RCPT", "client_address": "198.51.100.7",
           "helo_name": "relay.example", "sender": "alice@example.org", "recipient": "bob@example.net"}  # fmt: skip


def receiver(conf: str | None = None) -> dict[str, str]:
    from mailsim.config.mastercf import DEFAULT_MASTER_CF

    files = dict(CHECKING, **{"master.cf": DEFAULT_MASTER_CF + MASTER})
    if conf is not None:
        files["policyd-spf.conf"] = conf
    return files


def fake_host(tmp_path: Path, master: str = MASTER, conf: str | None = None) -> SimpleNamespace:
    zones = ZoneSet()
    zones.add_record("example.org", "TXT", "v=spf1 ip4:192.0.2.10 -all")
    if conf is not None:
        (tmp_path / "policyd-spf.conf").write_text(conf)
    sim = Simulation(1)
    return SimpleNamespace(
        name="mx.example.net", sim=sim, resolver=SimpleNamespace(lookup_now=zones.answer),
        main=SimpleNamespace(get=lambda name: "mx.example.net"),
        config=SimpleNamespace(master=parse_master_cf(master), folder=tmp_path),
    )  # fmt: skip


def test_a_spawn_entry_running_policyd_spf_is_a_policy_service(tmp_path: Path) -> None:
    services = policy_services_for(fake_host(tmp_path))
    assert {"unix:private/policyd-spf", "private/policyd-spf"} <= set(services)
    assert services["unix:private/policyd-spf"](REQUEST).startswith("550 5.7.23 Message rejected due to: SPF fail")
    assert policy_services_for(fake_host(tmp_path, "other unix - n n - 0 spawn argv=/usr/bin/true\n")) == {}


def test_policyd_spf_conf_decides_what_a_fail_does(tmp_path: Path) -> None:
    service = policy_services_for(fake_host(tmp_path, conf="Mail_From_reject = False\nHELO_reject = False\n"))
    action = service["unix:private/policyd-spf"](REQUEST)
    assert action.startswith("prepend Received-SPF: Fail (mailfrom) identity=mailfrom; client-ip=198.51.100.7")


def test_one_decision_per_message_instance(tmp_path: Path) -> None:
    host = fake_host(tmp_path, conf="Mail_From_reject = False\n")
    service = policy_services_for(host)["unix:private/policyd-spf"]
    first = service(dict(REQUEST, instance="a1"))
    assert first.startswith("prepend Received-SPF") and service(dict(REQUEST, instance="a1")) == "dunno"
    assert service(dict(REQUEST, instance="b2")) == first  # the next message is checked again
    assert [r.get("cached") for r in host.sim.trace.select("policy")] == [False, True, False]


def test_a_bad_policyd_spf_conf_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.conf").write_text("HELO_reject = Fail\nMail_From_reject = Sometimes\n")
    with pytest.raises(ConfigError, match="Mail_From_reject"):
        read_settings(tmp_path / "bad.conf")
    (tmp_path / "typo.conf").write_text("TempError_Defer = Yes\nMail_From_Reject = False\n")
    with pytest.raises(ConfigError, match=r"typo.conf:2: Mail_From_Reject: expected one of"):
        read_settings(tmp_path / "typo.conf")


def test_spf_fail_is_refused_at_rcpt_with_5_7_23(tmp_path: Path) -> None:
    result = run(world(tmp_path, receiver=receiver(), spf="v=spf1 ip4:192.0.2.99 -all", until="5m"))
    (reject,) = records(result, "reject", host="mx.example.net")
    assert reject.get("stage") == "RCPT"
    assert reject.get("reply").startswith("550 5.7.23 <bob@example.net>: Recipient address rejected: Message rejected")
    (bounced,) = records(result, "delivery", host="mail.example.org", service="smtp")
    assert bounced.get("status") == "bounced" and bounced.get("dsn") == "5.7.23"


def test_spf_pass_becomes_a_received_spf_header(tmp_path: Path) -> None:
    result = run(world(tmp_path, receiver=receiver()))
    (delivered,) = mailbox_messages(result, "mx.example.net", "bob")
    assert b"Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.10; helo=mail.example.org;" in delivered


def test_a_malformed_spf_record_is_a_permerror_not_a_crash(tmp_path: Path) -> None:
    result = run(world(tmp_path / "lenient", receiver=receiver(), spf="v=spf1 ip4:not-an-address -all"))
    (delivered,) = mailbox_messages(result, "mx.example.net", "bob")
    assert b"Received-SPF: Permerror (" in delivered
    strict = run(world(tmp_path / "strict", receiver=receiver("PermError_reject = True\n"),
                       spf="v=spf1 ip4:not-an-address -all", until="5m"))  # fmt: skip
    (reject,) = records(strict, "reject", host="mx.example.net")
    assert reject.get("reply").startswith("550 5.7.24 ")  # RFC 7372: an SPF error, not a failure


def test_a_dns_timeout_defers_with_4xx_and_the_mail_arrives_later(tmp_path: Path) -> None:
    fault = """
    [[faults]]
    kind = "dns-timeout"
    name = "example.org"
    type = "TXT"
    at = "0s"
    until = "3m"
    """
    result = run(world(tmp_path, receiver=receiver(), extra=fault, until="30m"))
    first, *_ = records(result, "reject", host="mx.example.net")
    assert first.get("reply").startswith("450 4.7.24 <bob@example.net>: Recipient address rejected: Message deferred")
    deliveries = records(result, "delivery", host="mail.example.org", service="smtp")
    assert [d.get("status") for d in deliveries] == ["deferred", "sent"]
    assert len(mailbox_messages(result, "mx.example.net", "bob")) == 1
