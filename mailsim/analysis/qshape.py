"""qshape(1): the queue's shape, by recipient (or sender) domain and age, as a DataFrame and as text.

The counting follows Postfix's ``qshape`` (Victor Duchovni's Perl script) exactly: a file counts
only when it has at least one pending recipient (``R`` record; done recipients are not counted),
once per pending recipient (or once per message with ``-s``, the sender domain); the domain is
the lower-cased address after the last ``@`` with ``..`` folded and one leading and trailing dot
removed (the null sender is ``MAILER-DAEMON``); the age buckets are geometric (``-b 10 -t 5``:
``5 10 20 40 80 160 320 640 1280 1280+`` minutes, each header the bucket's upper bound, the last
open-ended) or linear with ``-l``; ``-p`` adds parent domains (``.example.com``) that have at
least ``-m`` (5) subdomains. Rows are ordered by total, then by name length (``TOTAL`` is
therefore first unless a shorter domain holds every address); qshape leaves further ties to
Perl's hash order, mailsim breaks them alphabetically. The default queues are ``incoming`` and
``active``, as qshape's; ``qshape deferred`` is the usual question about a backlog.

Ages are virtual time now minus the file's arrival time. :func:`attach_qshape_sampler` records
the shape while a run goes (``every`` seconds or at given ``times``) without printing, and
:func:`qshape_over_time` runs a scenario and returns those snapshots as one DataFrame.
"""

from __future__ import annotations

import getopt
import math
import re
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import simpy

from mailsim.config.tools import ToolResult
from mailsim.mail.queuefile import QUEUES

DEFAULT_QUEUES = ("incoming", "active")
TOTAL = "TOTAL"
WIDTH, DOMAIN_WIDTH = 80, 18
QUEUE_NAMES = frozenset(str(state) for state in QUEUES)
USAGE = (
    "Usage: qshape [ -s ] [ -p ] [ -m <min_subdomains> ] [ -l ]\n"
    "\t[ -b <bucket_count> ] [ -t <bucket_time> ] [ -w <terminal_width> ]\n"
    "\t[ -N <batch_msg_count> ] [ -n <batch_top_domains> ]\n"
    "\t[ -c <config_directory> ] [ <queue_name> ... ]\n"
)
Entry = tuple[float, str, Sequence[str]]  # (arrival time, sender, pending recipients)


@dataclass(frozen=True, slots=True)
class QshapeOptions:
    """qshape's switches: ``-s``, ``-p``, ``-m``, ``-b``, ``-t`` (minutes), ``-l``."""

    senders: bool = False
    parents: bool = False
    min_subdomains: int = 5
    buckets: int = 10
    bucket_time: float = 5.0
    linear: bool = False


def headings(options: QshapeOptions = QshapeOptions()) -> list[str]:
    """Column names: ``T`` then each bucket's upper bound in minutes, the last one ``N+``."""
    heads: list[str] = []
    t: float | str = 0
    for i in range(options.buckets + 1):
        heads.append("T" if i == 0 else _number(t))
        if i + 1 < options.buckets and not isinstance(t, str):
            t += t if t and not options.linear else options.bucket_time
        else:
            t = f"{_number(t)}+"
    return heads


