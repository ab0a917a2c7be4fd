"""type:name tables read from a host folder: postmap sources, in-line tables, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailsim.config import TableFailure, open_table, open_tables, resolve_path
from mailsim.core.errors import ConfigError

SOURCE = "Foo@Example.COM   bar baz  \n# comment\nkey2 value2\n  continued here\nkey3\tv3 # not a comment\nfoo@example.com dup\nnovalue\nkey: colon\n"


@pytest.fixture
def host(tmp_path: Path) -> Path:
    (tmp_path / "access").write_text(SOURCE)
    (tmp_path / "aliases").write_text("postmaster: root\n")
    (tmp_path / "etc" / "mail").mkdir(parents=True)
    (tmp_path / "etc" / "mail" / "aliases").write_text("postmaster: mirrored\n")
    return tmp_path


@pytest.mark.parametrize("kind", ["hash", "btree", "lmdb", "dbm", "sdbm", "texthash"])
def test_indexed_tables_read_the_postmap_source(host: Path, kind: str) -> None:
    table = open_table(f"{kind}:/etc/postfix/access", host)
    assert table.lookup("FOO@example.com") == "bar baz"  # keys folded, first duplicate wins
    assert table.lookup("key2") == "value2  continued here"
    assert table.lookup("key3") == "v3 # not a comment"
    assert table.lookup("novalue") is None
    assert table.lookup("key:") == "colon"


def test_source_problems_become_postmap_warnings(host: Path) -> None:
    table = open_table("hash:access", host)
    rendered = [w.render("postmap") for w in table.warnings]  # type: ignore[attr-defined]
    path = host / "access"
    assert f'postmap: warning: {path}, line 6: duplicate entry: "foo@example.com"' in rendered
    assert f"postmap: warning: {path}, line 7: expected format: key whitespace value -- ignoring this line" in rendered


def test_path_rule_for_simulated_hosts(host: Path) -> None:
    assert resolve_path("/etc/postfix/access", host) == host / "access"
    assert resolve_path("access", host) == host / "access"
    assert resolve_path("/etc/mail/aliases", host) == host / "etc" / "mail" / "aliases"
    assert resolve_path("/etc/aliases", host) == host / "aliases"


def test_a_missing_file_is_an_error_naming_it(host: Path) -> None:
    with pytest.raises(ConfigError, match=r"nothere: hash:/etc/postfix/nothere: cannot open table source"):
        open_table("hash:/etc/postfix/nothere", host)


def test_an_unknown_type_is_postfixs_error(host: Path) -> None:
    with pytest.raises(ConfigError, match="^unsupported dictionary type: ldap$"):
        open_table("ldap:/etc/postfix/ldap.cf", host)


def test_a_name_without_type_uses_the_default_database_type(host: Path) -> None:
    assert open_table("access", host).spec == "hash:access"


def test_inline_tables() -> None:
    table = open_table("inline:{a=1, B=2, { c = with space }, a=3}", ".")
    assert (table.lookup("b"), table.lookup("C"), table.lookup("a")) == ("2", "with space", "3")
    with pytest.raises(ConfigError, match="missing '=' after attribute name"):
        open_table("inline:{a=1, d}", ".")
    with pytest.raises(ConfigError, match='bad syntax: "inline:{}"'):
        open_table("inline:{}", ".")


def test_inline_pattern_tables() -> None:
    """Postfix 3.7's ``regexp:{{/re/ result}, ...}`` (smtpd_forbidden_commands' default); as postmap -q answers."""
    bogus = open_table("regexp:{{/^[^A-Z]/ Bogus}}", ".")
    assert [bogus.lookup(key) for key in ("1234", "GET", "<html>")] == ["Bogus", None, "Bogus"]
    two = open_table("pcre:{ {/^x/ A}, {/y z/ B C} }", ".")
    assert [two.lookup(key) for key in ("xa", "y z", "q")] == ["A", "B C", None]


def test_static_fail_union_pipe_proxy_nis(host: Path) -> None:
    assert open_table("static:{ a b }", ".").lookup("anything") == "a b"
    assert open_table("static:foo", ".").lookup("x") == "foo"
    with pytest.raises(TableFailure, match="table fail:x: query error"):
        open_table("fail:x", ".").lookup("k")
    assert open_table("unionmap:{inline:{b=1}, inline:{b=2}, inline:{c=3}}", ".").lookup("b") == "1,2"
    assert open_table("pipemap:{inline:{a=b}, inline:{b=c}}", ".").lookup("a") == "c"
    assert open_table("pipemap:{inline:{a=b}, inline:{x=c}}", ".").lookup("a") is None
    assert open_table("proxy:hash:/etc/postfix/access", host).lookup("key2") == "value2  continued here"
    assert open_table("nis:mail.aliases", ".").lookup("postmaster") is None


def test_unix_passwd_answers_from_the_given_users() -> None:
    table = open_table("proxy:unix:passwd.byname", ".", passwd={"alice": "alice:x:1000:1000::/home/alice:/bin/sh"})
    assert table.lookup("Alice") is not None and table.lookup("bob") is None


def test_the_debian_default_alias_maps_open(host: Path) -> None:
    tables = open_tables("hash:/etc/aliases, nis:mail.aliases", host, syntax="aliases")
    assert [t.lookup("postmaster") for t in tables] == ["root", None]
