"""End-to-end capacity benchmark: simulated messages per wall second through a 2..10-host topology.

Half the hosts are sending MTAs (mailI.senderI.example) whose users post mail with sendmail (a Poisson
workload per host); the other half are MX hosts (mxJ.rcptJ.example) that accept it over SMTP and hand
it to discard(8) (``local_transport = discard``: mailbox writes are the delivery agents' benchmark, not
this one). Every message crosses one SMTP session. The run keeps no trace in memory (a sink counts
what is needed), as a large capacity run would.

The arrivals spread over a day by default (``--horizon 86400``: the issue's "1,000,000 messages a day"),
so the messages in flight at any moment are those of a few seconds of traffic. Memory is measured at
half time and at the end: peak and current resident memory at both points should be about the same
when memory follows messages in flight and not messages simulated.

Printed: messages simulated, wall seconds, messages per wall second, wall milliseconds per message,
simpy events (and per message), trace records per message, the wall time of a bare simpy loop doing as
many events in the same process and the ratio of the two, resident memory at half time and at the end,
and the extrapolation to the issue's target (1,000,000 messages). Not a test.

    .venv/bin/python benchmarks/capacity.py [--hosts 4] [--messages 5000] [--fidelity wire|fast] [--horizon 86400]
    .venv/bin/python benchmarks/capacity.py --hosts 10 --messages 1000000 --fidelity fast   # the issue's day
"""

from __future__ import annotations

import argparse
import gc
import resource
import tempfile
import textwrap
import time
from pathlib import Path

import simpy

from mailsim.core.trace import TraceRecord
from mailsim.scenario.loader import load
from mailsim.scenario.runner import role_builders
from mailsim.scenario.world import build_world

HORIZON = 86400.0  # virtual seconds of arrivals (a day); the run continues a little for mail in flight
DRAIN = 120.0
TARGET = 1_000_000
FINAL_STATUSES = ("sent", "bounced")


