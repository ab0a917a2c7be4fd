"""Pattern tables: ``regexp:`` (regexp_table(5)), ``pcre:`` (pcre_table(5)) and ``cidr:`` (cidr_table(5)).

Rules are tried in file order and the first match wins; ``if PATTERN`` ... ``endif`` blocks nest;
``!PATTERN`` matches when the pattern does not. A pattern is ``/re/flags`` with any delimiter
character; the result may use ``$1``, ``${1}``, ``$(1)`` and ``$$``. Matching is on the whole
lookup string (no partial keys) and case-insensitive unless the ``i`` flag toggles it. Broken rules
are skipped with Postfix's warnings, as postmap does, not fatal.

Differences from Postfix, because Python's ``re`` does the matching:
- regexp (POSIX ERE): bracket classes such as ``[[:alpha:]]`` are translated, a backslash inside
  brackets stays literal and ``\\<``/``\\>`` become ``\\b``; but alternation is leftmost-first, not
  POSIX leftmost-longest (``/a|ab/`` captures ``a``), and the ``x`` flag (basic REs) is refused.
- pcre: ``(?<name>`` becomes ``(?P<name>``, ``\\z`` becomes ``\\Z`` and ``\\Z`` allows a final
  newline as in PCRE; the ``U`` (ungreedy) flag is refused; ``E`` and ``X`` are accepted and ignored.

Reads no main.cf parameters.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from mailsim.config.syntax import ConfigWarning, logical_lines

_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "xdigit": "0-9A-Fa-f", "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e", "graph": r"\x21-\x7e", "punct": r"!-/:-@\[-`{-~",
}  # fmt: skip
_REFERENCE = re.compile(r"\$(?:(\$)|([0-9]+)|\{([0-9]+)\}|\(([0-9]+)\))")


@dataclass(frozen=True, slots=True)
class _Rule:
    """One line of a pattern table: a match rule, or the start or end of an if block."""

    kind: str  # "match", "if", "endif"
    matcher: object  # compiled regex, or an ip network
    negate: bool
    result: str
    line: int
    anchored: bool = False
    end: int = 0  # for "if": index after its endif


@dataclass(frozen=True, slots=True)
class PatternTable:
    """A parsed regexp, pcre or cidr table; ``lookup`` walks the rules like Postfix's dict module."""

    spec: str
    rules: tuple[_Rule, ...]
    warnings: tuple[ConfigWarning, ...] = ()
    pattern: bool = field(default=True)

    def lookup(self, key: str) -> str | None:
        """The first matching rule's result (with $n substituted), or None."""
        address = _address(key) if self.spec.startswith("cidr:") else None
        index = 0
        while index < len(self.rules):
            rule = self.rules[index]
            if rule.kind == "endif":
                index += 1
                continue
            found = _matches(rule, key, address)
            hit = found is not _NOT_APPLICABLE and (found is not None) != rule.negate
            if rule.kind == "if":
                index = index + 1 if hit else rule.end
                continue
            if hit:
                return _substitute(rule.result, found) if isinstance(found, re.Match) else rule.result
            index += 1
        return None


_NOT_APPLICABLE = object()  # a cidr rule never applies, even negated, to a key of another address family


def _matches(rule: _Rule, key: str, address: object) -> object:
    """The match object (or True) when ``rule`` matches ``key``, None when not, or _NOT_APPLICABLE."""
    if isinstance(rule.matcher, re.Pattern):
        return rule.matcher.match(key) if rule.anchored else rule.matcher.search(key)
    if address is None or address.version != rule.matcher.version:  # type: ignore[attr-defined]
        return _NOT_APPLICABLE
    return True if address in rule.matcher else None  # type: ignore[operator]


def _substitute(result: str, match: re.Match[str]) -> str:
    """``result`` with $n replaced by the groups of ``match`` (an unmatched group is empty)."""

    def one(ref: re.Match[str]) -> str:
        if ref.group(1):
            return "$"
        return match.group(int(ref.group(2) or ref.group(3) or ref.group(4))) or ""

    return _REFERENCE.sub(one, result)


