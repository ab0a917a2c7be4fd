"""When a deferred message is tried again, and when it has been in the queue too long (qmgr(8)).

Postfix's queue manager (qmgr_active.c) sets a deferred queue file's time stamp to
``now + delay`` where ``delay`` is the time the message has spent in the queue, clamped to
[minimal_backoff_time, maximal_backoff_time]. The deferred queue is scanned every
queue_run_delay; a scan picks up only files whose time stamp has passed, so the actual retry is
the first scan at or after the time stamp. A message whose time in the queue exceeds
maximal_queue_lifetime (bounce_queue_lifetime for the null sender) is returned as expired after
its next failed attempt.

Parameters: minimal_backoff_time (300s), maximal_backoff_time (4000s), queue_run_delay (300s),
maximal_queue_lifetime (5d), bounce_queue_lifetime (5d).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffSettings:
    minimal_backoff_time: float = 300.0
    maximal_backoff_time: float = 4000.0
    queue_run_delay: float = 300.0
    maximal_queue_lifetime: float = 5 * 86400.0
    bounce_queue_lifetime: float = 5 * 86400.0


def backoff_delay(now: float, arrival: float, settings: BackoffSettings) -> float:
    """Postfix's delay before the next attempt: time in queue clamped to the backoff bounds."""
    delay = now - arrival
    delay = min(delay, settings.maximal_backoff_time)
    return max(delay, settings.minimal_backoff_time)


def eligible_at(now: float, arrival: float, settings: BackoffSettings) -> float:
    """The time stamp qmgr gives a deferred queue file: it is not looked at before then."""
    return now + backoff_delay(now, arrival, settings)


def next_scan(at_or_after: float, settings: BackoffSettings, start: float = 0.0) -> float:
    """The first deferred-queue scan at or after a time, scans running every queue_run_delay from ``start``."""
    period = settings.queue_run_delay
    if at_or_after <= start:
        return start
    return start + math.ceil((at_or_after - start) / period - 1e-12) * period


def lifetime(sender: str, settings: BackoffSettings) -> float:
    """How long a message may stay queued: bounces (null sender) have their own limit."""
    return settings.bounce_queue_lifetime if sender == "" else settings.maximal_queue_lifetime


def expired(now: float, arrival: float, sender: str, settings: BackoffSettings) -> bool:
    """True when the message has been queued longer than its lifetime (checked after a failed attempt)."""
    return now - arrival >= lifetime(sender, settings)


def delay_warning_due(now: float, arrival: float, delay_warning_time: float, warned: bool) -> bool:
    """A "delayed mail" notice is sent once, after delay_warning_time (0 = never, Postfix's default)."""
    return delay_warning_time > 0 and not warned and now - arrival >= delay_warning_time
