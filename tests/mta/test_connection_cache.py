"""smtp(8) connection caching: on-demand reuse with a backlog, forced reuse, idle ttl, reuse limits, dead MX hosts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mailsim.api import run
from mailsim.scenario.loader import load
from tests.mta.worlds import two_hosts

BOB = '[[users]]\naddress = "bob@example.net"\npassword = "x"\nhost = "mx.example.net"\n'
RTT = 2 * (0.005 + 0.020)  # the two links of tests.mta.worlds, both ways


def _messages(times: list[float]) -> str:
    return BOB + "".join(
        f'\n[[messages]]\nat = "{t}s"\nfrom = "alice@example.org"\nto = ["bob@example.net"]\n'
        'via = "sendmail"\nserver = "mail.example.org"\n'
        for t in times
    )


def _run(tmp: Path, times: list[float], extra: str = "", fidelity: str = "wire", dead_mx: bool = False):
    spec = two_hosts(tmp, _messages(times), until="5m", sender_extra=extra)
    if dead_mx:  # a better MX host that does not answer at all (no route: SYNs time out)
        zone = tmp / "zones/example.net.zone"
        zone.write_text(zone.read_text().replace("@ IN MX 10 mx\n", "@ IN MX 10 dead\n@ IN MX 20 mx\n")
                        + "dead IN A 198.51.100.99\n")  # fmt: skip
        spec = load(tmp)
    return run(spec, fidelity=fidelity)


def _deliveries(result):
    return [r for r in result.trace.select("delivery", host="mail.example.org") if r.service == "smtp"]


def _connects(result) -> int:
    return len([r for r in result.trace.select("connect", host="mail.example.org") if r.service == "net"])


def _disconnects(result) -> list[str]:
    return [r.get("commands") for r in result.trace.select("disconnect", host="mx.example.net")]


BACKLOG = [1.0] * 20
LISTED = (
    "smtp_connection_cache_destinations = example.net\n"
    "initial_destination_concurrency = 1\nsmtp_destination_concurrency_limit = 1\n"
)


def test_a_backlog_reuses_connections_on_demand(tmp_path):
    """qmgr turns caching on for back-to-back deliveries; later ones go over cached connections (conn_use=2)."""
    result = _run(tmp_path, BACKLOG)
    records = _deliveries(result)
    assert [r.get("status") for r in records] == ["sent"] * 20
    reused = [r for r in records if r.get("conn_use")]
    assert reused and {r.get("conn_use") for r in reused} == {2}
    assert _connects(result) == 20 - len(reused)
    assert any("mail=2" in commands and "rset=1" in commands for commands in _disconnects(result))


def test_the_first_burst_is_not_cached(tmp_path):
    """No back-to-back delivery yet: the first deliveries (within the initial concurrency) store nothing."""
    records = _deliveries(_run(tmp_path, BACKLOG))
    assert [r.get("conn_use") for r in records[:5]] == [None] * 5


def test_without_a_backlog_nothing_is_cached(tmp_path):
    result = _run(tmp_path, [1.0, 20.0, 40.0])
    assert [r.get("conn_use") for r in _deliveries(result)] == [None] * 3
    assert _connects(result) == 3
    assert not [r for r in result.trace if r.service == "scache"]


def test_smtp_connection_cache_on_demand_no_turns_it_off(tmp_path):
    result = _run(tmp_path, BACKLOG, "smtp_connection_cache_on_demand = no")
    assert [r.get("conn_use") for r in _deliveries(result)] == [None] * 20
    assert _connects(result) == 20


def test_smtp_connection_cache_destinations_caches_without_a_backlog(tmp_path):
    """Listed destinations always load and store: one connection carries mail that trickles in 1 s apart."""
    result = _run(tmp_path, [1.0, 2.0, 3.0], LISTED)
    assert [r.get("conn_use") for r in _deliveries(result)] == [None, 2, 3]
    assert _connects(result) == 1
    assert _disconnects(result) == ["ehlo=1 mail=3 rcpt=3 data=3 rset=2 commands=12"]


def test_a_reused_connection_saves_the_handshake_greeting_and_ehlo(tmp_path):
    """New: SYN/SYN-ACK, the greeting after the server accepts, EHLO (3 RTT); reused: the RSET probe (1 RTT)."""
    first, second = _deliveries(_run(tmp_path, [1.0, 3.0], LISTED))
    assert second.get("conn_use") == 2
    saved = first.get("delays")[3] - second.get("delays")[3]
    assert saved == pytest.approx(2 * RTT, abs=1e-5)  # and the transmission time of the greeting and EHLO bytes


def test_an_idle_connection_is_closed_without_quit_after_the_cache_time_limit(tmp_path):
    result = _run(tmp_path, [1.0, 5.0], LISTED)
    assert [r.get("conn_use") for r in _deliveries(result)] == [None, None]
    [save, _] = [r for r in result.trace.select("save") if r.service == "scache"]
    [expire, _] = [r for r in result.trace.select("expire") if r.service == "scache"]
    assert expire.time == pytest.approx(save.time + 2.0)
    assert _disconnects(result) == ["ehlo=1 mail=1 rcpt=1 data=1 commands=4"] * 2  # no quit=1
    closes = [r for r in result.trace.select("close", host="mail.example.org") if r.service == "net"]
    assert closes[0].time == pytest.approx(save.time + 2.0)


def test_a_longer_cache_time_limit_keeps_it_for_the_next_message(tmp_path):
    result = _run(tmp_path, [1.0, 5.0], LISTED + "smtp_connection_cache_time_limit = 10s")
    assert [r.get("conn_use") for r in _deliveries(result)] == [None, 2]


def test_smtp_connection_reuse_count_limit_ends_a_connection_with_quit(tmp_path):
    """Used up after two reuses: the third transaction ends with QUIT, not in the cache (THIS_SESSION_IS_EXPIRED)."""
    result = _run(tmp_path, [1.0] * 5, LISTED + "smtp_connection_reuse_count_limit = 2")
    records = _deliveries(result)
    assert [r.get("conn_use") for r in records] == [None, 2, 3, None, 2]
    assert _disconnects(result)[0].startswith("ehlo=1 mail=3 rcpt=3 data=3 rset=2 ")
    closes = [r for r in result.trace.select("close", host="mail.example.org") if r.service == "net"]
    assert records[2].time <= closes[0].time < records[3].time  # QUIT at once, not the cache's 2 s later


def test_smtp_connection_reuse_time_limit_counts_from_the_connect(tmp_path):
    result = _run(tmp_path, [1.0, 2.0, 3.0, 4.0], LISTED + "smtp_connection_reuse_time_limit = 2s")
    uses = [r.get("conn_use") for r in _deliveries(result)]
    assert uses[:2] == [None, 2] and None in uses[2:]


def test_a_cached_connection_skips_the_dead_primary_mx(tmp_path):
    """CONNECTION_CACHE_README: the nexthop binding leads later deliveries past the MX host that does not answer."""
    cached = _run(tmp_path / "cached", BACKLOG, dead_mx=True)
    plain = _run(tmp_path / "plain", BACKLOG, "smtp_connection_cache_on_demand = no", dead_mx=True)
    timeouts = {name: len([r for r in res.trace.select("connect_failed") if "timed out" in r.get("text")])
                for name, res in (("cached", cached), ("plain", plain))}  # fmt: skip
    assert timeouts["plain"] == 20 and timeouts["cached"] < 20
    assert [r.get("status") for r in _deliveries(cached)] == ["sent"] * 20
    last = max(r.time for r in _deliveries(cached))
    assert last < max(r.time for r in _deliveries(plain))


@pytest.mark.parametrize(("times", "extra", "dead"), [(BACKLOG, "", False), ([1.0] * 5, LISTED, False),
                                                        (BACKLOG, "", True)])  # fmt: skip
def test_both_fidelities_reuse_the_same_connections_at_the_same_times(tmp_path, times, extra, dead):
    def view(result):
        return [(round(r.time, 9), r.get("status"), r.get("conn_use"), r.get("relay")) for r in _deliveries(result)]

    wire = _run(tmp_path / "wire", times, extra, "wire", dead)
    fast = _run(tmp_path / "fast", times, extra, "fast", dead)
    assert view(wire) == view(fast)
    assert Counter(r.event for r in wire.trace if r.service == "scache") == Counter(
        r.event for r in fast.trace if r.service == "scache"
    )
    assert _disconnects(wire) == _disconnects(fast)
