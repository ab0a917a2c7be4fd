"""``$name`` expansion as Postfix's ``mac_expand(3)`` does it for main.cf and master.cf values.

Forms: ``$name``, ``${name}``, ``$(name)``, ``$$`` (a dollar); ``${name?value}`` (value when $name
is non-empty), ``${name:value}`` (value when $name is empty), the Postfix 3.0 braced forms
``${name?{value}}``, ``${name:{value}}`` and ``${name?{t}:{f}}``; and the relational form
``${{a} op {b} ? {t} : {f}}`` with ``==, !=, <, <=, >, >=`` (numeric when both sides are decimal
numbers, else string order) and the ``...level`` variants comparing compatibility levels such as
``3.6`` < ``3.10`` — the form Postfix 3.6+ uses in its compatibility_level-dependent defaults.

Values found by name are expanded recursively; "non-empty" is judged on the raw text as Postfix
does. An undefined name expands to nothing (postconf warns about it separately, when it scans the
files). Syntax errors and runaway recursion raise :class:`ExpandError` with Postfix's wording.

Reads no main.cf parameters itself; it is handed a lookup function.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mailsim.config.syntax import balanced_end

Lookup = Callable[[str], "str | None"]

MAX_NESTING = 100  # mac_expand's recursion limit
_NAME = re.compile(r"[A-Za-z0-9_]+")
_OPERATOR = re.compile(r"(==|!=|<=|>=|<|>)(level)?")
_LEVEL = re.compile(r"^[0-9]+(\.[0-9]+){0,2}$")


class ExpandError(ValueError):
    """A value cannot be expanded; the message is what Postfix would warn."""


def expand(text: str, lookup: Lookup, depth: int = 0) -> str:
    """``text`` with every macro replaced, looking names up with ``lookup`` (None = undefined)."""
    if "$" not in text:
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        dollar = text.find("$", index)
        if dollar < 0:
            out.append(text[index:])
            break
        out.append(text[index:dollar])
        index = _expand_one(text, dollar, lookup, depth, out)
    return "".join(out)


def _expand_one(text: str, dollar: int, lookup: Lookup, depth: int, out: list[str]) -> int:
    """Expand the macro starting at ``text[dollar]`` into ``out``; returns the index after it."""
    following = text[dollar + 1 : dollar + 2]
    if following == "$":
        out.append("$")
        return dollar + 2
    if following in ("{", "("):
        closing = "}" if following == "{" else ")"
        end = balanced_end(text, dollar + 1, following, closing)
        if end < 0:
            raise ExpandError(f'truncated macro reference: "{text[dollar:]}"')
        inner = text[dollar + 2 : end]
        out.append(_expand_inner(inner, lookup, depth))
        return end + 1
    match = _NAME.match(text, dollar + 1)
    if not match:
        raise ExpandError(f'empty macro name: "{text}"')
    out.append(_value(match.group(), lookup, depth))
    return match.end()


def _value(name: str, lookup: Lookup, depth: int) -> str:
    """The expanded value of one parameter, guarding against a definition that refers to itself."""
    raw = lookup(name)
    if not raw:
        return ""
    if depth >= MAX_NESTING:
        raise ExpandError(f'unreasonable macro call nesting: "{name}"')
    return expand(raw, lookup, depth + 1)


def _expand_inner(inner: str, lookup: Lookup, depth: int) -> str:
    """The text between ``${`` and ``}``: a name, a conditional, or a relational expression."""
    body = inner.lstrip()
    if body.startswith("{"):
        return _relational(body, lookup, depth)
    match = _NAME.match(body)
    if not match:
        raise ExpandError(f'attribute name syntax error at: "...{body[:20]}"')
    name = match.group()
    rest = body[match.end() :].lstrip()
    if not rest:
        return _value(name, lookup, depth)
    operator, rest = rest[0], rest[1:]
    if operator not in "?:":
        raise ExpandError(f'attribute name syntax error at: "...{name}>>>{rest[:20]}"')
    when_set, when_empty = _branches(rest, allow_else=operator == "?")
    raw = lookup(name)
    if operator == ":":
        when_set, when_empty = "", when_set
    chosen = when_set if raw else when_empty
    if depth >= MAX_NESTING:
        raise ExpandError(f'unreasonable macro call nesting: "{inner}"')
    return expand(chosen, lookup, depth + 1)


def _branches(rest: str, allow_else: bool) -> tuple[str, str]:
    """The text after ``?`` or ``:``: either ``{t}`` [``:{f}``] (3.0 form) or plain text to the end."""
    stripped = rest.lstrip()
    if not stripped.startswith("{"):
        return rest, ""
    first, after = _group(stripped)
    after = after.lstrip()
    if not after:
        return first, ""
    if not allow_else or not after.startswith(":"):
        raise ExpandError(f'":" expected at: "...{first}}}>>>{after[:20]}"')
    after = after[1:].lstrip()
    if not after.startswith("{"):
        return first, after
    second, tail = _group(after)
    if tail.strip():
        raise ExpandError(f'unexpected input at: "...{second}}}>>>{tail.strip()[:20]}"')
    return first, second


def _group(text: str) -> tuple[str, str]:
    """``{...}`` at the start of ``text``: its content (untrimmed) and what follows."""
    end = balanced_end(text, 0)
    if end < 0:
        raise ExpandError(f"missing '}}' at: \"{text[:20]}\"")
    return text[1:end], text[end + 1 :]


def _relational(body: str, lookup: Lookup, depth: int) -> str:
    """``{a} op {b} ? {t} : {f}``: evaluate the comparison and expand the chosen branch."""
    left, rest = _group(body)
    rest = rest.lstrip()
    match = _OPERATOR.match(rest)
    if not match:
        raise ExpandError(f'unknown operator at: "...{{{left}}}>>>{rest[:20]}"')
    rest = rest[match.end() :].lstrip()
    if not rest.startswith("{"):
        raise ExpandError(f'"{{expression}}" expected at: "...{rest[:20]}"')
    right, rest = _group(rest)
    rest = rest.lstrip()
    if not rest.startswith("?"):
        raise ExpandError(f'"?" expected at: "...{rest[:20]}"')
    when_true, when_false = _branches(rest[1:], allow_else=True)
    a = expand(left, lookup, depth + 1)
    b = expand(right, lookup, depth + 1)
    outcome = _compare(a, b, match.group(1), bool(match.group(2)))
    return expand(when_true if outcome else when_false, lookup, depth + 1)


def _compare(a: str, b: str, operator: str, level: bool) -> bool:
    """One relational comparison with Postfix's rules for numbers, strings and compatibility levels."""
    left: object
    right: object
    if level:
        left, right = compatibility_level_key(a), compatibility_level_key(b)
    elif a.isdigit() and b.isdigit():
        left, right = int(a), int(b)
    else:
        left, right = a, b
    return {
        "==": left == right,
        "!=": left != right,
        "<": left < right,  # type: ignore[operator]
        "<=": left <= right,  # type: ignore[operator]
        ">": left > right,  # type: ignore[operator]
        ">=": left >= right,  # type: ignore[operator]
    }[operator]


def compatibility_level_key(text: str) -> tuple[int, int, int]:
    """``"3.6"`` → (3, 6, 0) so that levels order as Postfix orders them (3.10 after 3.9)."""
    text = text.strip()
    if not _LEVEL.match(text):
        raise ExpandError(f'malformed compatibility level syntax: "{text}"')
    parts = [int(part) for part in text.split(".")]
    return (parts + [0, 0])[0], (parts + [0, 0])[1], (parts + [0, 0])[2]


def references(text: str) -> list[str]:
    """Names ``text`` refers to in any macro form, in order; the scan postconf makes for its warnings."""
    names: list[str] = []
    for match in re.finditer(r"\$(?:(\$)|([A-Za-z0-9_]+)|[{(]\s*([A-Za-z0-9_]+))", text):
        if not match.group(1):
            names.append(match.group(2) or match.group(3))
    return names
