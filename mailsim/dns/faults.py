"""Injected DNS failures: per name (exact or ``*.zone`` wildcard), optionally per record type, in a time window.

A fault says what the resolver reports instead of the authoritative answer:

- ``NXDOMAIN`` - the name does not exist (a deleted or expired domain), after one round trip;
- ``SERVFAIL`` - the recursive resolver gave up on the authority (lame delegation, DNSSEC failure),
  after one round trip;
- ``TIMEOUT``  - no reply at all: the query takes the resolver's full timeout (every attempt) and fails.

Names: ``mx1.example.org`` matches that name only; ``*.example.org`` matches every name *below*
example.org (not example.org itself, as in DNS wildcards; add both for a whole domain); ``*`` matches
every name. The window is ``[start, end)`` in virtual seconds. By default a fault strikes the path
behind the resolver, so answers the resolver still holds in its cache are served during the fault
(exactly what makes TTLs matter in an outage); ``bypass_cache=True`` makes the resolver itself fail.
Injected answers are never cached, so a fault ends exactly when its window does.
One :class:`Faults` may be shared by every resolver of a run (a scenario's DNS faults are global).

Postfix parameters read: none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from mailsim.core.errors import ScenarioError
from mailsim.dns.names import NameLike, TypeLike, canonical, checked, parent, rdtype_of


class FaultKind(StrEnum):
    """What an injected fault makes the resolver report."""

    NXDOMAIN = "NXDOMAIN"
    SERVFAIL = "SERVFAIL"
    TIMEOUT = "TIMEOUT"


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure; ``name`` is a key (``"mx1.example.org."``, ``"*.example.org."`` or ``"*."``)."""

    kind: FaultKind
    name: str
    rdtype: int | None = None
    start: float = 0.0
    end: float = math.inf
    bypass_cache: bool = False

    def active(self, rdtype: int, now: float) -> bool:
        """True when the fault applies to a query of ``rdtype`` issued at virtual time ``now``."""
        return self.start <= now < self.end and (self.rdtype is None or self.rdtype == rdtype)


class Faults:
    """The injected DNS faults of a run, indexed by exact name and by wildcard suffix for dict-speed matching."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._exact: dict[str, list[Fault]] = {}
        self._below: dict[str, list[Fault]] = {}
        self._count = 0
        for fault in faults:
            self._index(fault)

    def __bool__(self) -> bool:
        return self._count > 0

    def __len__(self) -> int:
        return self._count

    def add(
        self,
        kind: FaultKind | str,
        name: NameLike,
        *,
        rdtype: TypeLike | None = None,
        start: float = 0.0,
        end: float = math.inf,
        bypass_cache: bool = False,
    ) -> Fault:
        """Inject a fault (user input is checked: bad kinds, names, types or windows are ScenarioErrors)."""
        try:
            kind = FaultKind(str(kind).upper())
        except ValueError:
            raise ScenarioError(
                "unknown DNS fault", key="kind", expected="NXDOMAIN, SERVFAIL or TIMEOUT", found=kind
            ) from None
        if not start < end:
            raise ScenarioError("empty fault window", key="until", expected=f"an end after {start}", found=end)
        text = str(name)
        key = "*." if text in ("*", "*.") else checked(name)
        number = None if rdtype is None else rdtype_of(rdtype)
        fault = Fault(kind, key, number, float(start), float(end), bypass_cache)
        self._index(fault)
        return fault

    def _index(self, fault: Fault) -> None:
        if fault.name.startswith("*."):
            below = fault.name[2:] or "."
            self._below.setdefault(below, []).append(fault)
        else:
            self._exact.setdefault(canonical(fault.name), []).append(fault)
        self._count += 1

    def match(self, key: str, rdtype: int, now: float) -> Fault | None:
        """The first active fault for (key, rdtype) at ``now``: exact names first, then nearest wildcard."""
        for fault in self._exact.get(key, ()):
            if fault.active(rdtype, now):
                return fault
        if not self._below:
            return None
        up = parent(key)
        while up is not None:
            for fault in self._below.get(up, ()):
                if fault.active(rdtype, now):
                    return fault
            up = parent(up)
        return None
