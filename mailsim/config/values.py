"""Reading an expanded main.cf value as the kind its parameter declares, with Postfix's rules.

- time: digits with an optional unit ``s m h d w`` (``conv_time``); a bare number takes the unit of
  the parameter's default. Postfix accepts no fractions and no ``ms``, and neither does this.
- size, int: decimal digits (an optional minus sign for int). Postfix takes no ``MB`` here;
  ``message_size_limit = 10MB`` is refused, as Postfix refuses it at start-up.
- bool: ``yes`` or ``no``, any case.
- list, maps: split on commas and whitespace outside ``{...}`` (see :mod:`mailsim.config.syntax`).

A value of the wrong form raises :class:`ValueError` carrying what was expected; the caller adds
file, line and key.

Reads no main.cf parameters.
"""

from __future__ import annotations

import re

from mailsim.config.parameters import Kind
from mailsim.config.syntax import split_list

_TIME = re.compile(r"\s*([0-9]+)([smhdw]?)\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
EXPECTED = {
    Kind.TIME: "a time value: a whole number with an optional unit s, m, h, d or w",
    Kind.SIZE: "a size in bytes: a whole number without a unit",
    Kind.INT: "a whole number",
    Kind.BOOL: "yes or no",
}


class ValueFormError(ValueError):
    """A value does not have the form of its kind; ``expected`` says what would."""

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"expected {expected}, found {found!r}")
        self.expected = expected
        self.found = found


def to_time(value: str, unit: str = "s") -> float:
    """Seconds in a Postfix time value; a bare number is in ``unit``."""
    match = _TIME.fullmatch(value)
    if not match:
        raise ValueFormError(EXPECTED[Kind.TIME], value)
    return float(int(match.group(1)) * _UNIT_SECONDS[match.group(2) or unit])


def to_size(value: str) -> int:
    """Bytes in a Postfix size value."""
    if not re.fullmatch(r"\s*[0-9]+\s*", value):
        raise ValueFormError(EXPECTED[Kind.SIZE], value)
    return int(value)


def to_int(value: str) -> int:
    """A Postfix integer value."""
    if not re.fullmatch(r"\s*-?[0-9]+\s*", value):
        raise ValueFormError(EXPECTED[Kind.INT], value)
    return int(value)


def to_bool(value: str) -> bool:
    """A Postfix boolean (yes/no, any case)."""
    word = value.strip().lower()
    if word not in ("yes", "no"):
        raise ValueFormError(EXPECTED[Kind.BOOL], value)
    return word == "yes"


def to_list(value: str) -> tuple[str, ...]:
    """A Postfix list, braces kept on grouped elements (``inline:{a=b, c=d}`` stays one element)."""
    return tuple(split_list(value))


def check(kind: Kind, value: str, unit: str = "s") -> None:
    """Raise ValueFormError when ``value`` cannot be read as ``kind``."""
    if kind is Kind.TIME:
        to_time(value, unit)
    elif kind is Kind.SIZE:
        to_size(value)
    elif kind is Kind.INT:
        to_int(value)
    elif kind is Kind.BOOL:
        to_bool(value)
