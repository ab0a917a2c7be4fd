"""mailsim's smtpd verdicts against a real Postfix 3.7 on the same main.cf (tests/postfix_oracle.py).

One Postfix instance serves every configuration below as its own smtpd service (master.cf ``-o``). Each
recipient is asked in a session of its own, from 127.0.0.1 (``localhost``); mailsim is given the same main.cf
text, the same table contents and this machine's passwd as its local users. Every reply must agree to the
character; a configuration Postfix refuses to run must be a ConfigError in mailsim.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator, Mapping

import pytest

from mailsim.config.hostfacts import HostFacts
from mailsim.config.maincf import parse_main_cf
from mailsim.core.errors import ConfigError
from mailsim.policy.relay import relay_battery
from mailsim.policy.restrictions import PolicyWorld, SmtpdContext, SmtpdRestrictions
from tests.peers import require
from tests.policy.policy_helpers import Static, Table, session_lines
from tests.postfix_oracle import BASE_MAIN_CF, DISCONNECTED, PostfixOracle

pytestmark = pytest.mark.peer

FOREIGN = {"mynetworks": "10.9.9.0/24"}
TRUSTED = {"mynetworks": "127.0.0.0/8"}
PROBES = relay_battery("mx.example.com", "127.0.0.1")
ACCESS = """\
block@example.net REJECT
soft@example.net DEFER
custom@example.net REJECT go away
num@example.net 550 5.7.0 no thanks
num2@example.net 450 slow down
num3@example.net 550 4.1.1 odd class digit
numd@example.net 521 nope
ok@example.net OK
hold@example.net HOLD
restr@example.net reject_unauth_destination
cls@example.net myclass
dfr@example.net DEFER try later
badsite.org REJECT
user@ REJECT local part only
bogus@example.net FOOBAR
rej2@example.net REJECT 4.1.1 dsn in text
dfif@example.net defer_if_permit
.sub.badsite2.org OK
badsite2.org REJECT
allnum@example.net 12345
spammer@example.net REJECT no spam
example.org REJECT domain blocked
<> REJECT no bounces
localhost REJECT by name
badhelo.example REJECT bad helo
sender@example.net 550 5.1.1 numeric sender
"""
ACCESS_RCPTS = [line.split()[0] for line in ACCESS.splitlines()[:17]] + [
    "x@badsite.org",
    "x@sub.badsite.org",
    "a@x.sub.badsite2.org",
    "a@sub.badsite2.org",
]
RCPTS = ["user@example.org", "root@mx.example.com", "nosuchuser@mx.example.com", "nofqdn", "Postmaster"]
ACC = "check_recipient_access texthash:$config_directory/access"

# name → (settings, recipients, sender, helo, SASL login)
CASES: dict[str, tuple[dict[str, str], list[str], str, str, tuple[str, str] | None]] = {}
# Settings trivial-rewrite reads (address classes, dequoting) must be in main.cf itself: a master.cf -o on
# smtpd does not reach the trivial-rewrite daemon that resolves smtpd's addresses. Such cases get their own
# Postfix instance; the others share one instance as smtpd services.
OWN_INSTANCE: set[str] = set()


def case(
    name: str,
    settings: dict[str, str],
    rcpts=RCPTS,
    sender="someone@example.net",
    helo="client.example.net",
    auth=None,
    own=False,
) -> None:  # type: ignore[no-untyped-def]
    CASES[name] = (settings, list(rcpts), sender, helo, auth)
    if own:
        OWN_INSTANCE.add(name)


BATTERY = [probe.path for probe in PROBES]
case("battery foreign", FOREIGN, BATTERY)
case("battery mynetworks", TRUSTED, BATTERY)
case("battery sasl", FOREIGN, BATTERY, auth=("alice", "secret"))
case("battery open relay mistake", {"mynetworks": "0.0.0.0/0"}, BATTERY)
case(
    "battery fixed with reject",
    {**FOREIGN, "smtpd_relay_restrictions": "permit_mynetworks,permit_sasl_authenticated,reject_unauth_destination"},
    BATTERY,
)
case(
    "battery access map open relay",
    {**FOREIGN, "smtpd_relay_restrictions": "check_client_access static:OK,reject_unauth_destination"},
    BATTERY,
)
case(
    "battery no dequoting", {**FOREIGN, "resolve_dequoted_address": "no", "local_recipient_maps": ""}, BATTERY, own=True
)
case(
    "battery untrusted routing",
    {**FOREIGN, "resolve_dequoted_address": "no", "allow_untrusted_routing": "yes", "local_recipient_maps": ""},
    BATTERY,
    own=True,
)
case("refused: relay permit", {"smtpd_relay_restrictions": "permit"}, ["a@b.example"])
case("refused: compatibility level 0", {"compatibility_level": "0"}, ["a@b.example"])
case(
    "access actions",
    {
        **TRUSTED,
        "smtpd_restriction_classes": "myclass",
        "myclass": "reject",
        "smtpd_recipient_restrictions": f"{ACC},permit",
    },
    ACCESS_RCPTS,
)
for number, rule in enumerate(
    [
        "reject",
        "defer",
        "defer_if_permit,permit",
        "defer_if_reject,reject",
        f"defer_if_reject,{ACC}",
        "warn_if_reject,reject",
        "defer_if_permit,reject",
        "reject_unlisted_recipient",
        "reject_non_fqdn_recipient",
        "permit_auth_destination,reject",
        "bogus_restriction",
        "warn_if_reject,reject_non_fqdn_recipient,reject_unauth_destination",
    ]
):
    case(f"recipient list {number}: {rule}", {**TRUSTED, "smtpd_recipient_restrictions": rule})
SENDER_ACCESS = {**TRUSTED, "smtpd_sender_restrictions": "check_sender_access texthash:$config_directory/access"}
TWO = ["root@mx.example.com", "user@remote.org"]
case("sender access", SENDER_ACCESS, TWO, sender="spammer@example.net")
case("sender parent domain", SENDER_ACCESS, TWO, sender="x@sub.example.org")
case("null sender", SENDER_ACCESS, TWO, sender="")
case("sender dsn made a sender status", SENDER_ACCESS, TWO, sender="sender@example.net")
case(
    "client by name",
    {**TRUSTED, "smtpd_client_restrictions": "check_client_access texthash:$config_directory/access"},
    TWO,
)
case(
    "helo access",
    {**TRUSTED, "smtpd_helo_restrictions": "check_helo_access texthash:$config_directory/access"},
    TWO,
    helo="badhelo.example",
)
case("helo not fqdn", {**TRUSTED, "smtpd_helo_restrictions": "reject_non_fqdn_helo_hostname"}, TWO, helo="localhost")
case("helo invalid", {**TRUSTED, "smtpd_helo_restrictions": "reject_invalid_helo_hostname"}, TWO, helo="bad_host!name")
case(
    "helo bad literal", {**TRUSTED, "smtpd_helo_restrictions": "reject_invalid_helo_hostname"}, TWO, helo="[300.1.1.1]"
)
case(
    "client stage before recipient",
    {**TRUSTED, "smtpd_client_restrictions": "reject", "smtpd_recipient_restrictions": "reject_non_fqdn_recipient"},
    ["nofqdn", "root@mx.example.com"],
)
case(
    "helo stage before sender",
    {
        **TRUSTED,
        "smtpd_helo_restrictions": "reject_non_fqdn_helo_hostname",
        "smtpd_sender_restrictions": "reject_non_fqdn_sender",
    },
    TWO,
    sender="nofqdn",
    helo="localhost",
)
case(
    "sender stage before relay",
    {**FOREIGN, "smtpd_sender_restrictions": "reject_non_fqdn_sender"},
    TWO,
    sender="nofqdn",
)
case(
    "client permit does not skip later stages",
    {**FOREIGN, "smtpd_client_restrictions": "permit", "smtpd_sender_restrictions": "reject_non_fqdn_sender"},
    TWO,
    sender="nofqdn",
)
case("client defer_if_permit", {**TRUSTED, "smtpd_client_restrictions": "defer_if_permit"}, TWO)
case(
    "client defer_if_permit then recipient reject",
    {
        **TRUSTED,
        "smtpd_client_restrictions": "defer_if_permit",
        "smtpd_recipient_restrictions": "reject_non_fqdn_recipient",
    },
    ["nofqdn", "root@mx.example.com"],
)
case(
    "sasl then recipient list",
    {**FOREIGN, "smtpd_recipient_restrictions": "reject_non_fqdn_recipient"},
    ["nofqdn", "x@remote.org"],
    auth=("alice", "secret"),
)
case(
    "no delayed reject",
    {
        **TRUSTED,
        "smtpd_delay_reject": "no",
        "smtpd_client_restrictions": "check_client_access texthash:$config_directory/access",
    },
    TWO,
)
case(
    "restriction class",
    {
        **TRUSTED,
        "smtpd_restriction_classes": "strict",
        "strict": "reject_non_fqdn_recipient,reject_unauth_destination",
        "smtpd_recipient_restrictions": "strict",
    },
    ["nofqdn", "x@remote.org", "root@mx.example.com"],
)
case(
    "relay_domains",
    {**FOREIGN, "relay_domains": "remote.org"},
    ["x@remote.org", "x@sub.remote.org", "x@other.org"],
    own=True,
)
case(
    "relay recipient table",
    {**FOREIGN, "relay_domains": "remote.org", "relay_recipient_maps": "texthash:$config_directory/access"},
    ["x@remote.org", "spammer@example.net"],
    own=True,
)
case(
    "virtual alias domain",
    {**FOREIGN, "virtual_alias_domains": "valias.example", "virtual_alias_maps": "texthash:$config_directory/access"},
    ["known@valias.example", "x@valias.example"],
    own=True,
)
case(
    "virtual mailbox domain",
    {
        **FOREIGN,
        "virtual_mailbox_domains": "vmail.example",
        "virtual_mailbox_maps": "texthash:$config_directory/access",
    },
    ["x@vmail.example"],
    own=True,
)
case(
    "compat 0 with explicit relay check",
    {
        **FOREIGN,
        "compatibility_level": "0",
        "smtpd_recipient_restrictions": "permit_mynetworks,reject_unauth_destination",
    },
    ["root@mx.example.com", "x@remote.org", "root@localhost"],
    own=True,
)
case("soft bounce", {**TRUSTED, "soft_bounce": "yes", "smtpd_recipient_restrictions": "reject"}, TWO)
TABLES = {"access": ACCESS + "known@valias.example root\n"}
USERS = {"alice": "secret"}


def _service(name: str) -> str:
    return "s" + str(list(CASES).index(name))


class Oracles:
    """The shared instance (one smtpd service per case) and, on demand, instances of their own."""

    def __init__(self) -> None:
        shared = {_service(name): settings for name, (settings, *_r) in CASES.items() if name not in OWN_INSTANCE}
        self.shared = PostfixOracle(tables=TABLES, users=USERS, services=shared)
        self.shared.start()
        self.own: list[PostfixOracle] = []

    def for_case(self, name: str) -> tuple[PostfixOracle, str | None]:
        if name not in OWN_INSTANCE:
            return self.shared, _service(name)
        oracle = PostfixOracle(CASES[name][0], tables=TABLES, users=USERS)
        oracle.start()
        self.own.append(oracle)
        return oracle, None

    def stop(self) -> None:
        for oracle in (self.shared, *self.own):
            oracle.stop()


@pytest.fixture(scope="module")
def oracles() -> Iterator[Oracles]:
    require("postfix")
    if os.geteuid() != 0:
        pytest.skip("a throwaway Postfix instance needs root")
    found = Oracles()
    try:
        yield found
    finally:
        found.stop()


def _local_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def mailsim_lines(
    overrides: Mapping[str, str], rcpts: list[str], sender: str, helo: str, login: str | None
) -> list[str]:
    """What mailsim answers with the same main.cf (as the service's smtpd sees it) and tables."""
    text = "".join(f"{key} = {value}\n" for key, value in {**BASE_MAIN_CF, **overrides}.items())
    tables = {f"texthash:/etc/postfix/{name}": Table(body) for name, body in TABLES.items()}
    tables["static:OK"] = Static("OK")  # type: ignore[assignment]
    try:
        policy = SmtpdRestrictions.from_main(
            parse_main_cf(text, host=HostFacts("mx.example.com")), tables, PolicyWorld(local_users=_local_user)
        )
    except ConfigError:
        return ["REFUSED"] * len(rcpts)
    ctx = SmtpdContext("127.0.0.1", "localhost", helo_name=helo, sender=sender, sasl_username=login)
    return session_lines(policy, ctx, [PROBE_RECIPIENT.get(r, r) for r in rcpts])


PROBE_RECIPIENT = {probe.path: probe.recipient for probe in PROBES}


def postfix_lines(oracles: Oracles, name: str, rcpts: list[str], sender: str, helo: str, auth) -> list[str]:  # type: ignore[no-untyped-def]
    postfix, service = oracles.for_case(name)
    replies = [postfix.rcpt(rcpt, sender=sender, helo=helo, auth=auth, service=service) for rcpt in rcpts]
    if any(reply.code == DISCONNECTED for reply in replies) and postfix.refused(service) is not None:
        return ["REFUSED"] * len(rcpts)
    return [reply.line for reply in replies]


@pytest.mark.parametrize("name", list(CASES))
def test_mailsim_answers_like_postfix(oracles: Oracles, name: str) -> None:
    overrides, rcpts, sender, helo, auth = CASES[name]
    expected = postfix_lines(oracles, name, rcpts, sender, helo, auth)
    found = mailsim_lines(overrides, rcpts, sender, helo, auth[0] if auth else None)
    assert list(zip(rcpts, found)) == list(zip(rcpts, expected))


def test_battery_is_refused_by_real_postfix_too(oracles: Oracles) -> None:
    """The must-show, on the real thing: every trick 454s from a foreign client."""
    lines = postfix_lines(oracles, "battery foreign", BATTERY, "someone@example.net", "client.example.net", None)
    assert all(line.startswith("454 4.7.1 <") and line.endswith(">: Relay access denied") for line in lines)
