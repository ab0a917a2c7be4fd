"""RFC 822 tokens, the way Postfix's ``tok822`` scans and re-prints them (used for aliases files).

postalias stores an alias's right-hand side not as typed but re-printed from its RFC 822 tokens
("externalised"), and its left-hand side unquoted ("internalised"); ``postalias -q`` shows exactly
that. The printing rules, checked against Postfix 3.7: a comma is followed by one space; words
(atoms, quoted strings, comments, domain literals) are separated by one space; ``<`` gets a space
before it after a word or ``>``; nothing else is spaced (``a @ b . c`` prints ``a@b.c``). An atom
that needs quoting (it held a backslash escape) is printed as a quoted string.

Reads no main.cf parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

SPECIALS = '()<>@,;:".[]'
WORDS = ("atom", "qstring", "comment", "domlit")


@dataclass(frozen=True, slots=True)
class Token:
    """One RFC 822 token: its type ("atom", "qstring", "comment", "domlit" or the special itself) and text."""

    type: str
    text: str  # unquoted content for atoms and quoted strings; verbatim for comments and literals
    escaped: bool = False  # an atom that held a backslash escape must be quoted when printed


def scan(text: str) -> list[Token]:
    """Split ``text`` into tokens; unterminated quotes, comments and literals run to the end."""
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char == '"':
            content, index = _quoted(text, index + 1)
            tokens.append(Token("qstring", content))
        elif char == "(":
            end = _closing(text, index, "(", ")")
            tokens.append(Token("comment", text[index:end]))
            index = end
        elif char == "[":
            end = _closing(text, index, "[", "]")
            tokens.append(Token("domlit", text[index:end]))
            index = end
        elif char in SPECIALS:
            tokens.append(Token(char, char))
            index += 1
        else:
            token, index = _atom(text, index)
            tokens.append(token)
    return tokens


def _quoted(text: str, index: int) -> tuple[str, int]:
    """Content of a quoted string starting after its opening quote, backslash escapes removed."""
    out: list[str] = []
    while index < len(text) and text[index] != '"':
        if text[index] == "\\" and index + 1 < len(text):
            index += 1
        out.append(text[index])
        index += 1
    return "".join(out), index + 1


def _closing(text: str, index: int, opening: str, closing: str) -> int:
    """Index just after the bracket that closes the one at ``index`` (nesting and escapes allowed)."""
    depth = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        depth += char == opening
        depth -= char == closing
        index += 1
        if depth == 0 and char == closing:
            break
    return min(index, len(text))


def _atom(text: str, index: int) -> tuple[Token, int]:
    """An atom: up to whitespace or a special; a backslash takes the next character literally."""
    out: list[str] = []
    escaped = False
    while index < len(text) and not text[index].isspace() and text[index] not in SPECIALS:
        if text[index] == "\\" and index + 1 < len(text):
            index += 1
            escaped = True
        out.append(text[index])
        index += 1
    return Token("atom", "".join(out), escaped), index


def _needs_space(before: Token | None, after: Token) -> bool:
    """Whether Postfix prints a space between two adjacent tokens."""
    if before is None:
        return False
    if after.type == "<":
        return before.type in WORDS or before.type == ">"
    return before.type in WORDS and after.type in WORDS


def _quote(text: str) -> str:
    """A quoted string with ``"`` and ``\\`` escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def externalize(tokens: list[Token]) -> str:
    """Tokens printed in external (quoted) form, as postalias stores a right-hand side."""
    out: list[str] = []
    before: Token | None = None
    for token in tokens:
        if _needs_space(before, token):
            out.append(" ")
        if token.type == "qstring" or (token.type == "atom" and token.escaped):
            out.append(_quote(token.text))
        elif token.type == ",":
            out.append(", ")
        else:
            out.append(token.text)
        before = token
    return "".join(out)


def internalize(tokens: list[Token]) -> str:
    """Tokens printed in internal (unquoted) form, as postalias stores a left-hand side."""
    out: list[str] = []
    before: Token | None = None
    for token in tokens:
        if _needs_space(before, token):
            out.append(" ")
        out.append(", " if token.type == "," else token.text)
        before = token
    return "".join(out)


def split_commas(tokens: list[Token]) -> list[list[Token]]:
    """Tokens grouped by top-level commas (each group one address or destination)."""
    groups: list[list[Token]] = [[]]
    for token in tokens:
        if token.type == ",":
            groups.append([])
        else:
            groups[-1].append(token)
    return [group for group in groups if group]