def _number(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


def bucket(age: float, options: QshapeOptions = QshapeOptions()) -> int:
    """The bucket (1 .. buckets) for a message ``age`` seconds old, computed as qshape computes it."""
    m = age / (60 * options.bucket_time)
    if m < 1:
        return 1
    b = int(m + 1) if options.linear else 2 + int(math.log(m) / math.log(2))
    return min(b, options.buckets)


def domain_of(address: str) -> str:
    """qshape's row name for an address: the lower-cased domain, ``MAILER-DAEMON`` for the null sender."""
    domain = address.lower()
    if domain == "":
        domain = "MAILER-DAEMON"
    domain = re.sub(r".*@", "", domain, count=1, flags=re.DOTALL)
    domain = domain.replace("..", ".")
    return re.sub(r"\.?(.+?)\.?$", r"\1", domain, count=1, flags=re.DOTALL)


def count(entries: Iterable[Entry], now: float, options: QshapeOptions = QshapeOptions()) -> pd.DataFrame:
    """The shape of these queue files at ``now``: one row per domain in qshape's order, ``TOTAL`` included."""
    width = options.buckets + 1
    rows: dict[str, list[int]] = {TOTAL: [0] * width}
    subdomains: dict[str, int] = {}
    for arrival, sender, recipients in entries:
        if not recipients:
            continue
        b = bucket(now - arrival, options)
        for address in [sender] if options.senders else recipients:
            for row in (TOTAL, *_names(domain_of(address), rows, subdomains, options.parents)):
                counts = rows.setdefault(row, [0] * width)
                counts[0] += 1
                counts[b] += 1
    shown = [d for d in rows if not d.startswith(".") or subdomains.get(d, 0) >= options.min_subdomains]
    shown.sort(key=lambda d: (-rows[d][0], len(d), d))
    frame = pd.DataFrame([rows[d] for d in shown], index=pd.Index(shown, name="domain"), columns=headings(options))
    return frame


def _names(domain: str, rows: dict[str, list[int]], subdomains: dict[str, int], parents: bool) -> list[str]:
    """The domain, and with ``-p`` its parents; counts a parent's new subdomains as qshape does."""
    names, current = [domain], domain
    new = domain not in rows
    while parents:
        current, replaced = re.subn(r"^\.?[^.]+\.(.*\.)", r".\1", current, count=1, flags=re.DOTALL)
        if not replaced:
            break
        if new:
            subdomains[current] = subdomains.get(current, 0) + 1
        new = current not in rows
        names.append(current)
    return names


def host_entries(host: Any, queues: Sequence[str] = DEFAULT_QUEUES) -> list[Entry]:
    """(arrival, sender, pending recipients) of every file in the named queues of a mail host."""
    wanted = set(queues)
    return [(qf.arrival_time, qf.sender, [r.address for r in qf.pending]) for qf in host.queue if qf.state in wanted]


def qshape(host: Any, queues: Sequence[str] = DEFAULT_QUEUES, options: QshapeOptions = QshapeOptions(),
           *, now: float | None = None) -> pd.DataFrame:  # fmt: skip
    """qshape for a mail host's queues at the current virtual time (or ``now``)."""
    return count(host_entries(host, queues), host.sim.now if now is None else now, options)


def format_qshape(frame: pd.DataFrame, *, width: int = WIDTH) -> str:
    """The frame in qshape's text layout: right-aligned columns, the domain column filling up to ``width``."""
    heads = [str(c) for c in frame.columns]
    total = frame.loc[TOTAL].tolist() if TOTAL in frame.index else [0] * len(heads)
    widths = []
    for head, value in zip(heads, total):
        size = max(len(str(int(value))), len(head))
        widths.append(size + 1 if size > 2 else 3)
    dw = max(max(width, WIDTH) - sum(widths), DOMAIN_WIDTH)
    lines = [_line("", heads, widths, dw)]
    lines += [_line(str(name), [int(v) for v in row], widths, dw) for name, row in zip(frame.index, frame.values)]
    return "".join(lines)


def _line(name: str, cells: Sequence[object], widths: Sequence[int], dw: int) -> str:
    if len(name) > dw:
        name = ".+" + name[len(name) - dw + 2 :] if name.startswith(".") else "+" + name[len(name) - dw + 1 :]
    return name.rjust(dw) + "".join(str(c).rjust(w) for c, w in zip(cells, widths)) + "\n"


class QshapeUsage(Exception):
    """qshape's command line was wrong: its ``die`` message (exit 255)."""


def parse_qshape_args(argv: Sequence[str]) -> tuple[QshapeOptions, list[str], int]:
    """(options, queue names, terminal width) from qshape's command line, as its Getopt::Std reads it."""
    try:
        opts, args = getopt.gnu_getopt(list(argv), "lhc:psw:b:t:m:n:N:")
    except getopt.GetoptError as error:
        raise QshapeUsage(f"qshape: Unknown option: {error.opt}\n{USAGE}") from None
    given = dict(opts)
    if "-h" in given:
        raise QshapeUsage(USAGE)
    try:
        numbers = {flag: float(given[flag]) for flag in ("-w", "-b", "-t", "-m") if flag in given}
    except ValueError as error:
        raise QshapeUsage(f"qshape: {error}\n{USAGE}") from None
    options = QshapeOptions(
        senders="-s" in given, parents="-p" in given, linear="-l" in given,
        min_subdomains=int(numbers["-m"]) if numbers.get("-m", 0) > 0 else 5,
        buckets=int(numbers["-b"]) if numbers.get("-b", 0) > 0 else 10,
        bucket_time=numbers["-t"] if numbers.get("-t", 0) > 0 else 5.0,
    )  # fmt: skip
    width = int(numbers["-w"]) if numbers.get("-w", 0) > WIDTH else WIDTH
    return options, args or list(DEFAULT_QUEUES), width


def run_qshape(host: Any, argv: Sequence[str]) -> ToolResult:
    """qshape(1) with its own options over a mail host now; ``-c DIR`` is accepted, ``-N``/``-n`` ignored."""
    try:
        options, queues, width = parse_qshape_args(argv)
    except QshapeUsage as usage:
        return ToolResult(255, "", str(usage))
    stderr = "".join(f"Can't stat {q}: No such file or directory\n" for q in queues if q not in QUEUE_NAMES)
    frame = qshape(host, [q for q in queues if q in QUEUE_NAMES], options)
    return ToolResult(0, format_qshape(frame, width=width), stderr)


# -- the shape over time ---------------------------------------------------------------------------------------


@dataclass
class QshapeSampler:
    """Snapshots of qshape taken during a run: one row per (time, host, domain)."""

    hosts: tuple[str, ...]
    queues: tuple[str, ...] = DEFAULT_QUEUES
    options: QshapeOptions = QshapeOptions()
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    pending: list[float] = field(default_factory=list)  # the given times not sampled yet

    def catch_up(self, world: Any) -> None:
        """Take the samples due at the time the run stopped (a run to T leaves events at T undone)."""
        while self.pending and self.pending[0] <= world.sim.now:
            self.pending.pop(0)
            self.sample(world)

    def sample(self, world: Any) -> None:
        """Record the shape of every watched host now."""
        now = world.sim.now
        for name in self.hosts:
            frame = qshape(world.hosts[name], self.queues, self.options)
            self.rows.extend((now, name, domain, *values) for domain, values in zip(frame.index, frame.values.tolist()))

    def frame(self) -> pd.DataFrame:
        """All snapshots: columns time, host, domain, then qshape's columns (T, 5, 10, ...)."""
        return pd.DataFrame(self.rows, columns=["time", "host", "domain", *headings(self.options)])


def attach_qshape_sampler(
    world: Any,
    every: float | None = 300.0,
    *,
    times: Sequence[float] | None = None,
    hosts: Sequence[str] | None = None,
    queues: Sequence[str] = DEFAULT_QUEUES,
    options: QshapeOptions = QshapeOptions(),
) -> QshapeSampler:
    """Sample qshape from time 0 every ``every`` seconds (or at ``times``) while ``world`` runs.

    Attach before running (``run(spec, prepare=lambda w: ...)``); ``hosts`` defaults to every mail host. A
    run to T stops before the events at T: call :meth:`QshapeSampler.catch_up` after it for a sample at T.
    """
    names = tuple(hosts) if hosts is not None else tuple(world.hosts)
    unknown = [name for name in names if name not in world.hosts]
    if unknown:
        raise KeyError(f"no mail host {unknown[0]!r}; mail hosts: {', '.join(world.hosts)}")
    moments = sorted(times) if times is not None else None
    sampler = QshapeSampler(names, tuple(queues), options, pending=list(moments or []))
    if moments is None and (every is None or every <= 0):
        raise ValueError("give a positive sampling period (every=) or a list of times (times=)")
    world.sim.env.process(_sampling(world, sampler, every, moments))
    return sampler


def _sampling(world: Any, sampler: QshapeSampler, every: float | None,
              moments: list[float] | None) -> Generator[simpy.Event, Any, None]:  # fmt: skip
    env = world.sim.env
    if moments is not None:
        while sampler.pending:
            if sampler.pending[0] > env.now:
                yield env.timeout(sampler.pending[0] - env.now)
            sampler.catch_up(world)
        return
    assert every is not None
    while True:
        sampler.sample(world)
        yield env.timeout(every)


def qshape_over_time(
    spec: Any, times: Sequence[float], *, hosts: Sequence[str] | None = None,
    queues: Sequence[str] = DEFAULT_QUEUES, options: QshapeOptions = QshapeOptions(), seed: int | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Run a scenario (a loaded spec) to the last of ``times`` and return the shape at each of them."""
    from mailsim.scenario.runner import run_scenario

    holder: list[QshapeSampler] = []

    def prepare(world: Any) -> None:
        holder.append(attach_qshape_sampler(world, None, times=times, hosts=hosts, queues=queues, options=options))

    result = run_scenario(spec, seed=seed, until=max(times), prepare=prepare)
    holder[0].catch_up(result.world)
    return holder[0].frame()
