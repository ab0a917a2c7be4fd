"""What a workload draws: arrival times, message sizes and recipient counts, as pure functions of a random stream.

Arrival processes
-----------------
Every generated process is a non-homogeneous Poisson process with a piecewise-constant rate
(:class:`RateProfile`): a constant ``rate`` (``poisson``), the same rate shaped by a 24-value table of
hourly weights (``diurnal``: the rate in hour *h* of the wall clock is ``rate * w[h] / mean(w)``, so
``rate`` stays the daily mean), plus any number of burst windows that add their own rate while they
last. Arrivals are drawn exactly (no thinning): one unit-exponential per arrival, spent against the
integrated rate segment by segment, so a rate change shifts later arrivals but never re-draws them.
Replayed arrivals (CSV files, Postfix maillogs) are read by :mod:`mailsim.ua.replay`.

Distributions
-------------
Sizes and recipient counts are written as in the scenario file: a plain quantity (``"8KB"``, ``3``)
or ``fixed(X)``; ``exponential(MEAN)``; ``lognormal(MEAN, SIGMA)`` (MEAN is the mean, not the median:
capacity is planned in bytes per second; SIGMA is the standard deviation of the logarithm);
``uniform(LOW, HIGH)``; ``geometric(MEAN)`` (counts 1, 2, ... with that mean); and an empirical
table ``{ values = [...], weights = [...] }``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

HOURS = 24
DAY = 86400.0
KINDS = ("fixed", "exponential", "lognormal", "uniform", "geometric", "empirical")
_CALL = re.compile(r"^\s*(?P<kind>[a-z]+)\s*\((?P<args>[^()]*)\)\s*$")
_ARITY = {"fixed": 1, "exponential": 1, "lognormal": 2, "uniform": 2, "geometric": 1}
DISTRIBUTION_SYNTAX = (
    "a quantity, fixed(X), exponential(MEAN), lognormal(MEAN, SIGMA), uniform(LOW, HIGH), geometric(MEAN) "
    "or { values = [...], weights = [...] }"
)


@dataclass(frozen=True, slots=True)
class Distribution:
    """A one-dimensional distribution of sizes or counts (see the module docstring for the syntax)."""

    kind: str
    params: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()

    @property
    def mean(self) -> float:
        """The distribution's mean (what a planner multiplies by the rate)."""
        if self.kind in ("fixed", "exponential", "lognormal", "geometric"):
            return self.params[0]
        if self.kind == "uniform":
            return (self.params[0] + self.params[1]) / 2
        return float(np.dot(self.values, self.weights))

    def sample(self, rng: np.random.Generator) -> float:
        """One draw (one or two numbers taken from ``rng``; ``fixed`` takes none)."""
        kind, p = self.kind, self.params
        if kind == "fixed":
            return p[0]
        if kind == "exponential":
            return float(rng.exponential(p[0]))
        if kind == "lognormal":
            mu = math.log(p[0]) - p[1] ** 2 / 2
            return float(rng.lognormal(mu, p[1]))
        if kind == "uniform":
            return float(rng.uniform(p[0], p[1]))
        if kind == "geometric":
            return float(rng.geometric(1.0 / p[0]))
        index = int(np.searchsorted(np.cumsum(self.weights), rng.random() * sum(self.weights), side="right"))
        return self.values[min(index, len(self.values) - 1)]

    def count(self, rng: np.random.Generator) -> int:
        """A draw as a whole number of at least one (recipient counts)."""
        return max(1, int(round(self.sample(rng))))

    def size(self, rng: np.random.Generator) -> int:
        """A draw as a whole number of bytes (at least zero)."""
        return max(0, int(round(self.sample(rng))))


def fixed(value: float) -> Distribution:
    return Distribution("fixed", (float(value),))


