"""The RFC 7208 test suite (openspf.org release 2014.04, as shipped in pyspf 2.0.14's sdist), every
scenario's zone data loaded into a mailsim ZoneSet and asked through a mailsim Resolver, evaluated by
mailsim's SPF path (check_spf).

How the suite's zone data maps onto the simulated DNS (pyspf's own driver, test/testspf.py, defines
the conventions):

- ``SPF: text`` is a type-99 record and, when the name has no ``TXT`` entry, also a TXT record;
  ``TXT: NONE`` only suppresses that copy. Strings are stored as bytes (UTF-8), so the non-ASCII and
  control-character cases reach pyspf exactly as a wire answer would. dnspython refuses a TXT record
  of no strings (``SPF: [ ]``, illegal on the wire); it is stored as one empty string, which joins to
  the same empty value.
- ``TIMEOUT`` means: a query for a type that has no record listed before it gets no answer. That is
  a mailsim DNS fault: ``Faults.add("TIMEOUT", name, rdtype=T)`` for each such type, so the resolver
  reports TIMEOUT after its full timeout, as in a scenario. No case is skipped.
"""

from __future__ import annotations

from pathlib import Path

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from mailsim.core import Simulation
from mailsim.dns import Faults, Resolver, ZoneSet
from mailsim.policy.auth.spf import check_spf

yaml = pytest.importorskip("yaml")

SUITE = Path(__file__).resolve().parents[2] / "data" / "spf" / "rfc7208-tests.yml"
TYPES = ("A", "AAAA", "MX", "PTR", "TXT", "SPF", "CNAME")
SKIPPED: dict[str, str] = {}  # test id -> why; empty: the simulated DNS expresses every case


def _scenarios() -> list[dict]:
    with SUITE.open("rb") as handle:
        return list(yaml.safe_load_all(handle))


def _strings(value: str | list[str]) -> list[bytes]:
    """A record's strings; a record of no strings (``SPF: [ ]``) is one empty string, its joined value."""
    return [s.encode("utf-8") for s in ([value] if isinstance(value, str) else value)] or [b""]


def _owner(name: str) -> dns.name.Name:
    """The owner as octets: one suite name holds spaces, which zone-file text would have to escape."""
    return dns.name.Name([label.encode() for label in name.rstrip(".").split(".")] + [b""])


def _add(zones: ZoneSet, name: str, rtype: str, value: object) -> None:
    rdtype = dns.rdatatype.from_text(rtype)
    if rtype in ("TXT", "SPF"):
        cls = dns.rdata.get_rdata_class(dns.rdataclass.IN, rdtype)
        rdata = cls(dns.rdataclass.IN, rdtype, _strings(value))
    elif rtype == "MX":  # an empty exchange is the root, as in a null MX (RFC 7505)
        rdata = dns.rdata.from_text("IN", "MX", f"{value[0]} {value[1] or '.'}", origin=dns.name.root)
    else:
        rdata = dns.rdata.from_text("IN", rtype, str(value), origin=dns.name.root)
    zones.add_rrset(dns.rrset.from_rdata_list(_owner(name), 300, [rdata]))


def _load(zonedata: dict) -> tuple[ZoneSet, Faults]:
    """The scenario's records as a ZoneSet, its TIMEOUT markers as resolver faults."""
    zones, faults = ZoneSet(), Faults()
    for name, entries in zonedata.items():
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        seen: set[str] = set()
        for entry in entries:
            if entry == "TIMEOUT":
                for rtype in sorted(set(TYPES) - seen):
                    faults.add("TIMEOUT", _owner(name), rdtype=rtype)
                continue
            ((rtype, value),) = entry.items()
            if value == "NONE":
                continue
            seen.add(rtype)
            _add(zones, name, rtype, value)
            if rtype == "SPF" and not has_txt:
                _add(zones, name, "TXT", value)
    return zones, faults


def _cases() -> list:
    cases = []
    for scenario in _scenarios():
        for test_id, test in scenario["tests"].items():
            marks = [pytest.mark.skip(reason=SKIPPED[test_id])] if test_id in SKIPPED else []
            cases.append(pytest.param(scenario["zonedata"], test, id=test_id, marks=marks))
    return cases


def _resolver(zonedata: dict) -> Resolver:
    zones, faults = _load(zonedata)
    return Resolver(Simulation(seed=0, keep_trace=False), zones, host="receiver.test", faults=faults)


@pytest.mark.parametrize(("zonedata", "test"), _cases())
def test_rfc7208_case(zonedata: dict, test: dict) -> None:
    resolver = _resolver(zonedata)
    verdict = check_spf(
        test["host"],
        test["mailfrom"],
        test["helo"],
        resolver.lookup_now,
        receiver=test.get("receiver") or "unknown",
        strict=test.get("strict", True),
        default_explanation="DEFAULT",
    )
    expected = test["result"]
    assert verdict.result in ([expected] if isinstance(expected, str) else expected), test.get("description")
    if "explanation" in test:
        assert verdict.explanation == test["explanation"]


def test_the_suite_is_complete() -> None:
    """The vendored suite is the 2014.04 release: 203 cases, none skipped."""
    assert sum(len(s["tests"]) for s in _scenarios()) == 203
    assert SKIPPED == {}
