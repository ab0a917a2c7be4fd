"""Virtual time as calendar time: a run starts at an epoch, so Date and Received headers read naturally."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DEFAULT_EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


def wallclock(epoch: datetime, now: float) -> datetime:
    """The calendar time ``now`` virtual seconds after ``epoch``."""
    return epoch + timedelta(seconds=now)


def parse_epoch(text: str) -> datetime:
    """An ISO 8601 timestamp; a naive one is taken as UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment
