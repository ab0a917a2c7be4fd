"""Postfix's shared text conventions: logical lines, brace-aware lists, ``name = value`` pairs.

Theory of operation. Every Postfix configuration file (main.cf, master.cf, postmap and postalias
sources, regexp/pcre/cidr tables) is read through the same two rules of ``readlline(3)``:
a physical line whose first non-blank character is ``#`` is a comment and a blank line is
ignored, and a line that starts with whitespace continues the logical line before it (comment
and blank lines in between do not end the logical line). The continuation is joined as it
stands: only the newline goes, the leading whitespace stays. ``#`` anywhere else is text.

Lists (``mynetworks``, restriction lists, map lists, ``inline:{...}``) are split on commas and
whitespace, except inside ``{ ... }`` which groups (``mystrtokq(3)``); ``strip_braces`` is Postfix's
``extpar()``, removing one outer pair of braces and the whitespace just inside them.

Reads no main.cf parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

LIST_SEPARATORS = ", \t\r\n"


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """A warning Postfix would print about a file; ``render`` gives its exact text."""

    file: str | None
    line: int | None
    message: str
    what: str = ""  # "regexp map", "cidr map", ...: Postfix names the table kind before the file

    def render(self, program: str = "postconf") -> str:
        """``postconf: warning: FILE, line N: message`` as Postfix words it."""
        place = ""
        if self.file is not None:
            what = f"{self.what} " if self.what else ""
            place = f"{what}{self.file}" + (f", line {self.line}" if self.line is not None else "") + ": "
        return f"{program}: warning: {place}{self.message}"


@dataclass(frozen=True, slots=True)
class LogicalLine:
    """One logical line and where it starts, so errors can name the line a user sees."""

    line: int
    text: str
    continued: bool = False  # True when the first physical line started with whitespace


def logical_lines(text: str) -> Iterator[LogicalLine]:
    """The logical lines of ``text`` per readlline(3): comments and blank lines skipped, continuations joined."""
    start = 0
    buffer: list[str] = []
    orphan = False
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if raw[0] in " \t" and buffer:
            buffer.append(raw.rstrip("\r"))
            continue
        if buffer:
            yield LogicalLine(start, "".join(buffer), orphan)
        start, buffer, orphan = number, [raw.rstrip("\r")], raw[0] in " \t"
    if buffer:
        yield LogicalLine(start, "".join(buffer), orphan)


def split_list(text: str, separators: str = LIST_SEPARATORS) -> list[str]:
    """Tokens of a Postfix list: split on ``separators`` outside ``{...}`` groups, braces kept on the token."""
    tokens: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if depth == 0 and char in separators:
            if current:
                tokens.append("".join(current))
                current = []
            continue
        if char == "{":
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
        current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def strip_braces(token: str) -> str:
    """The text inside one outer ``{ ... }`` pair (whitespace inside trimmed); ValueError when unbalanced."""
    if not token.startswith("{"):
        return token
    if not token.endswith("}") or balanced_end(token, 0) != len(token) - 1:
        raise ValueError(f"missing '}}' in \"{token}\"")
    return token[1:-1].strip()


def balanced_end(text: str, start: int, opening: str = "{", closing: str = "}") -> int:
    """Index of the bracket closing the one at ``start``, or -1 when the text ends first."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == opening:
            depth += 1
        elif text[index] == closing:
            depth -= 1
            if depth == 0:
                return index
    return -1


def split_nameval(text: str) -> tuple[str, str]:
    """``name = value`` with the whitespace around both trimmed; ValueError in Postfix's words otherwise."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals:
        raise ValueError(f"missing '=' after attribute name: \"{text.strip()}\"")
    if not name:
        raise ValueError(f'missing attribute name: "{text.strip()}"')
    return name, value.strip()


def collapse_whitespace(text: str) -> str:
    """A value as postconf prints it: runs of whitespace become one space, none at either end."""
    return " ".join(text.split())
