"""Postfix-style quantities: durations ("300s", "5d"), sizes ("10240000", "10MB"), rates and bandwidths.

Postfix time values are a number with an optional one-letter unit (s, m, h, d, w; postconf(5)
"time units"); network latencies also need ms and us, so those are accepted too. All durations
come back as float seconds, sizes as int bytes, bandwidths as float bytes per second.
"""

from __future__ import annotations

import re

_DURATION_UNITS = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_BANDWIDTH_UNITS = {
    "bit": 1 / 8,
    "kbit": 1000 / 8,
    "mbit": 1000**2 / 8,
    "gbit": 1000**3 / 8,
    "bps": 1 / 8,
    "kbps": 1000 / 8,
    "mbps": 1000**2 / 8,
    "gbps": 1000**3 / 8,
    "b/s": 1,
    "kb/s": 1000,
    "mb/s": 1000**2,
    "gb/s": 1000**3,
}
_RATE_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_QUANTITY = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>[A-Za-z/]*)\s*$")


def _split(text: str | int | float) -> tuple[float, str]:
    if isinstance(text, bool):
        raise ValueError(f"not a quantity: {text!r}")
    if isinstance(text, (int, float)):
        return float(text), ""
    match = _QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"not a quantity: {text!r}")
    return float(match.group("number")), match.group("unit").lower()


def parse_duration(text: str | int | float, default_unit: str = "s") -> float:
    """Seconds in a Postfix time value; a bare number takes ``default_unit`` as Postfix does."""
    value, unit = _split(text)
    unit = unit or default_unit
    if unit not in _DURATION_UNITS:
        raise ValueError(f"unknown time unit {unit!r} in {text!r} (use us, ms, s, m, h, d or w)")
    return value * _DURATION_UNITS[unit]


def parse_size(text: str | int | float) -> int:
    """Bytes in a size ("10240000", "64KB", "1MiB")."""
    value, unit = _split(text)
    if unit not in _SIZE_UNITS:
        raise ValueError(f"unknown size unit {unit!r} in {text!r} (use B, KB, KiB, MB, MiB, GB, GiB)")
    return int(round(value * _SIZE_UNITS[unit]))


def parse_bandwidth(text: str | int | float) -> float:
    """Bytes per second in a link speed ("100Mbit", "1Gbit", "10MB/s"); a bare number is bit/s."""
    value, unit = _split(text)
    unit = unit or "bit"
    if unit not in _BANDWIDTH_UNITS:
        raise ValueError(f"unknown bandwidth unit {unit!r} in {text!r} (use bit, kbit, Mbit, Gbit or MB/s)")
    return value * _BANDWIDTH_UNITS[unit]


def parse_rate(text: str | int | float) -> float:
    """Events per second in a rate ("120/h", "2/s"); a bare number is per second."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    head, _, per = str(text).partition("/")
    value, unit = _split(head)
    if unit:
        raise ValueError(f"not a rate: {text!r} (write N/s, N/m, N/h or N/d)")
    per = per.strip().lower() or "s"
    if per not in _RATE_UNITS:
        raise ValueError(f"unknown rate unit {per!r} in {text!r} (use /s, /m, /h or /d)")
    return value / _RATE_UNITS[per]


def format_duration(seconds: float) -> str:
    """A compact human form ("1h30m", "250ms") for tables and trace summaries."""
    if seconds < 1:
        return f"{seconds * 1000:.3g}ms"
    parts = []
    rest = int(round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"
