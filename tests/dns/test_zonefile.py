"""Zone files: where the origin comes from, and errors that name file, line and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailsim.core.errors import ScenarioError
from mailsim.dns import Status, ZoneSet


def load(text: str, filename: str = "zones/example.org.zone") -> ZoneSet:
    zones = ZoneSet()
    zones.load_zone_text(text, filename=filename)
    return zones


def test_origin_from_the_file_name_without_origin_line() -> None:
    zones = load("$TTL 300\n@ IN MX 0 .\nwww IN A 192.0.2.1\n")
    assert zones.answer("www.example.org", "A").status is Status.NOERROR


def test_origin_from_the_origin_line_when_the_file_name_says_nothing() -> None:
    zones = load("$ORIGIN example.net.\n$TTL 300\nwww IN A 192.0.2.1\n", filename="db.example")
    assert zones.origins == ["example.net."]


def test_unknown_origin_is_an_error() -> None:
    with pytest.raises(ScenarioError, match=r"^db\.example: .*expected an \$ORIGIN line or a file named ORIGIN\.zone"):
        load("www 300 IN A 192.0.2.1\n", filename="db.example")


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("$TTL 300\n@ IN SOA ns hm 1 2 3 4 5\nwww IN MXX 10 mx\n", 3, "a record type such as A"),
        ("$TTL 300\nwww IN A 192.0.2.300\nok IN A 192.0.2.1\n", 2, "A data: an IPv4 address"),
        ("$TTL 300\n@ IN MX ten mx1\n", 2, "MX data: PREFERENCE EXCHANGE"),
        ("$TTL 300\n@ IN SOA ns hm ( 1 2 3\n", 2, "a closing parenthesis"),
        ("$TTL abc\nwww IN A 192.0.2.1\n", 1, "a TTL such as 300 or 1h"),
        ("www IN A 192.0.2.1\n", 1, "a TTL on the record or a $TTL line before it"),
        ("$TTL 300\nwww IN A 192.0.2.1 192.0.2.2\n", 2, "A data: an IPv4 address"),
        ("$TTL 300\nwww..x IN A 192.0.2.1\n", 2, "a domain name"),
    ],
)
def test_syntax_errors_name_file_line_and_expectation(text: str, line: int, expected: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load(text)
    error = caught.value
    assert (error.file, error.line) == ("zones/example.org.zone", line)
    assert str(error).startswith(f"zones/example.org.zone:{line}: ")
    assert expected in error.expected


def test_cname_beside_other_data_is_located() -> None:
    with pytest.raises(ScenarioError) as caught:
        load("$TTL 300\nmx1 IN A 192.0.2.1\nwww IN CNAME mx1\nwww IN A 192.0.2.2\n")
    assert caught.value.line == 4 and "CNAME" in str(caught.value)


def test_a_record_outside_the_zone_is_an_error_not_dropped() -> None:
    with pytest.raises(ScenarioError) as caught:
        load("$TTL 300\nwww IN A 192.0.2.1\nwww.example.net. IN A 192.0.2.2\n")
    assert caught.value.line == 3
    assert "expected a name inside example.org., found www.example.net." in str(caught.value)


def test_a_missing_zone_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="example.org.zone: .*expected a readable file"):
        ZoneSet().load_zone_file(tmp_path / "example.org.zone")


def test_the_same_zone_twice_is_an_error() -> None:
    zones = load("$TTL 300\nwww IN A 192.0.2.1\n")
    with pytest.raises(ScenarioError, match="loaded twice"):
        zones.load_zone_text("$TTL 300\nwww IN A 192.0.2.1\n", filename="other/example.org.zone")
