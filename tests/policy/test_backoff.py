"""qmgr's retry schedule: time in queue clamped to the backoff bounds, picked up by periodic scans."""

from mailsim.policy.backoff import (
    BackoffSettings,
    backoff_delay,
    delay_warning_due,
    eligible_at,
    expired,
    next_scan,
)

DEFAULTS = BackoffSettings()


def test_young_messages_wait_the_minimal_backoff_time():
    assert backoff_delay(now=10, arrival=0, settings=DEFAULTS) == 300


def test_the_delay_grows_with_time_in_queue_up_to_the_maximum():
    assert backoff_delay(now=1000, arrival=0, settings=DEFAULTS) == 1000
    assert backoff_delay(now=90000, arrival=0, settings=DEFAULTS) == 4000


def test_a_deferred_file_is_picked_up_by_the_first_scan_after_its_time_stamp():
    stamp = eligible_at(now=0.5, arrival=0.0, settings=DEFAULTS)
    assert stamp == 300.5
    assert next_scan(stamp, DEFAULTS) == 600
    assert next_scan(600, DEFAULTS) == 600
    assert next_scan(0, DEFAULTS) == 0


def test_expiry_uses_the_bounce_lifetime_for_the_null_sender():
    short = BackoffSettings(maximal_queue_lifetime=86400, bounce_queue_lifetime=3600)
    assert expired(3600, 0, "", short) and not expired(3600, 0, "a@b", short)
    assert expired(86400, 0, "a@b", short)


def test_delay_warnings_are_off_by_default_and_sent_once():
    assert not delay_warning_due(99999, 0, 0, warned=False)
    assert delay_warning_due(4 * 3600, 0, 4 * 3600, warned=False)
    assert not delay_warning_due(5 * 3600, 0, 4 * 3600, warned=True)
