"""Validation against Postfix's own measurements: SCHEDULER_README's "active server concurrency limiter".

The README (section "Impact of active server concurrency limiter") sends 1000 deliveries from a client
with smtp_destination_concurrency_limit = 20 and an initial destination concurrency of 5 to a server
whose smtpd_client_connection_count_limit is 5 (421 and hang-up beyond) and whose sessions take about
2 s (1 s "sleep" per recipient, 2 recipients per delivery), and reports the percentage of deliveries
deferred in the first delivery run for three feedback styles (the "caching: no" rows):
1/N 16.5, 1/sqrt(N) 24.5, 1 49.7 (N = the destination's concurrency).

scenarios/capacity-active-limiter reproduces the setup (see its scenario.toml for the model knobs). Two
things differ from the measurement, and the tests say so instead of widening the tolerance:

- The README's numbers were taken with the November 2007 scheduler, whose hysteresis is the README's
  pseudocode (``while (success >= 1)``, ``while (failure < 0)``). Postfix 3.x's qmgr_queue.c, which
  mailsim.policy.concurrency follows, rounds with half a feedback step (``success + feedback / 2 >= 1``,
  ``failure - feedback / 2 < 0``). For feedback 1 that makes the first failure after a success drop the
  window by 2, so the defer share is 1/3 instead of 1/2; for 1/N (0.2 at N = 5) nothing changes.
  :func:`test_readme_table_with_the_2007_feedback_rules` swaps the README's pseudocode into qmgr and must
  match the table; :func:`test_postfix_3_feedback_rules` checks mailsim as shipped against 1/6 and 1/3.
- 1/sqrt(N) is not a Postfix setting (only x and x/concurrency are); it exists only in the 2007 test.
- Session times are jittered by +-10 % (the scenario's mailsim_smtpd_greeting_jitter). With exactly
  equal 2 s sessions the completions stay synchronised and the feedback locks into cycles that depend
  on the arrival pattern (37.2 % instead of 24.8 % for 1/sqrt(N), 47 % instead of 49.7 % for 1).

"Near" is 2 percentage points (absolute); mailsim lands within 0.3 of every table value, and the three
styles are at least 8 points apart, so a wrong feedback rule fails. Scale-down: 500 messages instead of
1000 (the shares agree within 0.3 points; the run time halves). One run each, in this process (the 2007
rules are patched into it); the runs are deterministic for the scenario's seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from mailsim import api
from mailsim.mta.qmgr import destinations
from mailsim.policy.concurrency import ConcurrencyLimits, Window
from mailsim.scenario.overrides import load_with

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "capacity-active-limiter"
MESSAGES = 500
NEAR = 2.0
SENDER = "mail.example.org"
TABLE = {"1/N": 16.5, "1/sqrt(N)": 24.5, "1": 49.7}  # SCHEDULER_README, percentage deferred, caching no
STYLES: dict[str, Callable[[int], float]] = {
    "1/N": lambda n: 1.0 / n,
    "1/sqrt(N)": lambda n: 1.0 / math.sqrt(n),
    "1": lambda n: 1.0,
}


def deferred_percent(tmp_path: Path, feedback: str = "1") -> float:
    """Percentage of the sender's first delivery attempts that were deferred."""
    key = f"hosts.{SENDER}.main_cf.smtp_destination_concurrency_"
    values = {"workload[0].limit": MESSAGES, key + "positive_feedback": feedback, key + "negative_feedback": feedback}
    work = tmp_path / feedback.replace("/", "_")
    work.mkdir(parents=True, exist_ok=True)
    result = api.run(load_with(SCENARIO, values, work))
    deliveries = result.frames()["deliveries"]
    attempts = deliveries[deliveries.host == SENDER]
    assert len(attempts) == MESSAGES  # one attempt each: nothing deferred comes back within the run
    deferred = attempts[attempts.status == "deferred"]
    assert deferred.text.str.contains("421 4.7.0 mx.example.net Error: too many connections from 192.0.2.10").all()
    return 100.0 * len(deferred) / len(attempts)


def readme_2007_rules(g: Callable[[int], float], monkeypatch: pytest.MonkeyPatch) -> None:
    """SCHEDULER_README's pseudocode ("as of November 2007") with g(N) = f(N) as qmgr's feedback."""

    def on_success(state: Window, busy: int, limits: ConcurrencyLimits) -> Window:
        if state.dead:
            return Window(busy if busy > 0 else limits.initial)
        if limits.limit <= state.window or state.window >= busy + limits.initial:
            return Window(state.window, state.success, state.failure, 0.0)
        window, success, failure = state.window, state.success + g(state.window), state.failure
        while success >= 1.0:
            window, success, failure = window + 1, success - 1.0, 0.0
        return Window(min(window, limits.limit), success, failure, 0.0)

    def on_failure(state: Window, limits: ConcurrencyLimits) -> Window:
        if state.dead:
            return state
        cohorts = state.fail_cohorts + 1.0 / state.window
        if cohorts >= limits.failed_cohort_limit > 0:
            return Window(0, state.success, state.failure, cohorts)
        window, success, failure = state.window, state.success, state.failure - g(state.window)
        while failure < 0:
            window, success, failure = window - 1, 0.0, failure + 1.0
        return Window(max(window, 1), success, failure, cohorts)

    monkeypatch.setattr(destinations, "on_success", on_success)
    monkeypatch.setattr(destinations, "on_failure", on_failure)


def test_readme_table_with_the_2007_feedback_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shares = {}
    for style, g in STYLES.items():
        readme_2007_rules(g, monkeypatch)
        shares[style] = deferred_percent(tmp_path / style.replace("/", "_"))
    for style, share in shares.items():
        assert abs(share - TABLE[style]) <= NEAR, (style, share, TABLE[style], shares)


def test_postfix_3_feedback_rules(tmp_path: Path) -> None:
    """mailsim as shipped: 1/N agrees with the table; 1 defers a third, not half (see the module docstring)."""
    per_window, constant = deferred_percent(tmp_path, "1/concurrency"), deferred_percent(tmp_path, "1")
    assert abs(per_window - TABLE["1/N"]) <= NEAR, per_window
    assert abs(constant - 100.0 / 3) <= NEAR, constant
    assert constant < TABLE["1"] - 10  # the documented difference is real, not noise


def _sender_outcomes(tmp_path: Path, values: dict[str, object]) -> tuple[int, int, list[str]]:
    """(sent, deferred, the server's anvil warnings) for a small run with these overrides."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    result = api.run(load_with(SCENARIO, {"workload[0].limit": 40, **values}, tmp_path))
    deliveries = result.frames()["deliveries"]
    attempts = deliveries[deliveries.host == SENDER]
    warnings = [r.fields["problem"] for r in result.trace.select("warning", host="mx.example.net")]
    return int((attempts.status == "sent").sum()), int((attempts.status == "deferred").sum()), warnings


def test_connection_rate_limit_and_exceptions(tmp_path: Path) -> None:
    """anvil's rate limit admits N connections per anvil_rate_time_unit; an excepted client is never limited."""
    mx = "hosts.mx.example.net.main_cf."
    rated = {mx + "smtpd_client_connection_count_limit": 0, mx + "smtpd_client_connection_rate_limit": 10}
    sent, deferred, warnings = _sender_outcomes(tmp_path / "rate", rated)
    assert (sent, deferred) == (10, 30) and warnings and set(warnings) == {"Connection rate limit exceeded"}
    excepted = {mx + "smtpd_client_event_limit_exceptions": "192.0.2.0/24"}
    assert _sender_outcomes(tmp_path / "excepted", excepted) == (40, 0, [])
