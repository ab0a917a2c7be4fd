"""Postfix's destination concurrency feedback (SCHEDULER_README)."""

from mailsim.policy.concurrency import (
    ConcurrencyLimits,
    Feedback,
    Window,
    initial_window,
    on_failure,
    on_success,
)

LIMITS = ConcurrencyLimits(positive=Feedback(1.0, True), negative=Feedback(1.0, True))


def test_feedback_forms():
    assert Feedback.parse("1/concurrency") == Feedback(1.0, True)
    assert Feedback.parse("1/8").value(3) == 0.125
    assert Feedback.parse("1").value(7) == 1.0


def test_slow_start_needs_a_window_of_successes_to_grow_by_one():
    state = initial_window(LIMITS)
    assert state.window == 5
    for _ in range(4):
        state = on_success(state, busy=5, limits=LIMITS)
    assert state.window == 5
    state = on_success(state, busy=5, limits=LIMITS)
    assert state.window == 6


def test_growth_stops_at_busy_plus_initial_and_at_the_limit():
    state = Window(10)
    assert on_success(state, busy=2, limits=LIMITS) == Window(10)
    capped = ConcurrencyLimits(limit=10, positive=Feedback(1.0, True))
    assert on_success(Window(10), busy=10, limits=capped).window == 10


def test_one_failed_cohort_declares_the_destination_dead():
    state = initial_window(LIMITS)
    windows = []
    for _ in range(4):
        state = on_failure(state, LIMITS)
        windows.append(state.window)
    assert windows == [4, 4, 4, 3] and state.fail_cohorts == 1 / 5 + 3 / 4
    state = on_failure(state, LIMITS)
    assert state.dead


def test_a_success_clears_failed_cohorts_and_revives_a_dead_site():
    state = on_failure(initial_window(LIMITS), LIMITS)
    state = on_success(state, busy=1, limits=LIMITS)
    assert state.fail_cohorts == 0
    assert on_success(Window(0), busy=0, limits=LIMITS) == Window(5)
    assert on_success(Window(0), busy=3, limits=LIMITS) == Window(3)


def test_constant_negative_feedback_overshoots_once_then_drops_one_per_failure():
    limits = ConcurrencyLimits(negative=Feedback(1.0, False), failed_cohort_limit=10)
    state = on_failure(Window(20), limits)
    assert state.window == 18
    assert on_failure(state, limits).window == 17


def test_postfix_3_defaults_are_constant_feedback():
    limits = ConcurrencyLimits()
    assert limits.positive == Feedback(1.0, False) and limits.negative == Feedback(1.0, False)
    assert on_success(Window(5), busy=5, limits=limits).window == 6
