"""The scenario.toml schema: what each key means, its type, and how a wrong value is reported.

A schema is data (:class:`Table` of :class:`Field`), so the loader, the documentation
(``mailsim validate --schema``) and the error messages all come from one description. Values are
converted on the way in (durations to seconds, bandwidths to bytes/s); unknown keys are errors.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mailsim.core.units import parse_bandwidth, parse_duration, parse_rate, parse_size

Converter = Callable[[Any], Any]


class Invalid(Exception):
    """A value did not convert: carries what was expected."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


@dataclass(frozen=True, slots=True)
class Problem:
    """One schema violation at a key path."""

    path: str
    expected: str
    found: Any


def _typed(kind: type | tuple[type, ...], expected: str) -> Converter:
    def convert(value: Any) -> Any:
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise Invalid(expected)
        if not isinstance(value, kind):
            raise Invalid(expected)
        return value

    return convert


def _parsed(parse: Callable[[Any], Any], expected: str) -> Converter:
    def convert(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise Invalid(expected)
        try:
            return parse(value)
        except ValueError as exc:
            raise Invalid(expected) from exc

    return convert


def _address(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except (ValueError, TypeError) as exc:
        raise Invalid("an IPv4 or IPv6 address like 192.0.2.10 or 2001:db8::10") from exc


def one_of(*choices: str) -> Converter:
    expected = "one of " + ", ".join(repr(c) for c in choices)

    def convert(value: Any) -> Any:
        if value not in choices:
            raise Invalid(expected)
        return value

    return convert


def list_of(item: Converter, expected: str) -> Converter:
    def convert(value: Any) -> Any:
        if not isinstance(value, list):
            raise Invalid(expected)
        return tuple(item(v) for v in value)

    return convert


STRING = _typed(str, "a string")
INTEGER = _typed(int, "an integer")
NUMBER = _typed((int, float), "a number")
BOOLEAN = _typed(bool, "true or false")
DURATION = _parsed(parse_duration, 'a duration like "300s", "10ms" or "5d"')
SIZE = _parsed(parse_size, 'a size like "10240000" or "64KB"')
BANDWIDTH = _parsed(parse_bandwidth, 'a bandwidth like "100Mbit" or "10MB/s"')
RATE = _parsed(parse_rate, 'a rate like "120/h"')
ADDRESS: Converter = _address
STRINGS = list_of(STRING, "a list of strings")


def probability(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise Invalid("a number between 0 and 1")
    return float(value)


def window(value: Any) -> tuple[float, float]:
    expected = 'a window ["START", "END"] of durations, START < END'
    if not isinstance(value, list) or len(value) != 2:
        raise Invalid(expected)
    start, end = (DURATION(v) for v in value)
    if not start < end:
        raise Invalid(expected)
    return (start, end)


@dataclass(frozen=True, slots=True)
class Field:
    """One key: its converter (or nested table), whether it is required, its default and meaning."""

    convert: Converter | Table | ListOf
    doc: str
    required: bool = False
    default: Any = None


@dataclass(frozen=True, slots=True)
class Table:
    """A TOML table with a fixed set of keys."""

    fields: Mapping[str, Field]
    doc: str = ""

    def validate(self, value: Any, path: str, problems: list[Problem]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            problems.append(Problem(path, "a table", value))
            return None
        out: dict[str, Any] = {}
        for key in value:
            if key not in self.fields:
                known = ", ".join(sorted(self.fields))
                problems.append(Problem(_join(path, key), f"one of the known keys ({known})", key))
        for key, spec in self.fields.items():
            where = _join(path, key)
            if key not in value:
                if spec.required:
                    problems.append(Problem(where, f"this key ({spec.doc})", "nothing"))
                out[key] = spec.default
                continue
            out[key] = _check(spec.convert, value[key], where, problems)
        return out


@dataclass(frozen=True, slots=True)
class ListOf:
    """A list (array of tables or inline tables) whose items follow one table schema."""

    item: Table
    doc: str = ""
    items: list[Any] = field(default_factory=list)

    def validate(self, value: Any, path: str, problems: list[Problem]) -> tuple[dict[str, Any], ...] | None:
        if not isinstance(value, list):
            problems.append(Problem(path, "a list of tables", value))
            return None
        rows = (self.item.validate(v, f"{path}[{i}]", problems) for i, v in enumerate(value))
        return tuple(r for r in rows if r is not None)


def _check(convert: Converter | Table | ListOf, value: Any, where: str, problems: list[Problem]) -> Any:
    if isinstance(convert, (Table, ListOf)):
        return convert.validate(value, where, problems)
    try:
        return convert(value)
    except Invalid as exc:
        problems.append(Problem(where, exc.expected, value))
        return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
