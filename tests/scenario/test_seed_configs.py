"""The seed's Postfix configurations, end to end: each behaves as the seed says."""

from __future__ import annotations

import mailbox
from pathlib import Path

from mailsim.api import run

SCENARIOS = Path(__file__).resolve().parent.parent.parent / "scenarios"


def deliveries(result, **where):
    rows = result.frame("deliveries")
    for key, value in where.items():
        rows = rows[rows[key] == value]
    return rows


def test_empty_main_cf_delivers_locally_and_sends_the_rest_directly():
    result = run(SCENARIOS / "seed-empty-main-cf")
    local = deliveries(result, host="mail.example.com", service="local")
    assert list(local.to) == ["carla@mail.example.com"] and list(local.orig_to) == ["root@mail.example.com"]
    direct = deliveries(result, host="mail.example.com", service="smtp")
    assert list(direct.relay) == ["mx.example.net[203.0.113.25]:25"] and list(direct.status) == ["sent"]
    # Postfix 3.7 at compatibility_level 0 has no relay restriction at all: smtpd refuses to start.
    [fatal] = result.trace.select("fatal", host="mail.example.com")
    assert "specify at least one working instance of: reject_unauth_destination" in fatal.get("text")


def test_null_client_relays_everything_to_the_bracketed_relayhost():
    result = run(SCENARIOS / "seed-null-client")
    sent = deliveries(result, host="ws.example.edu")
    assert list(sent.service) == ["smtp"] and list(sent.relay) == ["mail.example.edu[192.0.2.10]:25"]
    assert list(sent.to) == ["root@example.edu"] and list(sent.orig_to) == ["root"]  # @$myorigin appended
    assert deliveries(result, host="ws.example.edu", service="local").empty
    final = deliveries(result, host="mail.example.edu", service="local")
    assert list(final.to) == ["evi@example.edu"]
    # smtpd is commented out in master.cf: nothing listens on the workstation's port 25.
    [attempt] = [r for r in result.trace.select("submit", service="ua") if r.get("server") == "192.0.2.51"]
    assert attempt.get("outcome") == "refused"


def test_a_domain_hosted_each_of_the_three_ways():
    result = run(SCENARIOS / "seed-hosting-three-ways")
    by_rcpt = {(row.to, row.orig_to): row.service for row in deliveries(result, status="sent").itertuples()}
    assert by_rcpt[("fran@example.com", "fran@example.com")] == "local"  # mydestination
    assert by_rcpt[("gil@box.example", "info@alias.example")] == "virtual"  # alias domain -> mailbox domain
    assert by_rcpt[("hana@box.example", "hana@box.example")] == "virtual"  # virtual mailbox domain
    replies = [r.get("reply") for r in result.trace.select("reject")]
    assert "550 5.1.1 <nobody@alias.example>: Recipient address rejected: User unknown in virtual alias table" in replies
    assert "550 5.1.1 <nobody@box.example>: Recipient address rejected: User unknown in virtual mailbox table" in replies
    files = result.world.files / "hosts/mail.example.com"
    assert len(list((files / "var/vmail/box.example/gil/new").iterdir())) == 1  # Maildir (map value ends in /)
    assert len(mailbox.mbox(files / "var/vmail/box.example/hana")) == 1  # mbox


def test_the_open_relay_mistake_and_its_fix():
    mistake = run(SCENARIOS / "seed-open-relay")
    victim = deliveries(mistake, host="mx.example.net", to="victim@example.net")
    assert list(victim.status) == ["sent"]  # the spam got through relay.example.com
    fixed = run(SCENARIOS / "seed-open-relay-fixed")
    assert deliveries(fixed, host="mx.example.net").empty
    [reject] = fixed.trace.select("reject", host="relay.example.com")
    assert reject.get("reply") == "454 4.7.1 <victim@example.net>: Relay access denied"