def write_topology(folder: Path, hosts: int, messages: int, horizon: float = HORIZON) -> Path:
    """A scenario folder: hosts // 2 senders, the rest MX hosts, all behind one router."""
    senders, receivers = max(1, hosts // 2), max(1, hosts - hosts // 2)
    rate = messages / horizon / senders
    domains = [f"rcpt{j}.example" for j in range(receivers)]
    host_lines, links, records, workloads = [], [], [], []
    for i in range(senders):
        name = f"mail{i}.sender{i}.example"
        _host_folder(folder, name, f"sender{i}.example", sender=True)
        host_lines.append(
            f'{{ name = "{name}", addresses = ["192.0.2.{10 + i}"], roles = ["mta"], config = "hosts/{name}" }}'
        )
        links.append(f'{{ a = "{name}", b = "internet", latency = "5ms", bandwidth = "1Gbit" }}')
        workloads.append(textwrap.dedent(f"""
            [[workload]]
            from = "sender{i}.example"
            to = {domains!r}
            rate = "{rate:.6f}/s"
            size = "lognormal(8KB, 1.0)"
            population = 100
            server = "{name}"
            stop = "{horizon:g}s"
            """).replace("'", '"'))  # fmt: skip
    for j, domain in enumerate(domains):
        name = f"mx{j}.{domain}"
        _host_folder(folder, name, domain, sender=False)
        host_lines.append(
            f'{{ name = "{name}", addresses = ["203.0.113.{10 + j}"], roles = ["mta"], config = "hosts/{name}" }}'
        )
        links.append(f'{{ a = "{name}", b = "internet", latency = "20ms", bandwidth = "1Gbit" }}')
        records.append(f'{{ name = "{domain}", type = "MX", value = "10 {name}." }}')
    text = (
        f'seed = 1\nuntil = "{horizon + DRAIN:g}s"\nhosts = [\n  ' + ",\n  ".join(host_lines) + "\n]\n"
        'routers = [ { name = "internet" } ]\nlinks = [\n  ' + ",\n  ".join(links) + "\n]\n"
        '[dns]\nlatency = "1ms"\nrecords = [\n  ' + ",\n  ".join(records) + "\n]\n" + "".join(workloads)
    )
    (folder / "scenario.toml").write_text(text)
    return folder


def _host_folder(folder: Path, name: str, domain: str, *, sender: bool) -> None:
    path = folder / "hosts" / name
    path.mkdir(parents=True)
    lines = [
        "compatibility_level = 3.6", f"myhostname = {name}", f"mydomain = {domain}", "myorigin = $mydomain",
        f"mydestination = $myhostname, localhost, {domain}" if not sender else "mydestination = $myhostname, localhost",
        "local_transport = discard", "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination",
    ]  # fmt: skip
    (path / "main.cf").write_text("\n".join(lines) + "\n")


class Counter:
    """A trace sink that counts messages in and recipients out, so no record is kept."""

    def __init__(self) -> None:
        self.submitted = 0
        self.final = 0
        self.records = 0

    def __call__(self, record: TraceRecord) -> None:
        self.records += 1
        if record.event == "submit" and record.service == "workload":
            self.submitted += 1
        elif record.event == "delivery" and record.get("status") in FINAL_STATUSES and record.get("relay") == "none":
            self.final += 1  # discard(8) at the MX, or a bounce decided without a remote server


def bare_simpy(events: int) -> float:
    """Wall seconds for a bare simpy process to schedule and process ``events`` timeouts."""
    env = simpy.Environment()

    def ticker(env: simpy.Environment, n: int):  # type: ignore[no-untyped-def]
        for _ in range(n):
            yield env.timeout(1)

    env.process(ticker(env, events))
    began = time.perf_counter()
    env.run()
    return time.perf_counter() - began


def rss_mb() -> tuple[float, float]:
    """(peak, current) resident memory of this process in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return peak, pages * resource.getpagesize() / 2**20


def run(hosts: int, messages: int, fidelity: str, horizon: float = HORIZON) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="mailsim-bench-") as tmp:
        spec = load(write_topology(Path(tmp), hosts, messages, horizon))
        world = build_world(
            spec, fidelity=fidelity, keep_trace=False, builders=role_builders(), files=Path(tmp) / "files"
        )
        counter = Counter()
        world.sim.trace.subscribe(counter)
        gc.collect()
        gc.freeze()
        began = time.perf_counter()
        world.sim.run(until=horizon / 2)
        half = counter.submitted, *rss_mb()
        world.sim.run(until=spec.until)
        wall = time.perf_counter() - began
        events = next(world.sim.env._eid)  # noqa: SLF001 - simpy's event counter
    end = rss_mb()
    bare = bare_simpy(events)
    sent = max(1, counter.submitted)
    return {
        "hosts": hosts, "messages": counter.submitted, "final_recipients": counter.final, "wall_s": wall,
        "messages_per_wall_s": counter.submitted / wall, "wall_ms_per_message": 1000 * wall / sent,
        "simpy_events": events, "events_per_message": events / sent, "bare_simpy_s": bare,
        "ratio_to_bare_simpy": wall / bare, "trace_records": counter.records,
        "trace_records_per_message": counter.records / sent,
        "messages_at_half_time": half[0], "peak_rss_mb_at_half_time": half[1], "rss_mb_at_half_time": half[2],
        "peak_rss_mb": end[0], "rss_mb_at_end": end[1],
        "extrapolated_1M_messages_min": TARGET * wall / sent / 60,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=4, help="hosts in the topology (2..10)")
    parser.add_argument("--messages", type=int, default=5000, help="messages to simulate (about)")
    parser.add_argument("--fidelity", choices=("wire", "fast"), default="wire")
    parser.add_argument("--horizon", type=float, default=HORIZON, help="virtual seconds of arrivals (86400: a day)")
    args = parser.parse_args()
    result = run(max(2, min(10, args.hosts)), args.messages, args.fidelity, args.horizon)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value:,.3f}" if isinstance(value, float) else f"{key:<{width}}  {value:,}")


if __name__ == "__main__":
    main()
