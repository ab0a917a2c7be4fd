"""local(8) alias expansion: the seed's /etc/aliases examples, loops, owner- aliases, :include:, .forward."""

from __future__ import annotations

import pytest

from mailsim.policy.aliases import AliasSettings, TargetKind, expand_aliases, expand_forward, local_resolver
from tests.policy.policy_helpers import Table, rewrite_settings

ALIASES = Table(
    {
        "mailer-daemon": '"/dev/null"',
        "postmaster": "root",
        "cron-status": "/usr/local/admin/cron-status-messages",
        "autolog": '"|/usr/local/bin/autologger"',
        "abdou": "abdou@otherhost.example.net",
        "staff": ":include:/etc/mail/staff",
        "a": "b",
        "b": "a",
        "self": "self, bob",
        "list": "alice, bob, alice, carol@elsewhere.org",
        "owner-list": "listadmin",
        "tricky": ":include:/etc/mail/tricky",
        "relative": ":include:etc/mail/staff",
        "empty": ",",
        "nested": "postmaster, list",
    }
)
FILES = {
    "/etc/mail/staff": "# the staff\nalice\nbob, carol@elsewhere.org\n",
    "/etc/mail/tricky": "/var/log/tricky, |/bin/cat\nroot\n",
}


def expand(name: str, **settings: object):  # type: ignore[no-untyped-def]
    policy = AliasSettings(alias_maps=(ALIASES,), **settings)  # type: ignore[arg-type]
    resolver = local_resolver(rewrite_settings())
    return expand_aliases(f"{name}@mx.example.com", policy, resolver, FILES.__getitem__)


@pytest.mark.parametrize(
    ("name", "targets"),
    [
        ("mailer-daemon", (("file", "/dev/null"),)),
        ("postmaster", (("mailbox", "root"),)),
        ("cron-status", (("file", "/usr/local/admin/cron-status-messages"),)),
        ("autolog", (("command", "/usr/local/bin/autologger"),)),
        ("abdou", (("forward", "abdou@otherhost.example.net"),)),
        ("alice", (("mailbox", "alice"),)),
    ],
)
def test_seed_aliases(name: str, targets: tuple[tuple[str, str], ...]) -> None:
    assert expand(name).values == targets


def test_alias_shadows_the_real_user() -> None:
    """The seed: ``abdou: abdou@otherhost`` keeps the local user abdou from ever receiving mail."""
    assert not expand("abdou").of_kind(TargetKind.MAILBOX)


def test_chain_records_how_a_target_was_reached() -> None:
    (target,) = expand("nested").of_kind(TargetKind.MAILBOX)[:1]
    assert target.value == "root" and target.chain == ("nested", "postmaster")


def test_include_recipients_are_forwarded_and_comments_skipped() -> None:
    result = expand("staff")
    assert result.values == (
        ("forward", "alice@mx.example.com"),
        ("forward", "bob@mx.example.com"),
        ("forward", "carol@elsewhere.org"),
    )
    assert result.targets[0].chain == ("staff", ":include:/etc/mail/staff")


def test_include_may_not_name_files_or_commands_by_default() -> None:
    assert expand("tricky").values == (
        ("bounce", "mail to file is restricted"),
        ("bounce", "mail to command is restricted"),
        ("forward", "root@mx.example.com"),
    )
    assert expand("tricky").targets[0].status == "5.7.1"


def test_include_allowed_to_name_files_when_configured() -> None:
    result = expand("tricky", allow_mail_to_files=frozenset({"alias", "forward", "include"}))
    assert ("file", "/var/log/tricky") in result.values


def test_relative_include_path_is_a_configuration_error() -> None:
    assert expand("relative").targets[0].text == "5.3.5 mail system configuration error"


def test_alias_naming_itself_delivers_to_the_user_of_that_name() -> None:
    assert expand("self").values == (("mailbox", "self"), ("mailbox", "bob"))


def test_alias_loop_bounces_after_local_nesting_limit() -> None:
    (target,) = expand("a").targets
    assert (target.kind, target.status, target.value) == (TargetKind.BOUNCE, "5.4.6", "alias database loop for b")


def test_duplicates_are_delivered_once() -> None:
    assert [value for kind, value in expand("list").values].count("alice@mx.example.com") == 1


def test_owner_alias_receives_errors_and_list_members_are_forwarded() -> None:
    result = expand("list")
    assert {target.owner for target in result.targets} == {"owner-list@mx.example.com"}
    assert result.values[0] == ("forward", "alice@mx.example.com")


def test_expand_owner_alias_sends_errors_to_the_owner_expansion() -> None:
    result = expand("list", expand_owner_alias=True)
    assert result.targets[0].owner == "listadmin@mx.example.com"


def test_owner_request_special_off_delivers_list_members_directly() -> None:
    result = expand("list", owner_request_special=False)
    assert result.values[0] == ("mailbox", "alice") and result.targets[0].owner is None


def test_files_and_commands_can_be_forbidden_in_aliases() -> None:
    result = expand("autolog", allow_mail_to_commands=frozenset({"forward"}))
    assert result.values == (("bounce", "mail to command is restricted"),)


def test_empty_alias_defers() -> None:
    assert expand("empty").targets[0].text == "4.3.0 alias database unavailable"


def test_forward_file_naming_oneself_keeps_a_copy() -> None:
    policy = AliasSettings(alias_maps=(ALIASES,))
    result = expand_forward(
        "alice@mx.example.com",
        'alice, bob@remote.org, "|/usr/bin/vacation alice", ~/archive\n',
        policy,
        local_resolver(rewrite_settings()),
    )
    assert result.values == (
        ("mailbox", "alice"),
        ("forward", "bob@remote.org"),
        ("command", "/usr/bin/vacation alice"),
        ("file", "~/archive"),
    )
