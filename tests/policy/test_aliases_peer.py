"""Alias expansion against real Postfix: local(8)'s own ``sendmail -bv`` report for the seed's aliases."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator

import pytest

from mailsim.policy.aliases import AliasExpansion, AliasSettings, TargetKind, expand_aliases, local_resolver
from tests.peers import require
from tests.policy.policy_helpers import Table, rewrite_settings
from tests.postfix_oracle import PostfixOracle

pytestmark = pytest.mark.peer

ALIASES = """\
mailer-daemon: "/dev/null"
postmaster: root
cron-status: /usr/local/admin/cron-status-messages
autolog: "|/usr/local/bin/autologger"
abdou: abdou@otherhost.example.net
staff: :include:$ROOT/staff
a: b
b: a
self: self, daemon
list: bin, daemon, bin, carol@elsewhere.org
owner-list: root
tricky: :include:$ROOT/tricky
"""
FILES = {"staff": "# the staff\nbin\ndaemon, carol@elsewhere.org\n", "tricky": "/var/tmp/tricky, |/bin/cat\nroot\n"}
NAMES = ["mailer-daemon", "postmaster", "cron-status", "autolog", "abdou", "staff", "a", "self", "list", "tricky"]


@pytest.fixture(scope="module")
def postfix() -> Iterator[PostfixOracle]:
    require("postfix")
    if os.geteuid() != 0:
        pytest.skip("a throwaway Postfix instance needs root")
    with PostfixOracle({"mynetworks": "127.0.0.0/8"}, aliases=ALIASES, files=FILES) as oracle:
        yield oracle


def _has_account(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def in_postfix_words(expansion: AliasExpansion) -> list[tuple[str, str]]:
    """mailsim's targets as local(8) describes them in a -bv report (mailbox checks use this machine's passwd)."""
    words = []
    for target in expansion.targets:
        if target.kind is TargetKind.MAILBOX:
            known = _has_account(target.value)
            words.append((target.recipient, "delivers to mailbox" if known else f'unknown user: "{target.value}"'))
        elif target.kind is TargetKind.FORWARD:
            words.append((target.recipient, f"forwards to {target.value}"))
        elif target.kind in (TargetKind.FILE, TargetKind.COMMAND):
            words.append((target.recipient, f"delivers to {target.kind.value}: {target.value}"))
        else:
            words.append((target.recipient, target.value))
    return words


def mailsim_words(name: str) -> list[tuple[str, str]]:
    entries = {}
    for line in ALIASES.replace("$ROOT", "/oracle").splitlines():
        key, _, value = line.partition(":")
        entries[key] = value.strip()
    files = {f"/oracle/{path}": text for path, text in FILES.items()}
    settings = AliasSettings(alias_maps=(Table(entries),))
    resolver = local_resolver(rewrite_settings(myhostname="mx.example.com"))
    return in_postfix_words(expand_aliases(f"{name}@mx.example.com", settings, resolver, files.__getitem__))


@pytest.mark.parametrize("name", NAMES)
def test_alias_expansion_matches_local8(postfix: PostfixOracle, name: str) -> None:
    assert mailsim_words(name) == postfix.verify(f"{name}@mx.example.com")
