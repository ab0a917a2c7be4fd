"""smtpd access restrictions: each restriction, stages and delayed evaluation, access(5) actions."""

from __future__ import annotations

import pytest

from mailsim.core.errors import ConfigError
from mailsim.policy.restrictions import ActionKind, DnsblAnswer, DnsStatus, PolicyWorld, Stage
from tests.policy.policy_helpers import USERS, Table, context, line, rcpt, restrictions, session_lines

LOCAL = "alice@mx.example.com"
REMOTE = "bob@remote.example"
TRUSTED = {"client": "192.0.2.77", "name": "pc.example.com"}


def recipient_rule(rule: str, recipient: str = LOCAL, tables=None, world=None, **fields) -> str:  # type: ignore[no-untyped-def]
    """The RCPT reply with ``rule`` as smtpd_recipient_restrictions, from a client that may relay."""
    policy = restrictions(tables, world, mynetworks="192.0.2.0/24", smtpd_recipient_restrictions=rule)
    return line(rcpt(policy, recipient, **{**TRUSTED, **fields}))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("permit", "250 2.1.5 Ok"),
        ("reject", "554 5.7.1 <alice@mx.example.com>: Recipient address rejected: Access denied"),
        ("defer", "450 4.3.2 <alice@mx.example.com>: Recipient address rejected: Try again later"),
        ("defer_if_permit", "450 4.7.0 <alice@mx.example.com>: Recipient address rejected: defer_if_permit requested"),
        ("defer_if_permit, reject", "554 5.7.1 <alice@mx.example.com>: Recipient address rejected: Access denied"),
        (
            "defer_if_reject, reject",
            "450 4.7.0 <alice@mx.example.com>: Recipient address rejected: defer_if_reject requested",
        ),
        ("warn_if_reject, reject", "250 2.1.5 Ok"),
        (
            "warn_if_reject, reject_non_fqdn_recipient, reject",
            "554 5.7.1 <alice@mx.example.com>: Recipient address rejected: Access denied",
        ),
    ],
)
def test_generic_restrictions(rule: str, expected: str) -> None:
    assert recipient_rule(rule) == expected


def test_warn_if_reject_logs_a_reject_warning() -> None:
    verdict = rcpt(restrictions(smtpd_recipient_restrictions="warn_if_reject, reject"), LOCAL)
    assert [entry.what for entry in verdict.log] == ["reject_warning"]


def test_reject_unauth_destination_and_its_deferring_twin() -> None:
    def relay_rule(rule: str, recipient: str) -> str:
        return line(rcpt(restrictions(smtpd_relay_restrictions=rule), recipient))

    assert relay_rule("reject_unauth_destination", REMOTE) == "554 5.7.1 <bob@remote.example>: Relay access denied"
    assert relay_rule("defer_unauth_destination", REMOTE) == "454 4.7.1 <bob@remote.example>: Relay access denied"
    assert relay_rule("permit_auth_destination, reject", LOCAL) == "250 2.1.5 Ok"
    assert relay_rule("permit_auth_destination, reject", REMOTE).startswith("554 5.7.1 <bob@remote.example>: Recipient")


def test_permit_mynetworks_and_sasl() -> None:
    policy = restrictions(mynetworks="192.0.2.0/24")
    assert line(rcpt(policy, REMOTE, **TRUSTED)) == "250 2.1.5 Ok"
    assert line(rcpt(policy, REMOTE, sasl_username="alice")) == "250 2.1.5 Ok"
    assert line(rcpt(policy, REMOTE)) == "454 4.7.1 <bob@remote.example>: Relay access denied"


@pytest.mark.parametrize(("style", "trusted"), [("host", False), ("subnet", True)])
def test_mynetworks_style_from_the_host_interfaces(style: str, trusted: bool) -> None:
    policy = restrictions(mynetworks_style=style)
    accepted = rcpt(policy, REMOTE, **TRUSTED).accepted
    assert accepted is trusted
    assert rcpt(policy, REMOTE, client="127.0.0.1", name="localhost").accepted


def test_mynetworks_exclusion_and_names() -> None:
    policy = restrictions(mynetworks="!192.0.2.77, 192.0.2.0/24, .trusted.example")
    assert not rcpt(policy, REMOTE, **TRUSTED).accepted
    assert rcpt(policy, REMOTE, client="198.51.100.1", name="gw.trusted.example").accepted


