"""Queue IDs as Postfix makes them, from virtual time and a run-local counter (never from wall clocks).

Short form (Postfix default, ``enable_long_queue_ids = no``): the arrival microseconds as five hex
digits followed by the queue file's inode number in hex, e.g. ``63AB620C3AB`` (10-12 characters in
practice). Long form (``enable_long_queue_ids = yes``): seconds in base 52 padded to 6, microseconds
in base 52 padded to 4, ``z``, then the inode in base 51 (Postfix ``mail_queue.h``), e.g.
``4dYF2K0b6Rz1nH``; the alphabet has no vowels so IDs never spell words.

In mailsim the "inode" is ``INODE_BASE`` plus a per-host counter, so IDs are unique per host
(as Postfix's are: inode numbers of live files are unique) and identical from run to run.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol

INODE_BASE = 0x20C000  # looks like an inode on a real ext4 queue; any value works
LONG_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"  # 52 symbols, no vowels
LONG_SEPARATOR = "z"
_SHORT = re.compile(r"^[0-9A-F]{6,}$")
_LONG = re.compile(rf"^[{LONG_ALPHABET[:-1]}]{{10}}z[{LONG_ALPHABET[:-1]}]+$")


class _SimLike(Protocol):
    @property
    def now(self) -> float: ...

    def wallclock(self, at: float | None = None) -> datetime: ...

    def counter(self, name: str) -> int: ...


class _RngLike(Protocol):
    def integers(self, low: int, high: int | None = None) -> Any: ...


def _encode(value: int, base: int, pad: int = 0) -> str:
    digits = []
    while True:
        value, digit = divmod(value, base)
        digits.append(LONG_ALPHABET[digit])
        if value == 0:
            break
    return "".join(reversed(digits)).rjust(pad, LONG_ALPHABET[0])


def short_queue_id(microseconds: int, inode: int) -> str:
    """Postfix's short queue ID: ``%05X`` microseconds then ``%lX`` inode."""
    if not 0 <= microseconds < 1_000_000 or inode < 0:
        raise ValueError(f"microseconds must be 0..999999 and inode >= 0, got {microseconds}, {inode}")
    return f"{microseconds:05X}{inode:X}"


def long_queue_id(seconds: int, microseconds: int, inode: int) -> str:
    """Postfix's long queue ID: base-52 seconds (6) and microseconds (4), ``z``, base-51 inode."""
    if not 0 <= microseconds < 1_000_000 or inode < 0 or seconds < 0:
        raise ValueError(f"bad long queue id parts: {seconds}, {microseconds}, {inode}")
    return _encode(seconds, 52, 6) + _encode(microseconds, 52, 4) + LONG_SEPARATOR + _encode(inode, 51)


def is_queue_id(text: str) -> bool:
    """Whether ``text`` has the shape of a short or long Postfix queue ID."""
    return bool(_SHORT.match(text) or _LONG.match(text))


def _microseconds(now: float) -> int:
    return int(round((now % 1.0) * 1_000_000)) % 1_000_000


def new_queue_id(sim: _SimLike, host: str, *, long: bool = False) -> str:
    """The next queue ID on ``host`` at the simulation's current time (counter ``queue-id:HOST``)."""
    inode = INODE_BASE + sim.counter(f"queue-id:{host}")
    usec = _microseconds(sim.now)
    if long:
        return long_queue_id(int(sim.wallclock().timestamp()), usec, inode)
    return short_queue_id(usec, inode)


def random_queue_id(rng: _RngLike, now: float, *, long: bool = False, epoch_seconds: int = 0) -> str:
    """A queue ID with a random inode drawn from ``rng`` (for tools that need no per-host counter)."""
    inode = INODE_BASE + int(rng.integers(0, 0xFFFFF))
    if long:
        return long_queue_id(epoch_seconds + int(now), _microseconds(now), inode)
    return short_queue_id(_microseconds(now), inode)


def hash_directory(queue_id: str, depth: int = 1) -> str:
    """Postfix's hashed subdirectory for a queue file (``hash_queue_depth``, default 1): ``8/`` for ``8AE9...``."""
    return "".join(f"{char}/" for char in queue_id[:depth])
