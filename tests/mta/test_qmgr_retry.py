"""qmgr against a dead destination: Postfix's retry schedule, expiry with a DSN, and dead-site detection."""

from __future__ import annotations

import math

from mailsim.api import run
from tests.mta.worlds import two_hosts

CONNECT_TIMEOUT = 30.0  # smtp_connect_timeout
QUEUE_RUN_DELAY, MIN_BACKOFF, MAX_BACKOFF = 300.0, 300.0, 4000.0


def expected_attempts(first: float, arrival: float, lifetime: float) -> list[float]:
    """Attempt start times by hand: a failed attempt ends CONNECT_TIMEOUT later; the file's time stamp is
    then + clamp(time in queue, MIN, MAX); the first deferred scan (every 300 s from 0) at or after it runs it."""
    attempts, start = [], first
    while True:
        attempts.append(start)
        end = start + CONNECT_TIMEOUT
        if end - arrival >= lifetime:
            return attempts
        stamp = end + min(max(end - arrival, MIN_BACKOFF), MAX_BACKOFF)
        start = math.ceil(stamp / QUEUE_RUN_DELAY) * QUEUE_RUN_DELAY


def test_retry_timeline_follows_postfix_and_ends_in_a_dsn(tmp_path):
    spec = two_hosts(
        tmp_path,
        """
        [[faults]]
        kind = "host-down"
        host = "mx.example.net"
        at = "0s"
        [[messages]]
        at = "10s"
        from = "alice@example.org"
        to = ["bob@example.net"]
        via = "sendmail"
        server = "mail.example.org"
        """,
        until="1d",
        sender_extra="maximal_queue_lifetime = 6h\nbounce_queue_lifetime = 6h",
    )
    result = run(spec)
    trace = result.trace
    deliveries = [r for r in trace.select("delivery", host="mail.example.org") if r.get("to") == "bob@example.net"]
    attempts = [r.time - CONNECT_TIMEOUT for r in deliveries if r.service == "smtp"]
    assert attempts == expected_attempts(10.0, 10.0, 6 * 3600.0)
    assert all(r.get("status") == "deferred" and r.get("dsn") == "4.4.1" for r in deliveries if r.service == "smtp")
    assert "Connection timed out" in deliveries[0].get("text")
    [expired] = trace.select("expired", host="mail.example.org")
    assert expired.time >= 10 + 6 * 3600
    [notice] = trace.select("notice", host="mail.example.org")
    assert notice.get("kind") == "non-delivery" and notice.get("recipient") == "alice@example.org"


def test_a_dead_destination_is_recognised_after_one_failed_cohort(tmp_path):
    messages = "".join(
        f"""
        [[messages]]
        at = "1s"
        from = "alice@example.org"
        to = ["user{i}@example.net"]
        via = "sendmail"
        server = "mail.example.org"
        """
        for i in range(8)
    )
    spec = two_hosts(tmp_path, until="200s", body='[[faults]]\nkind = "host-down"\nhost = "mx.example.net"\nat = "0s"\n' + messages)
    trace = run(spec).trace
    smtp = [r for r in trace.select("delivery", host="mail.example.org") if r.service == "smtp"]
    suspended = [r for r in trace.select("delivery", host="mail.example.org") if r.service == "error"]
    assert len(smtp) == 5  # the initial concurrency: one cohort of connection attempts
    assert len(suspended) == 3  # the rest deferred without connecting
    assert all(r.get("text").startswith("delivery temporarily suspended: connect to mx.example.net") for r in suspended)
    [dead] = trace.select("dead", host="mail.example.org")
    assert dead.get("destination") == "example.net"


def test_delay_warning_is_sent_once_after_delay_warning_time(tmp_path):
    spec = two_hosts(
        tmp_path,
        """
        [[faults]]
        kind = "host-down"
        host = "mx.example.net"
        at = "0s"
        [[messages]]
        at = "10s"
        from = "alice@example.org"
        to = ["bob@example.net"]
        via = "sendmail"
        server = "mail.example.org"
        """,
        until="3h",
        sender_extra="delay_warning_time = 1h",
    )
    trace = run(spec).trace
    notices = trace.select("notice", host="mail.example.org")
    assert [n.get("kind") for n in notices] == ["delay status"]
    assert notices[0].time >= 10 + 3600 and notices[0].get("recipient") == "alice@example.org"
