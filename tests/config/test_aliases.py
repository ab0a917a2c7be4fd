"""aliases(5) files as postalias reads them: quoting, continuation, folding, and the parsed entries."""

from __future__ import annotations

from mailsim.config import parse_aliases

ALIASES = """\
# the seed's examples
Mailer-Daemon: postmaster
postmaster: root
list: a, b,
  c,
\td
"quoted name": x
autolog: "|/usr/local/bin/autologger"
cron-status: /usr/local/admin/cron-status-messages, "/tmp/sp ace"
staff: :include:/etc/postfix/staff.list
postmaster: duplicate
nocolon value
empty:
user@remote: nope
"""


def test_names_are_folded_and_values_kept_as_postalias_stores_them() -> None:
    table = parse_aliases(ALIASES, file="aliases")
    assert table.lookup("MAILER-DAEMON") == "postmaster"
    assert table.lookup("list") == "a, b, c, d"
    assert table.lookup("quoted name") == "x"
    assert table.lookup("autolog") == '"|/usr/local/bin/autologger"'
    assert table.lookup("cron-status") == '/usr/local/admin/cron-status-messages, "/tmp/sp ace"'
    assert table.lookup("staff") == ":include:/etc/postfix/staff.list"


def test_the_first_of_duplicates_wins_and_bad_lines_warn() -> None:
    table = parse_aliases(ALIASES, file="aliases")
    assert table.lookup("postmaster") == "root"
    assert [w.render("postalias") for w in table.warnings] == [
        'postalias: warning: aliases, line 11: duplicate entry: "postmaster"',
        "postalias: warning: aliases, line 12: need name:value pair",
        "postalias: warning: aliases, line 13: need name:value pair",
        "postalias: warning: aliases, line 14: name must be local",
    ]


def test_entries_keep_their_place_and_split_targets_for_expansion() -> None:
    entry = parse_aliases(ALIASES, file="aliases").entry("cron-status")
    assert entry is not None
    assert (entry.file, entry.line) == ("aliases", 9)
    assert entry.targets == ("/usr/local/admin/cron-status-messages", "/tmp/sp ace")
    assert parse_aliases(ALIASES).entry("autolog").targets == ("|/usr/local/bin/autologger",)  # type: ignore[union-attr]
    assert parse_aliases(ALIASES).entry("staff").targets == (":include:/etc/postfix/staff.list",)  # type: ignore[union-attr]


def test_rfc822_spacing_of_stored_values() -> None:
    table = parse_aliases("a: x ,y\nb: Joe <joe@x.org>\nc: a @ b . c\nd: a\\,b\ne: <a><b>\n")
    assert [table.lookup(k) for k in "abcde"] == ["x, y", "Joe <joe@x.org>", "a@b.c", '"a,b"', "<a> <b>"]
