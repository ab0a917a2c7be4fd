"""Generated traffic: the user agents of a whole population, one ``[[workload]]`` entry at a time.

A :class:`WorkloadAgent` draws arrivals (:mod:`mailsim.ua.arrivals`, or rows replayed by
:mod:`mailsim.ua.replay`), gives each a sender, recipients and a size, composes a small RFC 5322
message and hands it to the mail system the way the entry says:

- ``sendmail`` (the default and the cheapest): the server host's ``sendmail`` command, i.e.
  ``host.submit(..., service="pickup")`` into cleanup, at the arrival instant;
- ``submission``: an SMTP session to port 587 with STARTTLS and AUTH, as :class:`~mailsim.ua.submit.UserAgent`
  does (one concurrent session per message);
- ``smtp``: a session to port 25 without AUTH (a foreign MTA, a spammer).

Every message is recorded as ``workload``/``submit`` (message_id, sender, nrcpt, size, via) at its
arrival, so end-to-end latency is measured from the moment a user pressed "send"; an SMTP session
ends with ``workload``/``session`` (outcome, stage, refused recipients, last reply).

Names: a ``from``/``to`` entry with an ``@`` is an address; one without is a domain whose users are
``user1@domain`` ... ``userN@domain`` (N = ``population``, drawn uniformly). An ``unknown`` share of
recipients becomes ``nosuchuserK@domain`` (they bounce or are refused). With ``members = N`` the
entry is a mailing list: N members are drawn once, and every message goes to all of them.

Randomness: arrivals come from the stream ``workload.I`` and everything else (senders, recipients,
sizes) from ``workload.I.marks``, so an arm that changes sizes keeps the same arrival times (common
random numbers in sweeps).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Protocol

import numpy as np

from mailsim.engine.bridge import event_from_awaitable
from mailsim.engine.client import Credentials, SessionPlan, StartTls, Transaction, deliver
from mailsim.engine.simloop import host_context
from mailsim.mail.message import format_date, make_message_id
from mailsim.ua.arrivals import Distribution, RateProfile, arrival_times
from mailsim.ua.replay import Replay, ReplayRow
from mailsim.ua.submit import SMTP_PORT, SUBMISSION_PORT

_LINE = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor inc.\r\n"


class WorkloadLike(Protocol):
    """What a workload description provides (mailsim.scenario.spec.WorkloadSpec)."""

    @property
    def kind(self) -> str: ...

    @property
    def senders(self) -> tuple[str, ...]: ...

    @property
    def recipients(self) -> tuple[str, ...]: ...

    @property
    def rate(self) -> float | None: ...

    @property
    def size(self) -> Distribution: ...

    @property
    def start(self) -> float: ...

    @property
    def stop(self) -> float | None: ...

    @property
    def via(self) -> str: ...

    @property
    def profile(self) -> tuple[float, ...]: ...

    @property
    def bursts(self) -> tuple[Any, ...]: ...

    @property
    def rcpts(self) -> Distribution: ...

    @property
    def population(self) -> int: ...

    @property
    def unknown(self) -> float: ...

    @property
    def members(self) -> int: ...

    @property
    def limit(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Arrival:
    """One message to send: when, from whom, to whom, how big."""

    time: float
    sender: str
    recipients: tuple[str, ...]
    size: int


@dataclass(frozen=True, slots=True)
class Route:
    """Where a sender's messages go in: the client and server hosts, and how to reach the server.

    ``pickup`` is the server's sendmail command (``host.submit``) for ``via = "sendmail"``.
    """

    client: str
    server: str
    address: str
    origin: str
    pickup: Callable[..., Any] | None = None
    tls_context: Any = None
    login: str | None = None
    password: str | None = None


class Marks:
    """Senders, recipients and sizes drawn for each arrival from one stream."""

    def __init__(self, spec: WorkloadLike, rng: np.random.Generator) -> None:
        self.spec = spec
        self.rng = rng
        self.members = tuple(self.recipient() for _ in range(spec.members))

    def _user(self, names: Sequence[str]) -> str:
        name = names[int(self.rng.integers(len(names)))] if len(names) > 1 else names[0]
        if "@" in name:
            return name
        return f"user{int(self.rng.integers(1, self.spec.population + 1))}@{name}"

    def sender(self) -> str:
        return self._user(self.spec.senders)

    def recipient(self) -> str:
        address = self._user(self.spec.recipients)
        if self.spec.unknown and self.rng.random() < self.spec.unknown:
            domain = address.rpartition("@")[2]
            return f"nosuchuser{int(self.rng.integers(1, self.spec.population + 1))}@{domain}"
        return address

    def recipients_for(self, count: int | None) -> tuple[str, ...]:
        if self.members:
            return self.members
        n = count if count is not None else self.spec.rcpts.count(self.rng)
        return tuple(self.recipient() for _ in range(n))

    def arrival(self, time: float, row: ReplayRow | None = None) -> Arrival:
        """The marks of one arrival; a replayed row keeps whatever it says and draws the rest."""
        if row is None:
            return Arrival(time, self.sender(), self.recipients_for(None), self.spec.size.size(self.rng))
        sender = row.sender if row.sender is not None else self.sender()
        recipients = row.recipients or self.recipients_for(row.nrcpt)
        size = row.size if row.size is not None else self.spec.size.size(self.rng)
        return Arrival(time, sender, recipients, size)


def arrivals(
    spec: WorkloadLike, streams: tuple[np.random.Generator, np.random.Generator], *,
    replay: Replay | None = None, day_offset: float = 0.0,
) -> Iterator[Arrival]:  # fmt: skip
    """Every arrival of one workload in time order, at most ``limit`` of them."""
    times_rng, marks_rng = streams
    marks = Marks(spec, marks_rng)
    stop = math.inf if spec.stop is None else spec.stop
    limit = math.inf if spec.limit is None else spec.limit
    if replay is not None:
        rows: Iterator[tuple[float, ReplayRow | None]] = ((spec.start + r.time, r) for r in replay.rows)
    else:
        profile = RateProfile(spec.rate or 0.0, spec.profile, tuple(spec.bursts), day_offset)
        rows = zip(arrival_times(profile, times_rng, spec.start, stop), repeat(None))
    for count, (time, row) in enumerate(rows):
        if count >= limit or time >= stop:
            return
        yield marks.arrival(time, row)


def compose(sim: Any, arrival: Arrival, origin: str, subject: str) -> tuple[str, bytes]:
    """(Message-ID, message bytes) of about ``arrival.size`` bytes, written without the email package."""
    now = sim.wallclock()  # one calendar reading for both headers: the clock cannot move in between
    message_id = make_message_id(sim, origin, when=now)
    to = arrival.recipients[0] if len(arrival.recipients) == 1 else "undisclosed-recipients:;"
    head = (
        f"Date: {format_date(now)}\r\nFrom: <{arrival.sender}>\r\nTo: {to}\r\n"
        f"Subject: {subject}\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    ).encode("utf-8", "surrogateescape")
    need = max(len(_LINE), arrival.size - len(head))
    body = _LINE * (need // len(_LINE))
    return message_id.strip("<>"), head + body


class WorkloadAgent:
    """One ``[[workload]]`` entry at work: a simpy process that sends its arrivals as they come."""

    def __init__(
        self, sim: Any, index: int, spec: WorkloadLike, route: Callable[[str], Route], *,
        replay: Replay | None = None, transcripts: Any = None,
    ) -> None:  # fmt: skip
        self.sim = sim
        self.index = index
        self.spec = spec
        self.route = route
        self.replay = replay
        self.transcripts = transcripts
        self.sent = 0
        wall = sim.wallclock(0.0)
        day_offset = wall.hour * 3600 + wall.minute * 60 + wall.second + wall.microsecond / 1e6
        streams = (sim.rng(f"workload.{index}"), sim.rng(f"workload.{index}.marks"))
        self._arrivals = arrivals(spec, streams, replay=replay, day_offset=day_offset)

    def start(self) -> None:
        self.sim.env.process(self._run())

    def _run(self) -> Generator[Any, Any, None]:
        env = self.sim.env
        for arrival in self._arrivals:
            if arrival.time > env.now:
                yield env.timeout(arrival.time - env.now)
            self.send(arrival)

    def send(self, arrival: Arrival) -> None:
        """Compose one message, record it, and hand it to the mail system."""
        route = self.route(arrival.sender)
        self.sent += 1
        message_id, content = compose(self.sim, arrival, route.origin, f"workload {self.index} message {self.sent}")
        self.sim.emit(
            route.client, "workload", "submit", message_id=message_id, sender=arrival.sender,
            nrcpt=len(arrival.recipients), size=len(content), via=self.spec.via, workload=self.index,
        )  # fmt: skip
        if self.spec.via == "sendmail" and route.pickup is not None:
            route.pickup(arrival.sender, arrival.recipients, content, service="pickup")
            return
        self.sim.env.process(self._session(route, arrival, content))

    def _session(self, route: Route, arrival: Arrival, content: bytes) -> Generator[Any, Any, None]:
        submitting = self.spec.via == "submission"
        credentials = Credentials(route.login, route.password or "") if submitting and route.login else None
        plan = SessionPlan(
            route.address, route.client, Transaction(arrival.sender, arrival.recipients, content),
            port=SUBMISSION_PORT if submitting else SMTP_PORT,
            starttls=StartTls.MAY if route.tls_context is not None else StartTls.NONE,
            tls_context=route.tls_context, server_name=route.server, credentials=credentials,
        )  # fmt: skip
        result = yield event_from_awaitable(self.sim, self._deliver(route.client, plan))
        refused = sum(1 for r in result.recipients if r.reply is not None and r.reply.code >= 400)
        self.sim.emit(
            route.client, "workload", "session", sender=arrival.sender, server=route.server,
            outcome=result.outcome.value, stage=result.stage, refused=refused,
            reply=result.reply.oneline() if result.reply else None,
        )  # fmt: skip

    async def _deliver(self, client: str, plan: SessionPlan) -> Any:
        with host_context(client):
            return await deliver(plan, record=False, transcripts=self.transcripts, host=client, service="ua")