@pytest.mark.parametrize(
    ("rule", "fields", "expected"),
    [
        (
            "reject_non_fqdn_recipient",
            {"recipient": "alice"},
            "504 5.5.2 <alice>: Recipient address rejected: need fully-qualified address",
        ),
        (
            "reject_non_fqdn_sender",
            {"sender": "bob@localhost"},
            "504 5.5.2 <bob@localhost>: Sender address rejected: need fully-qualified address",
        ),
        (
            "reject_non_fqdn_helo_hostname",
            {"helo": "pc"},
            "504 5.5.2 <pc>: Helo command rejected: need fully-qualified hostname",
        ),
        (
            "reject_invalid_helo_hostname",
            {"helo": "bad_host!"},
            "501 5.5.2 <bad_host!>: Helo command rejected: Invalid name",
        ),
        (
            "reject_invalid_helo_hostname",
            {"helo": "[300.1.1.1]"},
            "501 5.5.2 <[300.1.1.1]>: Helo command rejected: invalid ip address",
        ),
        ("reject_non_fqdn_helo_hostname", {"helo": "pc.example.com."}, "250 2.1.5 Ok"),
        (
            "reject_unlisted_sender",
            {"sender": "ghost@mx.example.com"},
            "550 5.1.0 <ghost@mx.example.com>: Sender address rejected: User unknown in local recipient table",
        ),
        (
            "reject_unlisted_recipient",
            {"recipient": "ghost@mx.example.com"},
            "550 5.1.1 <ghost@mx.example.com>: Recipient address rejected: User unknown in local recipient table",
        ),
        ("reject_plaintext_session", {}, "450 4.7.1 Session encryption is required"),
        ("reject_plaintext_session", {"encrypted": True}, "250 2.1.5 Ok"),
        (
            "reject_unknown_client_hostname",
            {"name": "unknown", "client_name_status": "perm"},
            "450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.77]",
        ),
        (
            "reject_multi_recipient_bounce",
            {"sender": "", "recipient_count": 1},
            "550 5.5.3 <alice@mx.example.com>: Recipient address rejected: Multi-recipient bounce",
        ),
    ],
)
def test_syntax_and_client_restrictions(rule: str, fields: dict[str, object], expected: str) -> None:
    recipient = str(fields.pop("recipient", LOCAL))
    assert recipient_rule(rule, recipient, **fields) == expected


def dns(status: DnsStatus) -> PolicyWorld:
    return PolicyWorld(mail_domain=lambda domain: status, host_name=lambda name: status, local_users=USERS.__contains__)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (DnsStatus.OK, "250 2.1.5 Ok"),
        (DnsStatus.NOT_FOUND, "450 4.1.2 <bob@nowhere.example>: Recipient address rejected: Domain not found"),
        (DnsStatus.TEMPFAIL, "450 4.1.2 <bob@nowhere.example>: Recipient address rejected: Domain not found"),
        (
            DnsStatus.NULL_MX,
            "556 5.1.10 <bob@nowhere.example>: Recipient address rejected: Domain nowhere.example does not accept mail (nullMX)",
        ),
    ],
)
def test_reject_unknown_recipient_domain(status: DnsStatus, expected: str) -> None:
    rule = "reject_unknown_recipient_domain, permit"
    assert recipient_rule(rule, "bob@nowhere.example", world=dns(status)) == expected


def test_unknown_domain_tempfail_is_only_a_defer_if_permit() -> None:
    rule = "reject_unknown_recipient_domain, reject"
    expected = "554 5.7.1 <bob@nowhere.example>: Recipient address rejected: Access denied"
    assert recipient_rule(rule, "bob@nowhere.example", world=dns(DnsStatus.TEMPFAIL)) == expected


def test_unknown_sender_domain_and_local_domains_are_not_looked_up() -> None:
    world = dns(DnsStatus.NOT_FOUND)
    rule = "reject_unknown_sender_domain"
    assert recipient_rule(rule, sender="x@nowhere.example", world=world) == (
        "450 4.1.8 <x@nowhere.example>: Sender address rejected: Domain not found"
    )
    assert recipient_rule(rule, sender="root@mx.example.com", world=world) == "250 2.1.5 Ok"


