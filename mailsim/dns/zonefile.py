"""Reading RFC 1035 zone files (master files) into dnspython RRsets, with errors that name file, line and expectation.

dnspython does the parsing (``dns.zone.from_text``, absolute names, no ``$INCLUDE``, SOA and NS at the
apex not required). Three things are added on top:

- **The origin** is, in this order: the ``origin`` argument, the file name (``zones/example.org.zone``
  is ``example.org.``), the file's first ``$ORIGIN`` line. ``$ORIGIN`` lines inside the file change the
  origin of the relative names after them, as RFC 1035 §5.1 says.
- **Errors** become :class:`~mailsim.core.errors.ScenarioError` ``FILE:LINE: expected X, found Y``.
  dnspython reports the line its tokenizer stands on, which is the *next* line when a record is found
  wrong only after its end of line was read; the parse of the text cut before the reported line tells
  which of the two it is. Errors dnspython reports without a line (a CNAME beside other data) are
  located by parsing growing prefixes of the file.
- **Out-of-zone records** are an error. dnspython (and BIND) drop a record whose name lies outside the
  zone; in a simulator that only knows scenario zones a silently dropped record is a lookup that
  mysteriously fails later, so mailsim names the line instead.

Postfix parameters read: none.
"""

from __future__ import annotations

import re
from pathlib import Path

import dns.exception
import dns.name
import dns.rrset
import dns.tokenizer
import dns.zone
import dns.zonefile

from mailsim.core.errors import ScenarioError
from mailsim.dns.names import canonical, checked, is_below

# What the data of each record type looks like, for "expected ..." when dnspython only says "malformed".
_DATA_SHAPE = {
    "A": "an IPv4 address",
    "AAAA": "an IPv6 address",
    "MX": "PREFERENCE EXCHANGE (0-65535 and a host name, e.g. 10 mx1.example.org.)",
    "TXT": "one or more quoted strings of at most 255 characters",
    "CNAME": "a domain name",
    "PTR": "a domain name",
    "NS": "a domain name",
    "SOA": "MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM",
}
# dnspython's message -> what the file should have had there.
_EXPECTATIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"unknown rdatatype"), "a record type such as A, AAAA, MX, TXT, CNAME, PTR, NS, SOA"),
    (re.compile(r"Missing default TTL"), "a TTL on the record or a $TTL line before it"),
    (re.compile(r"TTL"), "a TTL such as 300 or 1h"),
    (re.compile(r"unbalanced parentheses"), "a closing parenthesis"),
    (re.compile(r"quoted string|unexpected end of input"), "a closing quote"),
    (re.compile(r"RR class"), "class IN"),
    (re.compile(r"directive '\$INCLUDE'"), "records in this file ($INCLUDE is not supported)"),
    (re.compile(r"directive"), "$ORIGIN or $TTL"),
    (re.compile(r"last used name is undefined"), "an owner name on the first record"),
    (re.compile(r"label|Name|name"), "a domain name"),
]


def origin_of(text: str, filename: str | None, origin: str | None) -> str:
    """The zone's origin as a key: the argument, else ``NAME.zone``, else the first ``$ORIGIN``."""
    if origin is not None:
        return checked(origin, key="origin")
    if filename is not None and filename.endswith(".zone"):
        stem = Path(filename).name[: -len(".zone")]
        if stem:
            return checked(stem, key="origin")
    found = re.search(r"^\$ORIGIN[ \t]+(\S+)", text, re.MULTILINE | re.IGNORECASE)
    if found is None:
        raise ScenarioError(
            "zone origin unknown",
            file=filename,
            expected="an $ORIGIN line or a file named ORIGIN.zone",
            found="neither",
        )
    return checked(found.group(1), key="$ORIGIN")