def parse_distribution(value: Any, quantity: Callable[[Any], float]) -> Distribution:
    """A :class:`Distribution` from its scenario form; ``quantity`` converts one number ("8KB" -> 8192).

    Raises ValueError naming the expected syntax.
    """

    def number(text: Any) -> float:
        try:
            return float(quantity(text))
        except (ValueError, TypeError):
            raise ValueError(DISTRIBUTION_SYNTAX) from None

    if isinstance(value, Mapping):
        return _empirical(value, number)
    if isinstance(value, bool):
        raise ValueError(DISTRIBUTION_SYNTAX)
    if isinstance(value, (int, float)):
        return _checked("fixed", (number(value),))
    if not isinstance(value, str):
        raise ValueError(DISTRIBUTION_SYNTAX)
    match = _CALL.match(value)
    if match is None:
        return _checked("fixed", (number(value),))
    kind = match.group("kind")
    if kind not in _ARITY:
        raise ValueError(DISTRIBUTION_SYNTAX)
    args = [a.strip() for a in match.group("args").split(",")]
    if len(args) != _ARITY[kind]:
        raise ValueError(f"{kind} takes {_ARITY[kind]} argument(s): {DISTRIBUTION_SYNTAX}")
    numbers = (number(args[0]),) + tuple(number(a) if kind != "lognormal" else _float(a) for a in args[1:])
    return _checked(kind, numbers)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(DISTRIBUTION_SYNTAX) from None


def _checked(kind: str, params: tuple[float, ...]) -> Distribution:
    if any(not math.isfinite(p) or p < 0 for p in params):
        raise ValueError(f"non-negative numbers: {DISTRIBUTION_SYNTAX}")
    if kind == "uniform" and params[0] > params[1]:
        raise ValueError("uniform(LOW, HIGH) with LOW <= HIGH")
    if kind in ("exponential", "lognormal") and params[0] <= 0:
        raise ValueError(f"{kind} with a positive mean")
    if kind == "geometric" and params[0] < 1:
        raise ValueError("geometric(MEAN) with MEAN >= 1")
    return Distribution(kind, params)


def _empirical(value: Mapping[str, Any], quantity: Callable[[Any], float]) -> Distribution:
    """``{ values = [...], weights = [...] }`` (weights default to equal)."""
    values, weights = value.get("values"), value.get("weights")
    if set(value) - {"values", "weights"} or not isinstance(values, list) or not values:
        raise ValueError(DISTRIBUTION_SYNTAX)
    if weights is None:
        weights = [1.0] * len(values)
    if not isinstance(weights, list) or len(weights) != len(values):
        raise ValueError("as many weights as values")
    numbers = tuple(quantity(v) for v in values)
    if any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("non-negative weights with a positive sum")
    return Distribution("empirical", values=numbers, weights=tuple(float(w) for w in weights))


@dataclass(frozen=True, slots=True)
class Burst:
    """Extra arrivals at ``rate`` per second between ``at`` and ``until`` (virtual seconds)."""

    at: float
    until: float
    rate: float


@dataclass(frozen=True, slots=True)
class RateProfile:
    """A piecewise-constant arrival rate (per second) over virtual time.

    ``profile`` holds 24 hourly weights (or nothing for a constant rate); ``day_offset`` is the wall
    clock's second of the day at virtual time zero, so hour boundaries fall where the calendar has them.
    """

    rate: float
    profile: tuple[float, ...] = ()
    bursts: tuple[Burst, ...] = ()
    day_offset: float = 0.0

    def rate_at(self, t: float) -> float:
        base = self.rate
        if self.profile:
            hour = int(((t + self.day_offset) % DAY) // 3600) % HOURS
            base *= self.profile[hour] * HOURS / sum(self.profile)
        return base + sum(b.rate for b in self.bursts if b.at <= t < b.until)

    def next_change(self, t: float) -> float:
        """The first time after ``t`` at which the rate may change (inf when it never does)."""
        candidates = [b.at for b in self.bursts if b.at > t] + [b.until for b in self.bursts if b.until > t]
        if self.profile:
            into_hour = (t + self.day_offset) % 3600.0
            candidates.append(t + (3600.0 - into_hour))
        return min(candidates, default=math.inf)


def arrival_times(
    profile: RateProfile, rng: np.random.Generator, start: float = 0.0, stop: float = math.inf
) -> Iterator[float]:
    """Arrival times in [start, stop) of the Poisson process with ``profile``'s rate, drawn exactly."""
    t = start
    need = float(rng.exponential())
    while t < stop:
        rate, change = profile.rate_at(t), min(profile.next_change(t), stop)
        if rate > 0 and t + need / rate < change:
            t += need / rate
            yield t
            need = float(rng.exponential())
            continue
        if math.isinf(change):
            return
        need -= rate * (change - t)
        t = change


def hourly_profile(weights: Sequence[float]) -> tuple[float, ...]:
    """24 non-negative weights with a positive sum (ValueError otherwise)."""
    if len(weights) != HOURS:
        raise ValueError(f"{HOURS} hourly weights, one per hour from 00:00")
    if any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("non-negative hourly weights with a positive sum")
    return tuple(float(w) for w in weights)