def test_reject_unknown_helo_hostname() -> None:
    rule = "reject_unknown_helo_hostname"
    assert recipient_rule(rule, world=dns(DnsStatus.NOT_FOUND), helo="ghost.example") == (
        "450 4.7.1 <ghost.example>: Helo command rejected: Host not found"
    )


def test_unverified_recipient_is_not_modelled_and_says_so() -> None:
    verdict = rcpt(restrictions(smtpd_recipient_restrictions="reject_unverified_recipient"), LOCAL)
    assert verdict.accepted and "not modelled" in verdict.log[0].text


ACCESS = Table(
    """
    rejected@remote.example  REJECT
    texted@remote.example    REJECT go away
    deferred@remote.example  DEFER
    numeric@remote.example   550 5.7.0 no thanks
    classed@remote.example   4.1.1 bad
    held@remote.example      HOLD
    dropped@remote.example   DISCARD
    headed@remote.example    PREPEND X-Checked: yes
    moved@remote.example     REDIRECT archive@mx.example.com
    filtered@remote.example  FILTER scan:[127.0.0.1]:10025
    ok@remote.example        OK
    dunno@remote.example     DUNNO
    strict@remote.example    strict_class
    blocked.example          REJECT whole domain
    """
)


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        ("rejected@remote.example", "554 5.7.1 <rejected@remote.example>: Recipient address rejected: Access denied"),
        ("texted@remote.example", "554 5.7.1 <texted@remote.example>: Recipient address rejected: go away"),
        ("deferred@remote.example", "450 4.7.1 <deferred@remote.example>: Recipient address rejected: Access denied"),
        ("numeric@remote.example", "550 5.7.0 <numeric@remote.example>: Recipient address rejected: no thanks"),
        ("classed@remote.example", "451 4.3.5 Server configuration error"),
        ("ok@remote.example", "250 2.1.5 Ok"),
        ("dunno@remote.example", "554 5.7.1 <dunno@remote.example>: Relay access denied"),
        ("strict@remote.example", "504 5.5.2 <pc>: Helo command rejected: need fully-qualified hostname"),
        ("x@sub.blocked.example", "554 5.7.1 <x@sub.blocked.example>: Recipient address rejected: whole domain"),
    ],
)
def test_recipient_access_actions(recipient: str, expected: str) -> None:
    policy = restrictions(
        {"hash:/etc/postfix/access": ACCESS},
        smtpd_relay_restrictions="",
        smtpd_restriction_classes="strict_class",
        strict_class="reject_non_fqdn_helo_hostname, reject_non_fqdn_recipient",
        smtpd_recipient_restrictions="check_recipient_access hash:/etc/postfix/access, reject_unauth_destination",
    )
    assert line(rcpt(policy, recipient, helo="pc")) == expected


@pytest.mark.parametrize(
    ("recipient", "kind", "value"),
    [
        ("held@remote.example", ActionKind.HOLD, ""),
        ("dropped@remote.example", ActionKind.DISCARD, ""),
        ("headed@remote.example", ActionKind.PREPEND, "X-Checked: yes"),
        ("moved@remote.example", ActionKind.REDIRECT, "archive@mx.example.com"),
        ("filtered@remote.example", ActionKind.FILTER, "scan:[127.0.0.1]:10025"),
    ],
)
def test_access_side_effects(recipient: str, kind: ActionKind, value: str) -> None:
    policy = restrictions(
        {"hash:a": ACCESS},
        mynetworks="192.0.2.0/24",
        smtpd_recipient_restrictions="check_recipient_access hash:a, permit_auth_destination",
    )
    verdict = rcpt(policy, recipient, **TRUSTED)
    assert [(action.kind, action.value) for action in verdict.actions] == [(kind, value)]


def test_discard_permits_and_skips_the_recipient_table() -> None:
    policy = restrictions(
        {"hash:a": Table({"ghost@mx.example.com": "DISCARD"})},
        smtpd_recipient_restrictions="check_recipient_access hash:a",
    )
    assert rcpt(policy, "ghost@mx.example.com").accepted


