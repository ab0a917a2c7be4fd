from mailsim.core import ScenarioError, Simulation


def _run(seed: int) -> str:
    sim = Simulation(seed)

    def arrivals(env):
        rng = sim.rng("arrivals")
        for n in range(20):
            yield env.timeout(float(rng.exponential(10.0)))
            sim.emit("mx.example", "smtpd", "connect", queue_id=f"Q{n}", client="192.0.2.1")

    sim.env.process(arrivals(sim.env))
    sim.run(until=1000)
    return sim.trace.digest()


def test_same_seed_same_trace_different_seed_differs():
    assert _run(1) == _run(1)
    assert _run(1) != _run(2)


def test_trace_records_carry_virtual_time_and_can_be_selected():
    sim = Simulation(0)
    sim.env.run(until=5)
    record = sim.emit("h", "qmgr", "active", queue_id="ABC", nrcpt=1)
    assert record.time == 5 and record.get("nrcpt") == 1
    assert sim.trace.select("active", host="h") == [record]
    assert sim.trace.select(["x", "active"], queue_id="nope") == []


def test_counters_are_per_run():
    a, b = Simulation(0), Simulation(0)
    assert [a.counter("q"), a.counter("q"), b.counter("q")] == [1, 2, 1]


def test_wallclock_follows_virtual_time():
    sim = Simulation(0)
    sim.env.run(until=90)
    assert (sim.wallclock() - sim.epoch).total_seconds() == 90


def test_scenario_error_names_place_and_expectation():
    err = ScenarioError(
        file="scenario.toml", line=4, key="links[0].latency", expected="a duration like 10ms", found="fast"
    )
    assert str(err) == "scenario.toml:4: links[0].latency: expected a duration like 10ms, found fast"


def test_the_trace_digest_is_the_same_in_another_process_with_another_hash_seed():
    import os
    import subprocess
    import sys

    script = (
        "from mailsim.core import Simulation\n"
        "sim = Simulation(1)\n"
        "sim.emit('mx.example', 'smtpd', 'connect', client='a[192.0.2.1]', delay=0.1, nrcpt=2, hops=('a', 1.5))\n"
        "sim.emit('mx.example', 'qmgr', 'queued', queue_id='ABC', status=ValueError('odd'), extra={'k': None})\n"
        "print(sim.trace.digest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1 and len(digests.pop().strip()) == 64
