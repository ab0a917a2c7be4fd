"""qmgr(8): defer_transports holds mail for the listed transports until the queue is flushed; the start window."""

from __future__ import annotations

from pathlib import Path

from mailsim.api import run
from tests.mta.worlds import two_hosts

BODY = """
[[users]]
address = "bob@example.net"
password = "x"

[[users]]
address = "alice@example.org"
password = "x"

[[messages]]
at = "1s"
from = "alice@example.org"
to = ["bob@example.net", "alice@example.org"]
via = "sendmail"
server = "mail.example.org"
"""


def _records(result):
    return [(r.service, r.get("to"), r.get("status"), r.get("dsn"), r.get("text"), r.get("relay"))
            for r in result.trace.select("delivery", host="mail.example.org")]  # fmt: skip


def test_a_deferred_transport_is_not_tried_and_defers_with_4_3_2(tmp_path):
    result = run(two_hosts(tmp_path, BODY, until="2m", sender_extra="defer_transports = smtp"))
    records = _records(result)
    assert ("retry", "bob@example.net", "deferred", "4.3.2", "deferred transport", "none") in records
    assert not [r for r in records if r[0] == "smtp"]  # no connection was made
    assert [r[2] for r in records if r[1] == "alice@example.org"] == ["sent"]  # local is not listed


def test_postqueue_f_delivers_over_a_deferred_transport(tmp_path):
    def flush_later(world):
        qmgr = world.hosts["mail.example.org"].qmgr
        world.sim.env.timeout(30).callbacks.append(lambda _: qmgr.flush())

    result = run(two_hosts(tmp_path, BODY, until="2m", sender_extra="defer_transports = smtp"), prepare=flush_later)
    statuses = [(r[0], r[2]) for r in _records(result) if r[1] == "bob@example.net"]
    assert statuses == [("retry", "deferred"), ("smtp", "sent")]


def test_a_destination_starts_at_no_more_than_its_concurrency_limit(tmp_path: Path) -> None:
    """qmgr_transport_create: initial_destination_concurrency (5) is capped at the transport's limit (2)."""
    body = '[[users]]\naddress = "bob@example.net"\npassword = "x"\nhost = "mx.example.net"\n' + "".join(
        '\n[[messages]]\nat = "1s"\nfrom = "alice@example.org"\nto = ["bob@example.net"]\nvia = "sendmail"\n'
        'server = "mail.example.org"\n'
        for _ in range(8)
    )
    extra = "smtp_destination_concurrency_limit = 2\nsmtp_connection_cache_on_demand = no\n"
    result = run(two_hosts(tmp_path, body, until="2m", sender_extra=extra))
    open_now, most = 0, 0
    for record in result.trace:
        if record.host == "mail.example.org" and record.service == "net" and record.event in ("connect", "close"):
            open_now += 1 if record.event == "connect" else -1
            most = max(most, open_now)
    sent = [r for r in result.trace.select("delivery", host="mail.example.org") if r.get("status") == "sent"]
    assert len(sent) == 8 and most == 2