def test_client_sender_and_helo_access() -> None:
    table = Table({"192.0.2": "REJECT no thanks", "spammer.example": "REJECT", "<>": "550 no bounces here"})
    tables = {"hash:a": table}
    assert recipient_rule("check_client_access hash:a", tables=tables) == (
        "554 5.7.1 <pc.example.com[192.0.2.77]>: Client host rejected: no thanks"
    )
    assert recipient_rule("check_helo_access hash:a", tables=tables, helo="mx.spammer.example") == (
        "554 5.7.1 <mx.spammer.example>: Helo command rejected: Access denied"
    )
    assert recipient_rule("check_sender_access hash:a", tables=tables, sender="") == (
        "550 5.7.1 <>: Sender address rejected: no bounces here"
    )


def test_sender_access_dsn_is_made_a_sender_status() -> None:
    tables = {"hash:a": Table({"x@remote.example": "REJECT 5.1.1 gone"})}
    assert recipient_rule("check_sender_access hash:a", tables=tables, sender="x@remote.example") == (
        "554 5.1.7 <x@remote.example>: Sender address rejected: gone"
    )


def test_rbl_and_rhsbl() -> None:
    listed = {
        "77.2.0.192.zen.example": DnsblAnswer(("127.0.0.2",), "see https://zen.example"),
        "spam.example.dbl.example": DnsblAnswer(("127.0.1.2",)),
    }
    world = PolicyWorld(dnsbl=listed.get, local_users=USERS.__contains__)
    assert recipient_rule("reject_rbl_client zen.example", world=world) == (
        "554 5.7.1 Service unavailable; Client host [192.0.2.77] blocked using zen.example; see https://zen.example"
    )
    assert recipient_rule("reject_rbl_client zen.example=127.0.0.[3..9]", world=world) == "250 2.1.5 Ok"
    assert recipient_rule("reject_rhsbl_sender dbl.example", world=world, sender="x@spam.example") == (
        "554 5.7.1 Service unavailable; Sender address [x@spam.example] blocked using dbl.example"
    )


def test_policy_service_answers_like_an_access_table() -> None:
    seen = []

    def greylist(attributes):  # type: ignore[no-untyped-def]
        seen.append(attributes)
        return "DEFER_IF_PERMIT Greylisted, see http://postgrey.example"

    world = PolicyWorld(policy_services={"inet:127.0.0.1:10023": greylist}, local_users=USERS.__contains__)
    result = recipient_rule("check_policy_service inet:127.0.0.1:10023", world=world)
    assert (
        result
        == "450 4.7.1 <alice@mx.example.com>: Recipient address rejected: Greylisted, see http://postgrey.example"
    )
    assert seen[0]["request"] == "smtpd_access_policy" and seen[0]["recipient"] == LOCAL
    assert recipient_rule("check_policy_service unix:private/none") == "451 4.3.5 Server configuration problem"


def test_unknown_restriction_is_a_server_configuration_error() -> None:
    assert recipient_rule("reject_everything_bad") == "451 4.3.5 Server configuration error"


def test_open_relay_configuration_is_refused_at_startup() -> None:
    with pytest.raises(ConfigError, match="specify at least one working instance of"):
        restrictions(smtpd_relay_restrictions="permit")


def test_delayed_evaluation_client_helo_sender_run_at_rcpt_in_order() -> None:
    policy = restrictions(
        smtpd_client_restrictions="reject_unknown_client_hostname",
        smtpd_helo_restrictions="reject_non_fqdn_helo_hostname",
        smtpd_sender_restrictions="reject_non_fqdn_sender",
    )
    ctx = context(LOCAL, sender="bob", helo="pc", name="unknown", client_name_status="perm")
    assert policy.check(Stage.CONNECT, ctx).accepted
    assert policy.check(Stage.HELO, ctx).accepted
    assert policy.check(Stage.MAIL, ctx).accepted
    assert line(policy.check(Stage.RCPT, ctx)).startswith("450 4.7.1 Client host rejected")
    assert line(rcpt(policy, LOCAL, sender="bob", helo="pc")).startswith("504 5.5.2 <pc>: Helo")
    assert line(rcpt(policy, LOCAL, sender="bob")).startswith("504 5.5.2 <bob>: Sender")


