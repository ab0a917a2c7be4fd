"""qmgr's parameters, read once per host: queue limits, backoff, and per-transport destination limits.

Transport-specific parameters (``smtp_destination_concurrency_limit`` and so on) fall back to the
``default_destination_*`` ones, as in Postfix; local(8) has its own defaults (2 and 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailsim.policy.backoff import BackoffSettings
from mailsim.policy.concurrency import ConcurrencyLimits, Feedback


@dataclass(frozen=True, slots=True)
class QmgrSettings:
    active_limit: int
    backoff: BackoffSettings
    delay_warning_time: float

    @classmethod
    def from_main(cls, main: Any) -> QmgrSettings:
        backoff = BackoffSettings(
            minimal_backoff_time=main.time("minimal_backoff_time"),
            maximal_backoff_time=main.time("maximal_backoff_time"),
            queue_run_delay=main.time("queue_run_delay"),
            maximal_queue_lifetime=main.time("maximal_queue_lifetime"),
            bounce_queue_lifetime=main.time("bounce_queue_lifetime"),
        )
        return cls(main.int("qmgr_message_active_limit"), backoff, main.time("delay_warning_time"))


def _param(main: Any, transport: str, suffix: str, default_name: str) -> str:
    specific = f"{transport}_{suffix}"
    return main.get(specific) if main.lookup(specific) is not None else main.get(default_name)


def transport_settings(host: Any, transport: str) -> tuple[int, int, ConcurrencyLimits]:
    """(process limit, recipient limit, concurrency limits) of one transport on one host."""
    main = host.main
    recipients = int(_param(main, transport, "destination_recipient_limit", "default_destination_recipient_limit"))
    initial = int(_param(main, transport, "initial_destination_concurrency", "initial_destination_concurrency"))
    limit = int(_param(main, transport, "destination_concurrency_limit", "default_destination_concurrency_limit"))
    limits = ConcurrencyLimits(
        initial=min(initial, limit) if limit > 0 else initial,  # qmgr_transport_create: never above the limit
        limit=limit,
        positive=Feedback.parse(
            _param(main, transport, "destination_concurrency_positive_feedback",
                   "default_destination_concurrency_positive_feedback")
        ),
        negative=Feedback.parse(
            _param(main, transport, "destination_concurrency_negative_feedback",
                   "default_destination_concurrency_negative_feedback")
        ),
        failed_cohort_limit=float(
            _param(main, transport, "destination_concurrency_failed_cohort_limit",
                   "default_destination_concurrency_failed_cohort_limit")
        ),
    )  # fmt: skip
    return host.process_limit(transport), recipients, limits
