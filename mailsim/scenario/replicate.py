"""Replications: seeds for common random numbers, and confidence intervals over independent runs.

Replication *r* of every arm runs with seed ``base + r``, so arms differ only in what the sweep
changes and comparisons between arms are sharper (common random numbers: every named stream of the
run, arrivals included, starts from the same seed). Each replication is one independent
observation of a metric; the interval for its mean is Student's t with ``n - 1`` degrees of freedom
(the runs are i.i.d. by construction; within-run autocorrelation does not matter).

Student's t quantile is computed here (regularised incomplete beta by Lentz's continued fraction,
then bisection), so the package needs no SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_TINY = 1e-300
_EPS = 1e-15


def seeds(base: int, replications: int) -> list[int]:
    """Replication r's seed, the same in every arm (common random numbers)."""
    return [base + r for r in range(replications)]


def _continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):  # fmt: skip
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _continued_fraction(a, b, x) / a
    return 1.0 - front * _continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (``t_quantile(0.975, 9)`` = 2.262...)."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError("t_quantile needs 0 < p < 1 and df > 0")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2.0


@dataclass(frozen=True, slots=True)
class Interval:
    """A mean with its confidence interval: ``low <= mean <= high``, ``half`` the half-width."""

    mean: float
    half: float
    n: int
    std: float
    level: float = 0.95

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


def mean_ci(values: Sequence[float] | np.ndarray, level: float = 0.95) -> Interval:
    """Mean and Student-t interval of independent observations (NaNs are left out; one value: infinite)."""
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    n = int(data.size)
    if n == 0:
        return Interval(math.nan, math.nan, 0, math.nan, level)
    if n == 1:
        return Interval(float(data[0]), math.inf, 1, math.nan, level)
    std = float(data.std(ddof=1))
    half = t_quantile(0.5 + level / 2.0, n - 1) * std / math.sqrt(n)
    return Interval(float(data.mean()), half, n, std, level)


def summarise(runs: pd.DataFrame, by: Sequence[str], metrics: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """Per arm (``by`` columns) and metric: n, mean, std, half-width and the interval [low, high]."""
    rows = []
    groups = runs.groupby(list(by), sort=True, dropna=False) if by else [((), runs)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        for metric in metrics:
            ci = mean_ci(part[metric].to_numpy(dtype=float), level)
            rows.append([*key, metric, ci.n, ci.mean, ci.std, ci.half, ci.low, ci.high])
    return pd.DataFrame(rows, columns=[*by, "metric", "n", "mean", "std", "half_width", "ci_low", "ci_high"])