def _address(key: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The lookup key as an IP address, or None (a cidr table then finds nothing)."""
    try:
        return ipaddress.ip_address(key)
    except ValueError:
        return None


def parse_pattern_table(kind: str, text: str, *, file: str, spec: str) -> PatternTable:
    """Parse a regexp, pcre or cidr table's text; bad rules become warnings, as with postmap."""
    rules: list[_Rule] = []
    warnings: list[ConfigWarning] = []
    open_ifs: list[int] = []

    def warn(line: int, message: str) -> None:
        warnings.append(ConfigWarning(file, line, message, what=f"{kind} map"))

    for logical in logical_lines(text):
        body = logical.text.strip()
        word = body.split(None, 1)[0].lower()
        if word == "endif":
            if not open_ifs:
                warn(
                    logical.line,
                    "ignoring ENDIF without matching IF" if kind != "cidr" else "ENDIF without IF: skipping this rule",
                )
                continue
            start = open_ifs.pop()
            rules.append(_Rule("endif", None, False, "", logical.line))
            rules[start] = _replace_end(rules[start], len(rules))
            continue
        is_if = word == "if" and len(body) > 2 and body[2].isspace()
        rule = _parse_rule(kind, body[2:].strip() if is_if else body, is_if, logical.line, warn)
        if rule is None:
            continue
        if is_if:
            open_ifs.append(len(rules))
        rules.append(rule)
    for start in open_ifs:
        warn(rules[start].line, "IF has no matching ENDIF")
        rules[start] = _replace_end(rules[start], len(rules))
    return PatternTable(spec, tuple(rules), tuple(warnings))


def _replace_end(rule: _Rule, end: int) -> _Rule:
    """The if-rule with the index its block ends at."""
    return _Rule(rule.kind, rule.matcher, rule.negate, rule.result, rule.line, rule.anchored, end)


def _parse_rule(kind: str, body: str, is_if: bool, line: int, warn) -> _Rule | None:  # type: ignore[no-untyped-def]
    """One rule's pattern and result; None (after a warning) when Postfix would skip it."""
    negate = body.startswith("!")
    body = body[1:].lstrip() if negate else body
    if kind == "cidr":
        return _cidr_rule(body, negate, is_if, line, warn)
    parsed = _split_pattern(body, kind, line, warn)
    if parsed is None:
        return None
    regex, flags, result = parsed
    compiled = _compile(kind, regex, flags, line, warn)
    if compiled is None:
        return None
    pattern, anchored = compiled
    if is_if:
        return _Rule("if", pattern, negate, "", line, anchored)
    if not result:
        warn(line, "no replacement text: using empty string")
    if not _references_ok(kind, result, pattern.groups, negate, line, warn):
        return None
    return _Rule("match", pattern, negate, result, line, anchored)


def _split_pattern(body: str, kind: str, line: int, warn) -> tuple[str, str, str] | None:  # type: ignore[no-untyped-def]
    """``/re/flags result`` → (re, flags, result)."""
    if not body:
        return None
    delimiter, index, regex = body[0], 1, []
    while index < len(body) and body[index] != delimiter:
        if body[index] == "\\" and index + 1 < len(body) and body[index + 1] == delimiter:
            index += 1
        regex.append(body[index])
        index += 1
    if index >= len(body):
        verb = "ignoring" if kind == "pcre" else "skipping"
        warn(line, f'no closing regexp delimiter "{delimiter}": {verb} this rule')
        return None
    rest = body[index + 1 :]
    flags = re.match(r"\S*", rest).group()  # type: ignore[union-attr]
    return "".join(regex), flags, rest[len(flags) :].strip()


def _compile(kind: str, regex: str, flags: str, line: int, warn) -> tuple[re.Pattern[str], bool] | None:  # type: ignore[no-untyped-def]
    """Compile with Postfix's flag toggles; None after a warning for a bad pattern or flag."""
    insensitive, multiline, dotall, anchored = True, False, kind == "regexp", False
    allowed = "imx" if kind == "regexp" else "imsxAEUX"
    extended = False
    for flag in flags:
        if flag not in allowed or (kind == "regexp" and flag == "x") or flag == "U":
            known = flag in allowed
            warn(
                line,
                f'unknown regexp option "{flag}": skipping this rule'
                if not known
                else f'option "{flag}" is not supported by mailsim: skipping this rule',
            )
            return None
        insensitive ^= flag == "i"
        multiline ^= flag == "m"
        dotall = (not dotall if kind == "pcre" else dotall) if flag == "s" else dotall
        extended ^= flag == "x"
        anchored ^= flag == "A"
    if kind == "regexp" and multiline:
        dotall = False
    python_flags = (
        (re.I if insensitive else 0) | (re.M if multiline else 0) | (re.S if dotall else 0) | (re.X if extended else 0)
    )
    source = _from_posix(regex) if kind == "regexp" else _from_pcre(regex)
    try:
        return re.compile(source, python_flags), anchored
    except re.error as error:
        warn(line, f"error in regex: {error}: skipping this rule")
        return None


def _references_ok(kind: str, result: str, groups: int, negate: bool, line: int, warn) -> bool:  # type: ignore[no-untyped-def]
    """Check $n references the way Postfix does before it accepts a rule."""
    for ref in _REFERENCE.finditer(result):
        if ref.group(1):
            continue
        if negate:
            warn(line, "$number found in negative match replacement text: skipping this rule")
            return False
        number = int(ref.group(2) or ref.group(3) or ref.group(4))
        if number == 0:
            warn(line, f'{"out-of-range" if kind == "regexp" else "out of range"} replacement index "0"')
            warn(line, "bad replacement syntax: skipping this rule")
            return False
        if number > groups:
            warn(line, f'out of range replacement index "{number}": skipping this rule')
            return False
    return True


def _from_posix(regex: str, posix: bool = True) -> str:
    """POSIX ERE → Python re: bracket classes, literal backslashes in brackets, \\< and \\>.

    With ``posix=False`` (PCRE) only the bracket classes are translated: PCRE knows them too, but
    backslashes keep their escaping meaning and ``\\<`` is a plain ``<``.
    """
    out: list[str] = []
    index = 0
    while index < len(regex):
        char = regex[index]
        if char == "\\" and index + 1 < len(regex):
            pair = regex[index : index + 2]
            out.append(r"\b" if posix and pair in ("\\<", "\\>") else pair)
            index += 2
        elif char == "[":
            text, index = _bracket(regex, index, posix)
            out.append(text)
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _bracket(regex: str, start: int, posix: bool) -> tuple[str, int]:
    """Translate one bracket expression starting at ``regex[start]``; returns (text, index after)."""
    out = ["["]
    index = start + 1
    if regex[index : index + 1] == "^":
        out.append("^")
        index += 1
    first = True
    while index < len(regex) and (regex[index] != "]" or first):
        class_match = re.match(r"\[:([a-z]+):\]", regex[index:])
        if class_match and class_match.group(1) in _POSIX_CLASSES:
            out.append(_POSIX_CLASSES[class_match.group(1)])
            index += class_match.end()
        elif not posix and regex[index] == "\\" and index + 1 < len(regex):
            out.append(regex[index : index + 2])
            index += 2
        else:
            char = regex[index]
            out.append("\\" + char if char in "\\[]" else char)
            index += 1
        first = False
    return "".join(out) + "]", index + 1


def _from_pcre(regex: str) -> str:
    """PCRE → Python re for the few spellings that differ."""
    regex = _from_posix(regex, posix=False)
    regex = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", regex)
    regex = re.sub(r"(?<!\\)((?:\\\\)*)\\Z", r"\1(?=\\n?\\Z)", regex)
    return re.sub(r"(?<!\\)((?:\\\\)*)\\z", r"\1\\Z", regex)


def _cidr_rule(body: str, negate: bool, is_if: bool, line: int, warn) -> _Rule | None:  # type: ignore[no-untyped-def]
    """``network/len result`` or ``address result`` of a cidr table."""
    pattern, _, result = body.partition(" ") if " " in body else body.partition("\t")
    pattern, result = pattern.strip(), result.strip()
    address, slash, length = pattern.partition("/")
    try:
        host = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        warn(line, f'bad address pattern: "{pattern}": skipping this rule')
        return None
    bits = host.max_prefixlen
    if slash and (not length.isdigit() or int(length) > bits):
        warn(line, f'bad mask length in "{pattern}": skipping this rule')
        return None
    network = ipaddress.ip_network(f"{host}/{length if slash else bits}", strict=False)
    if network.network_address != host:
        wanted = f"{network.network_address}/{network.prefixlen}"
        warn(
            line,
            f'non-null host address bits in "{pattern}", perhaps you should use "{wanted}" instead: skipping this rule',
        )
        return None
    if is_if:
        return _Rule("if", network, negate, "", line)
    if not result:
        warn(line, "no lookup result: skipping this rule")
        return None
    return _Rule("match", network, negate, result, line)
