"""Postfix's shared text rules: logical lines, brace-aware lists, name = value."""

from __future__ import annotations

import pytest

from mailsim.config.syntax import collapse_whitespace, logical_lines, split_list, split_nameval, strip_braces


def test_continuation_lines_keep_their_leading_whitespace() -> None:
    lines = list(logical_lines("a = x\n  y\n\tz\nb = 1\n"))
    assert [(line.line, line.text) for line in lines] == [(1, "a = x  y\tz"), (4, "b = 1")]


def test_comments_and_blank_lines_do_not_end_a_logical_line() -> None:
    lines = list(logical_lines("a = x\n   # comment\n\n  y\n# top comment\nb = 2\n"))
    assert [line.text for line in lines] == ["a = x  y", "b = 2"]


def test_hash_inside_a_value_is_text() -> None:
    assert [line.text for line in logical_lines("a = b # c\n")] == ["a = b # c"]


def test_a_first_line_starting_with_whitespace_is_marked() -> None:
    (line,) = logical_lines("  orphan = 1\n")
    assert line.continued


def test_lists_split_on_commas_and_whitespace_but_not_inside_braces() -> None:
    value = "check_policy_service { inet:127.0.0.1:10023, timeout=10s }, inline:{a=b, c=d} reject"
    assert split_list(value) == [
        "check_policy_service",
        "{ inet:127.0.0.1:10023, timeout=10s }",
        "inline:{a=b, c=d}",
        "reject",
    ]


def test_strip_braces_trims_inside_and_refuses_unbalanced() -> None:
    assert strip_braces("{  a = b  }") == "a = b"
    assert strip_braces("plain") == "plain"
    with pytest.raises(ValueError, match="missing '}'"):
        strip_braces("{a b")


def test_name_value_pairs_use_postfix_wording() -> None:
    assert split_nameval("  name  =  some value ") == ("name", "some value")
    with pytest.raises(ValueError, match="missing '=' after attribute name"):
        split_nameval("novalue")
    with pytest.raises(ValueError, match="missing attribute name"):
        split_nameval("= x")


def test_values_print_with_collapsed_whitespace() -> None:
    assert collapse_whitespace("  a    b\tc ") == "a b c"