def test_without_delay_reject_each_stage_answers_at_its_command() -> None:
    policy = restrictions(smtpd_delay_reject="no", smtpd_helo_restrictions="reject_non_fqdn_helo_hostname")
    ctx = context(LOCAL, helo="pc")
    assert policy.check(Stage.CONNECT, ctx).accepted
    assert line(policy.check(Stage.HELO, ctx)) == "504 5.5.2 <pc>: Helo command rejected: need fully-qualified hostname"
    assert policy.check(Stage.RCPT, ctx).accepted


def test_client_defer_if_permit_turns_a_later_permit_into_450() -> None:
    policy = restrictions(smtpd_client_restrictions="defer_if_permit")
    expected = "450 4.7.0 <client.example.net[203.0.113.5]>: Client host rejected: defer_if_permit requested"
    assert session_lines(policy, context(), [LOCAL]) == [expected]


def test_relay_restrictions_run_before_recipient_restrictions_and_permit_does_not_skip_them() -> None:
    policy = restrictions(mynetworks="192.0.2.0/24", smtpd_recipient_restrictions="reject_non_fqdn_recipient")
    assert line(rcpt(policy, "bob@localhost", **TRUSTED)).startswith("504 5.5.2 <bob@localhost>")
    assert line(rcpt(policy, "bob@localhost")).startswith("504 5.5.2")
    assert line(rcpt(policy, "bob@remote")).startswith("454 4.7.1 <bob@remote>: Relay access denied")


def test_bare_postmaster_is_always_accepted() -> None:
    policy = restrictions(smtpd_client_restrictions="reject")
    assert rcpt(policy, "Postmaster").accepted
    assert not rcpt(policy, "postmaster@mx.example.com").accepted


def test_data_and_end_of_data_restrictions() -> None:
    policy = restrictions(
        smtpd_data_restrictions="reject_multi_recipient_bounce", smtpd_end_of_data_restrictions="reject"
    )
    ctx = context(LOCAL, sender="", recipient_count=2)
    assert line(policy.check(Stage.DATA, ctx)) == "550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce"
    assert line(policy.check(Stage.END_OF_DATA, context(LOCAL, recipient_count=1))) == (
        "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied"
    )


def test_unlisted_recipients_in_each_address_class() -> None:
    tables = {"hash:vm": Table({"known@vmail.example": "x"}), "hash:rr": Table({"known@relay.example": "x"})}
    policy = restrictions(
        tables,
        virtual_mailbox_domains="vmail.example",
        virtual_mailbox_maps="hash:vm",
        virtual_alias_domains="valias.example",
        relay_domains="relay.example",
        relay_recipient_maps="hash:rr",
    )
    assert rcpt(policy, "known@vmail.example").accepted
    assert line(rcpt(policy, "x@vmail.example")).endswith("User unknown in virtual mailbox table")
    assert line(rcpt(policy, "x@valias.example")).endswith("User unknown in virtual alias table")
    assert line(rcpt(policy, "x@relay.example")).endswith("User unknown in relay recipient table")
    assert rcpt(policy, "known@relay.example").accepted


def test_sender_login_mismatch() -> None:
    tables = {"hash:l": Table({"alice@example.com": "alice"})}
    policy = restrictions(
        tables, smtpd_sender_login_maps="hash:l", smtpd_sender_restrictions="reject_sender_login_mismatch"
    )
    assert line(rcpt(policy, LOCAL, sender="alice@example.com", sasl_username="bob")) == (
        "553 5.7.1 <alice@example.com>: Sender address rejected: not owned by user bob"
    )
    assert line(rcpt(policy, LOCAL, sender="alice@example.com")) == (
        "553 5.7.1 <alice@example.com>: Sender address rejected: not logged in"
    )
    assert rcpt(policy, LOCAL, sender="alice@example.com", sasl_username="alice").accepted


def test_soft_bounce_turns_rejects_into_deferrals() -> None:
    """soft_bounce changes only the first digit, as Postfix does: 554 becomes 454."""
    policy = restrictions(soft_bounce="yes", smtpd_recipient_restrictions="reject")
    assert line(rcpt(policy, LOCAL)) == "454 4.7.1 <alice@mx.example.com>: Recipient address rejected: Access denied"