def read_zone_file(path: str | Path, *, origin: str | None = None) -> tuple[str, list[dns.rrset.RRset]]:
    """The origin key and the RRsets of a zone file on disk."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(
            "cannot read zone file", file=str(path), expected="a readable file", found=error.strerror
        ) from None
    return parse_zone_text(text, filename=str(path), origin=origin)


def parse_zone_text(
    text: str, *, filename: str = "<zone>", origin: str | None = None
) -> tuple[str, list[dns.rrset.RRset]]:
    """The origin key and the RRsets of zone-file ``text`` (see the module docstring for the rules)."""
    key = origin_of(text, filename, origin)
    zone = _parse(text, filename, key)
    _check_in_zone(text, filename, key)
    rrsets = []
    for name, rdataset in zone.iterate_rdatasets():
        rrset = dns.rrset.RRset(name, rdataset.rdclass, rdataset.rdtype, rdataset.covers)
        rrset.update(rdataset)
        rrsets.append(rrset)
    return key, rrsets


def _from_text(text: str, filename: str, key: str) -> dns.zone.Zone:
    return dns.zone.from_text(
        text, origin=key, relativize=False, filename=filename, allow_include=False, check_origin=False
    )


def _parse(text: str, filename: str, key: str) -> dns.zone.Zone:
    """dnspython's parse, with every failure turned into a located :class:`ScenarioError`."""
    try:
        return _from_text(text, filename, key)
    except dns.exception.SyntaxError as error:
        line, message = _split_message(str(error), filename)
        if line is not None:
            line = _true_line(text, filename, key, line, message)
        raise _located(text, filename, line, message) from None
    except dns.zonefile.CNAMEAndOtherData:
        line = _first_failing_line(text, filename, key, dns.zonefile.CNAMEAndOtherData)
        raise ScenarioError(
            "a name with a CNAME can have no other data (RFC 1034 §3.6.2)",
            file=filename,
            line=line,
            expected="either a CNAME or other records",
            found=_line_text(text, line),
        ) from None
    except (dns.exception.DNSException, ValueError) as error:
        line = _first_failing_line(text, filename, key, type(error))
        raise _located(text, filename, line, str(error)) from None


def _split_message(message: str, filename: str) -> tuple[int | None, str]:
    found = re.match(re.escape(filename) + r":(\d+): (.*)", message, re.DOTALL)
    if found is None:
        return None, message
    return int(found.group(1)), found.group(2)


def _true_line(text: str, filename: str, key: str, line: int, message: str) -> int:
    """The reported line, or the one before when the record was judged after its end of line."""
    if line <= 1:
        return line
    head = "".join(text.splitlines(keepends=True)[: line - 1])
    try:
        _from_text(head, filename, key)
    except dns.exception.SyntaxError as error:
        if _split_message(str(error), filename)[1] == message:
            return line - 1
    except (dns.exception.DNSException, ValueError):
        pass
    return line


def _first_failing_line(text: str, filename: str, key: str, kind: type[Exception]) -> int | None:
    """The shortest prefix of the file (in lines) whose parse raises ``kind``: where that error is."""
    lines = text.splitlines(keepends=True)

    def fails(count: int) -> bool:
        try:
            _from_text("".join(lines[:count]), filename, key)
        except kind:
            return True
        except (dns.exception.DNSException, ValueError):
            return False
        return False

    low, high = 1, len(lines)
    if not lines or not fails(high):
        return None
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if fails(middle) else (middle + 1, high)
    return low


def _line_text(text: str, line: int | None) -> str:
    lines = text.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return "end of file"
    return lines[line - 1].strip() or "an empty line"


def _located(text: str, filename: str, line: int | None, message: str) -> ScenarioError:
    detail = "" if message.startswith("expect") else message.rstrip(".")
    expected = _expectation(message, text, line)
    return ScenarioError(detail, file=filename, line=line, expected=expected, found=_line_text(text, line))


def _expectation(message: str, text: str, line: int | None) -> str:
    """What the file should have had: from dnspython's message, else from the record type on the line."""
    for pattern, expected in _EXPECTATIONS:
        if pattern.search(message):
            return expected
    for token in _line_text(text, line).split():
        if token.upper() in _DATA_SHAPE:
            return f"{token.upper()} data: {_DATA_SHAPE[token.upper()]}"
    found = re.match(r"expect(?:ing|ed) (.*?)(?:, got.*)?$", message)
    if found:
        return found.group(1)
    return "a record NAME [TTL] [IN] TYPE DATA"


def _check_in_zone(text: str, filename: str, origin: str) -> None:
    """Raise on the first record whose owner name lies outside ``origin`` (dnspython would drop it)."""
    tok = dns.tokenizer.Tokenizer(text, filename)
    current = dns.name.from_text(origin)
    while True:
        token = tok.get(want_leading=True)
        if token.is_eof():
            return
        if token.is_eol():
            continue
        line = tok.line_number
        if token.is_identifier() and token.value.upper() == "$ORIGIN":
            current = tok.get_name(current)
        elif token.is_identifier() and not token.value.startswith("$"):
            owner = canonical(tok.as_name(token, current))
            if not is_below(owner, origin):
                raise ScenarioError(
                    f"record outside zone {origin}",
                    file=filename,
                    line=line,
                    expected=f"a name inside {origin}",
                    found=owner,
                )
        _skip_line(tok)


def _skip_line(tok: dns.tokenizer.Tokenizer) -> None:
    while not tok.get().is_eol_or_eof():
        pass
