"""Postfix 3.7 built-in parameter defaults, exactly as Debian 12's ``postconf -d`` prints them.

The snapshot is data, kept as ``postconf -d`` output in ``data/postconf-d-VERSION.txt`` (one ``name = value``
line each): generated with ``postconf -c DIR -d`` from an empty main.cf and an empty master.cf (so no
service-defined parameters) on Postfix 3.7.11-0+deb12u1. Host-derived defaults (myhostname, mydomain,
mynetworks) are not in it: they are computed from :class:`mailsim.config.hostfacts.HostFacts`; ``process_id``
is a run-time value and is fixed to "0". Regenerate the file rather than edit it by hand.
"""

from __future__ import annotations

from importlib.resources import files

POSTFIX_VERSION = "3.7.11"


def _snapshot(version: str) -> tuple[tuple[str, str], ...]:
    """(name, default text) pairs of ``postconf -d`` output, in its order."""
    text = files("mailsim.config").joinpath(f"data/postconf-d-{version}.txt").read_text(encoding="utf-8")
    pairs = []
    for line in text.splitlines():
        name, _, value = line.partition(" =")
        pairs.append((name, value.removeprefix(" ")))
    return tuple(pairs)


BUILTIN_DEFAULTS: tuple[tuple[str, str], ...] = _snapshot(POSTFIX_VERSION)
"""name, default text as printed by ``postconf -d``."""

HOST_DERIVED: frozenset[str] = frozenset({"myhostname", "mydomain", "mynetworks"})
