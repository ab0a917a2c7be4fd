"""qmgr(8): defer_transports holds mail for the listed transports until the queue is flushed."""

from __future__ import annotations

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
