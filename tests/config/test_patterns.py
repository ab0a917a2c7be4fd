"""regexp, pcre and cidr tables: first match wins, if/endif, negation, $n, and skipped bad rules."""

from __future__ import annotations

import pytest

from mailsim.config.patterns import parse_pattern_table

RULES = (
    "/^(.*)@example\\.com$/   ${1}@example.org\n"
    "if /^a/\n"
    "/b$/ a-then-b\n"
    "endif\n"
    "/^x(y)?z$/ [$1]\n"
    "!/\\.org$/ notorg\n"
    "/(.)(.)/ $2$1 and $$ and $(2)\n"
)


@pytest.mark.parametrize("kind", ["regexp", "pcre"])
@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("bob@example.com", "bob@example.org"),
        ("Bob@Example.COM", "Bob@example.org"),  # case-insensitive by default, $1 keeps the case
        ("someone@example.net", "notorg"),
        ("ab.org", "ba and $ and b"),
        ("ab", "a-then-b"),
        ("xz", "[]"),
    ],
)
def test_rules_in_order(kind: str, key: str, expected: str) -> None:
    assert parse_pattern_table(kind, RULES, file="t", spec=f"{kind}:t").lookup(key) == expected


def test_the_i_flag_makes_matching_case_sensitive() -> None:
    table = parse_pattern_table("regexp", "/^ABC$/i upper\n", file="t", spec="regexp:t")
    assert (table.lookup("ABC"), table.lookup("abc")) == ("upper", None)


def test_posix_bracket_classes_translate() -> None:
    table = parse_pattern_table(
        "regexp", "/^[[:digit:]]+$/ digits\n/^[\\.]$/ dot-or-backslash\n", file="t", spec="regexp:t"
    )
    assert (table.lookup("123"), table.lookup("\\"), table.lookup(".")) == (
        "digits",
        "dot-or-backslash",
        "dot-or-backslash",
    )


def test_pcre_spellings_translate() -> None:
    table = parse_pattern_table("pcre", "/^(?<user>[^@]+)@x\\z/ ${1}\n", file="t", spec="pcre:t")
    assert table.lookup("joe@x") == "joe"


@pytest.mark.parametrize(
    ("kind", "line", "message"),
    [
        ("regexp", "/abc/\n", "regexp map t, line 1: no replacement text: using empty string"),
        ("regexp", "/x/z y\n", 'regexp map t, line 1: unknown regexp option "z": skipping this rule'),
        ("regexp", "!/q(x)/ $1\n", "regexp map t, line 1: $number found in negative match replacement text"),
        ("pcre", "/p/ $3\n", 'pcre map t, line 1: out of range replacement index "3": skipping this rule'),
        ("regexp", "/unterminated y\n", 'regexp map t, line 1: no closing regexp delimiter "/": skipping this rule'),
        ("regexp", "endif\n", "regexp map t, line 1: ignoring ENDIF without matching IF"),
        ("regexp", "if /c/\n/d/ cd\n", "regexp map t, line 1: IF has no matching ENDIF"),
        ("regexp", "/(a/ b\n", "regexp map t, line 1: error in regex"),
    ],
)
def test_bad_rules_are_skipped_with_postmaps_warning(kind: str, line: str, message: str) -> None:
    table = parse_pattern_table(kind, line, file="t", spec=f"{kind}:t")
    assert any(w.render("postmap").startswith(f"postmap: warning: {message}") for w in table.warnings)


CIDR = "192.0.2.0/24 net24\n192.0.2.7 host7\n10.0.0.0/8 ten\n2001:db8::/32 v6net\n192.0.2.1/24 badnet\n!192.168.0.0/16 notpriv\n"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("192.0.2.7", "net24"),
        ("10.1.2.3", "ten"),
        ("2001:db8::1", "v6net"),
        ("8.8.8.8", "notpriv"),
        ("192.168.1.1", None),
        ("::1", None),
        ("foo", None),
    ],
)
def test_cidr_first_match_wins_and_negation_stays_in_its_family(key: str, expected: str | None) -> None:
    assert parse_pattern_table("cidr", CIDR, file="c", spec="cidr:c").lookup(key) == expected


def test_cidr_refuses_host_bits() -> None:
    table = parse_pattern_table("cidr", CIDR, file="c", spec="cidr:c")
    assert 'perhaps you should use "192.0.2.0/24" instead' in table.warnings[0].message


def test_cidr_if_blocks() -> None:
    table = parse_pattern_table(
        "cidr", "if 10.0.0.0/8\n10.1.0.0/16 ten-one\nendif\n10.1.2.3 after\n", file="c", spec="cidr:c"
    )
    assert (table.lookup("10.1.2.3"), table.lookup("10.2.0.1")) == ("ten-one", None)
