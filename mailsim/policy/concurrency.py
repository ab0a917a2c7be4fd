"""Per-destination concurrency: Postfix's slow start, feedback hysteresis and dead destinations.

Follows qmgr_queue.c (Postfix >= 2.5, SCHEDULER_README "Destination concurrency scheduling"):
a destination starts with initial_destination_concurrency parallel deliveries; each delivery
that completes without a site-level failure gives positive feedback, each site-level failure
(connection refused or timed out, 4xx greeting) gives negative feedback. Feedback is either a
constant or ``1/concurrency`` (divided by the current window); it accumulates until it reaches
the hysteresis (1) and then moves the window by one. Failures also count pseudo-cohorts
(1/window each); after failed_cohort_limit of them the destination is declared dead (window 0)
and all its queued mail is deferred without connecting, until a timer of minimal_backoff_time
(or the next successful delivery) gives it another chance at the initial concurrency.

Parameters: initial_destination_concurrency (5), default_destination_concurrency_limit (20),
default_destination_concurrency_positive_feedback (1),
default_destination_concurrency_negative_feedback (1) — Postfix 3.x defaults; SCHEDULER_README
also studies 1/concurrency, which :meth:`Feedback.parse` accepts,
default_destination_concurrency_failed_cohort_limit (1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

HYSTERESIS = 1.0


@dataclass(frozen=True, slots=True)
class Feedback:
    """A feedback amount: ``base`` alone, or ``base / window`` when ``per_window``."""

    base: float
    per_window: bool

    @classmethod
    def parse(cls, text: str) -> Feedback:
        """ "1/concurrency", "1/8" or "1" as Postfix accepts them."""
        text = text.strip().replace(" ", "")
        if text.endswith("/concurrency"):
            return cls(float(text.split("/")[0]), True)
        if "/" in text:
            num, den = text.split("/", 1)
            return cls(float(num) / float(den), False)
        return cls(float(text), False)

    def value(self, window: int) -> float:
        return self.base / window if self.per_window else self.base


@dataclass(frozen=True, slots=True)
class ConcurrencyLimits:
    initial: int = 5
    limit: int = 20
    positive: Feedback = Feedback(1.0, False)
    negative: Feedback = Feedback(1.0, False)
    failed_cohort_limit: float = 1.0


@dataclass(frozen=True, slots=True)
class Window:
    """A destination's concurrency state; ``window == 0`` means dead (throttled)."""

    window: int
    success: float = 0.0
    failure: float = 0.0
    fail_cohorts: float = 0.0

    @property
    def dead(self) -> bool:
        return self.window == 0


def initial_window(limits: ConcurrencyLimits) -> Window:
    """A new destination starts at initial_destination_concurrency (qmgr_queue_create)."""
    return Window(limits.initial)


def on_success(state: Window, busy: int, limits: ConcurrencyLimits) -> Window:
    """Positive feedback after a delivery without site failure (qmgr_queue_unthrottle).

    A success always clears the failed-cohort count; a dead site comes back at its current
    busy count (or the initial concurrency when idle), "best concurrency is anyone's guess".
    """
    if state.dead:
        return Window(busy if busy > 0 else limits.initial)
    if state.fail_cohorts:  # most successes follow successes: no new record then
        state = replace(state, fail_cohorts=0.0)
    if limits.limit != 0 and limits.limit <= state.window:
        return state
    if state.window >= busy + limits.initial:
        return state
    feedback = limits.positive.value(state.window)
    window, success, failure = state.window, state.success + feedback, state.failure
    while success + feedback / 2 >= HYSTERESIS:
        window += int(HYSTERESIS)
        success -= HYSTERESIS
        failure = 0.0
    if limits.limit > 0:
        window = min(window, limits.limit)
    return Window(window, success, failure, 0.0)


def on_failure(state: Window, limits: ConcurrencyLimits) -> Window:
    """Negative feedback after a site-level failure (qmgr_queue_throttle); may declare the site dead."""
    if state.dead:
        return state
    cohorts = state.fail_cohorts + 1.0 / state.window
    if limits.failed_cohort_limit > 0 and cohorts >= limits.failed_cohort_limit:
        return Window(0, state.success, state.failure, cohorts)
    feedback = limits.negative.value(state.window)
    window, success, failure = state.window, state.success, state.failure - feedback
    while failure - feedback / 2 < 0:
        window -= int(HYSTERESIS)
        success = 0.0
        failure += HYSTERESIS
    return Window(max(window, 1), success, failure, cohorts)
