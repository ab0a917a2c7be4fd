"""$name expansion: every form Postfix 3.7 accepts, and its errors."""

from __future__ import annotations

import pytest

from mailsim.config.expand import ExpandError, compatibility_level_key, expand, references

VALUES = {"mydomain": "example.org", "myhostname": "mail.$mydomain", "relayhost": "", "level": "3.6"}


def ex(text: str) -> str:
    return expand(text, VALUES.get)


def test_plain_forms_and_recursion() -> None:
    assert ex("$mydomain ${mydomain} $(mydomain) $myhostname") == "example.org example.org example.org mail.example.org"


def test_a_name_ends_at_the_first_non_name_character() -> None:
    assert ex("$mydomain.x $mydomain-y") == "example.org.x example.org-y"


def test_double_dollar_is_a_dollar() -> None:
    assert ex("cost $$5") == "cost $5"


def test_undefined_names_expand_to_nothing() -> None:
    assert ex("[$nosuch]") == "[]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${mydomain?yes}", "yes"),
        ("${relayhost?yes}", ""),
        ("${mydomain:no}", ""),
        ("${relayhost:no}", "no"),
        ("${mydomain?{a b}}", "a b"),
        ("${relayhost:{c d}}", "c d"),
        ("${relayhost?{x}:{y}}", "y"),
        ("${mydomain?{x}:{y}}", "x"),
        ("${mydomain?$myhostname}", "mail.example.org"),
        ("${mydomain?x:y}", "x:y"),
        ("${ mydomain }", "example.org"),
    ],
)
def test_conditional_forms(text: str, expected: str) -> None:
    assert ex(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${{$mydomain} == {example.org} ? {eq} : {ne}}", "eq"),
        ("${{$mydomain} != {example.org} ? {ne}}", ""),
        ("${{02} == {2}?{eq}:{ne}}", "eq"),
        ("${{10} < {9}?{lt}:{ge}}", "ge"),
        ("${{abc} < {abd}?{lt}:{ge}}", "lt"),
        ("${{$level} <level {3.10}?{lt}:{ge}}", "lt"),
        ("${{3.6.1} >level {3.6}?{gt}:{le}}", "gt"),
        ("${{0} <level {1} ? {yes} : {no}}", "yes"),
    ],
)
def test_relational_forms(text: str, expected: str) -> None:
    assert ex(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${mydomain", "truncated macro reference"),
        ("a$-b", "empty macro name"),
        ("$", "empty macro name"),
        ("${mydomain?{x} extra}", '":" expected'),
        ("${mydomain?{x}:{y}:{z}}", "unexpected input"),
        ("${{a} <level {1}?{lt}}", "malformed compatibility level syntax"),
    ],
)
def test_syntax_errors_use_postfix_wording(text: str, message: str) -> None:
    with pytest.raises(ExpandError, match=message):
        ex(text)


def test_self_reference_is_refused() -> None:
    with pytest.raises(ExpandError, match="unreasonable macro call nesting"):
        expand("$a", {"a": "$b", "b": "$a"}.get)


def test_levels_order_numerically() -> None:
    assert compatibility_level_key("3.10") > compatibility_level_key("3.9") > compatibility_level_key("2")


def test_references_finds_every_form_but_not_escaped_dollars() -> None:
    assert references("$a ${b} $(c) ${d?x} ${{$e} == {1}?{y}} $$f") == ["a", "b", "c", "d", "e"]
