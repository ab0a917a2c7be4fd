"""postsuper(1): delete, hold, release and requeue queue files, with Postfix 3.7's messages.

Theory of operation. Every move goes through the host's queue directory, so through the queue
state table, and is traced (``queue`` records with ``service="postsuper"``), plus one
``postsuper`` record per message (``action`` is Postfix's log wording: ``removed``, ``placed on
hold``, ``released from hold``, ``requeued``; ``mass=True`` for ``ALL`` operations, which Postfix
does not log per message). As in Postfix 3.7:

- ``ALL`` operations run first, one pass over the named queues (default: maildrop, incoming,
  active, deferred, hold; for a lone ``-h ALL`` incoming, active, deferred; for a lone ``-H ALL``
  hold); per file, delete beats requeue beats hold beats release. Then the operations on named
  queue ids run in command-line order (``-`` reads ids from standard input).
- ``-h`` never touches maildrop or hold, ``-H`` only hold (to deferred), ``-r`` never maildrop.
- stderr gets ``postsuper: ID: removed`` for each id named, then one summary per operation asked
  for, even when nothing matched (``Requeued``, ``Deleted``, ``Placed on hold``, ``Released from
  hold``: ``N message`` or ``N messages``); an unknown id is not an error (exit 0), a malformed one
  a warning, an unknown directory fatal (exit 1).

What qmgr is told: a released file keeps its deferred time stamp (the rename keeps the mtime) and
is picked up by the first deferred-queue scan at or after it. A requeued file waits in maildrop
for pickup's next wakeup (master.cf's pickup wakeup time, on the run clock), which moves it to
incoming and notifies qmgr; Postfix's pickup would copy it into a new file with a new queue id,
mailsim keeps the id and the arrival time (which Postfix also keeps). A file qmgr is still
delivering is held, released, requeued or deleted at once; qmgr leaves it where postsuper put it
(qmgr_active_done finds it gone), and it is handed back to qmgr only after its deliveries are in.
Forced expiration (``-e``, ``-f``, Postfix 3.5) is not modelled.

Parameters: none beyond the queue's; master.cf's pickup service (wakeup, default 60 s).
"""

from __future__ import annotations

import getopt
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import simpy

from mailsim.config.tools import ToolResult
from mailsim.mail.queuefile import QueueState

ALL = "ALL"
_S = QueueState
MESSAGE_QUEUES = {str(s): s for s in (_S.MAILDROP, _S.INCOMING, _S.ACTIVE, _S.DEFERRED, _S.HOLD)}
LOG_QUEUES = frozenset({"defer", "bounce", "trace", "flush"})
DEFAULT_QUEUES = (_S.MAILDROP, _S.INCOMING, _S.ACTIVE, _S.DEFERRED, _S.HOLD)
DEFAULT_HOLD_QUEUES = (_S.INCOMING, _S.ACTIVE, _S.DEFERRED)
DEFAULT_RELEASE_QUEUES = (_S.HOLD,)
# op letter -> (log action, summary label, queues it may take files from)
OPERATIONS = {
    "r": ("requeued", "Requeued", frozenset({_S.INCOMING, _S.ACTIVE, _S.DEFERRED, _S.HOLD})),
    "d": ("removed", "Deleted", frozenset(DEFAULT_QUEUES)),
    "h": ("placed on hold", "Placed on hold", frozenset(DEFAULT_HOLD_QUEUES)),
    "H": ("released from hold", "Released from hold", frozenset(DEFAULT_RELEASE_QUEUES)),
}
USAGE = (
    "usage: postsuper [-c config_dir] [-d queue_id (delete)] [-e queue_id (expire)] "
    "[-f queue_id (expire and/or un-hold)] [-h queue_id (hold)] [-H queue_id (un-hold)] "
    "[-p (purge temporary files)] [-r queue_id (requeue)] [-s (structure fix)] "
    "[-S (redundant structure fix)][-v (verbose)] [queue...]"
)
PICKUP_WAKEUP = 60.0  # master.cf's default pickup wakeup time
_QUEUE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")


class PostsuperFatal(Exception):
    """A ``postsuper: fatal:`` condition (exit 1); ``before`` is printed ahead of the fatal line."""

    def __init__(self, message: str, before: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.before = before


@dataclass
class Postsuper:
    """One postsuper(1) invocation on one host: counts and stderr lines accumulate as it runs."""

    host: Any
    stderr: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    affected: list[str] = field(default_factory=list)

    def ask(self, op: str) -> None:
        """Report a summary for ``op`` at the end, as Postfix does for every operation asked for."""
        self.counts.setdefault(op, 0)

    # -- one message --------------------------------------------------------------------------------------

    def one(self, op: str, queue_id: str, queues: Sequence[QueueState] | None = None) -> bool:
        """Apply ``op`` to the file ``queue_id`` when it sits in one of ``queues`` (default: the op's own)."""
        self.ask(op)
        if not _QUEUE_ID.fullmatch(queue_id):
            self.stderr.append(f"postsuper: warning: invalid mail queue id: {queue_id}\n")
            return False
        allowed = OPERATIONS[op][2] if queues is None else OPERATIONS[op][2] & set(queues)
        qf = self.host.queue.get(queue_id)
        if qf is None or qf.state not in allowed:
            return False
        self._apply(op, queue_id, mass=False)
        self.stderr.append(f"postsuper: {queue_id}: {OPERATIONS[op][0]}\n")
        return True

    def mass(self, ops: set[str], queues: Sequence[QueueState]) -> None:
        """The ``ALL`` operations: one pass over ``queues``; per file the first applicable op wins."""
        for op in ops:
            self.ask(op)
        for state in queues:
            for queue_id in self.host.queue.ids(state):
                first = next((o for o in "drhH" if o in ops and state in OPERATIONS[o][2]), None)
                if first is not None:
                    self._apply(first, queue_id, mass=True)

    def _apply(self, op: str, queue_id: str, *, mass: bool) -> None:
        host, queue = self.host, self.host.queue
        qf = queue.get(queue_id)
        mid = qf.attribute("message_id") if qf is not None else None
        if op == "d":
            queue.move(queue_id, QueueState.DELETED, service="postsuper")
        elif op == "h":
            queue.move(queue_id, QueueState.HOLD, service="postsuper")
        elif op == "H":
            queue.move(queue_id, QueueState.DEFERRED, service="postsuper")
            host.sim.env.process(_hand_back(host, queue_id, QueueState.DEFERRED))
        else:
            queue.move(queue_id, QueueState.MAILDROP, service="postsuper")
            queue.eligible.pop(queue_id, None)
            host.sim.env.process(_pickup(host, queue_id))
        host.sim.trace.emit(host.name, "postsuper", "postsuper", queue_id=queue_id, message_id=mid,
                            action=OPERATIONS[op][0], mass=mass)  # fmt: skip
        self.counts[op] = self.counts.get(op, 0) + 1
        self.affected.append(queue_id)

    def summary(self) -> list[str]:
        """The closing lines, in Postfix's order."""
        lines = []
        for op in "rdhH":
            if op in self.counts:
                n = self.counts[op]
                lines.append(f"postsuper: {OPERATIONS[op][1]}: {n} message{'' if n == 1 else 's'}\n")
        return lines


# -- what qmgr and pickup do with the result --------------------------------------------------------------


def _still_delivering(host: Any, queue_id: str) -> bool:
    return queue_id in host.qmgr.active


def _hand_back(host: Any, queue_id: str, state: QueueState) -> Generator[simpy.Event, Any, None]:
    """Give a released (deferred) or picked-up (incoming) file to qmgr once its old deliveries are in."""
    env = host.sim.env
    while _still_delivering(host, queue_id):
        yield env.timeout(1.0)
    qf = host.queue.get(queue_id)
    if qf is None or qf.state is not state:
        return
    if state is QueueState.DEFERRED:
        host.qmgr.defer_until(queue_id, host.queue.eligible.get(queue_id, env.now))
    else:
        host.qmgr.notify(queue_id)


def _pickup_wakeup(host: Any) -> float | None:
    """pickup's wakeup period from master.cf (None: no pickup service, requeued mail stays in maildrop)."""
    master = host.config.master
    service = master.service("pickup", "unix") or master.service("pickup", "fifo")
    if service is None:
        return None
    return float(service.wakeup) if service.wakeup > 0 else PICKUP_WAKEUP


def _pickup(host: Any, queue_id: str) -> Generator[simpy.Event, Any, None]:
    """pickup(8) at its next wakeup: maildrop -> incoming (same id), then qmgr is told."""
    period = _pickup_wakeup(host)
    if period is None:
        return
    env = host.sim.env
    while True:
        yield env.timeout(period * (env.now // period + 1) - env.now)
        qf = host.queue.get(queue_id)
        if qf is None or qf.state is not QueueState.MAILDROP:
            return
        if not _still_delivering(host, queue_id):
            break
    host.queue.move(queue_id, QueueState.INCOMING, service="pickup")
    host.queue.defer_log.pop(queue_id, None)  # the new file has no defer log in Postfix
    host.sim.trace.emit(host.name, "pickup", "pickup", queue_id=queue_id, message_id=qf.attribute("message_id"),
                        uid=0, sender=qf.sender)  # fmt: skip
    yield from _hand_back(host, queue_id, QueueState.INCOMING)


# -- the command ---------------------------------------------------------------------------------------------


def _queues(names: Sequence[str]) -> tuple[QueueState, ...]:
    out = []
    for name in names:
        if name in MESSAGE_QUEUES:
            out.append(MESSAGE_QUEUES[name])
        elif name not in LOG_QUEUES:
            raise PostsuperFatal(f"invalid directory name: {name}")
    return tuple(out)


def _parse(argv: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]]:
    try:
        opts, args = getopt.gnu_getopt(list(argv), "c:d:e:f:h:H:pr:sSv")
    except getopt.GetoptError as error:
        what = "option requires an argument" if "requires" in error.msg else "invalid option"
        raise PostsuperFatal(USAGE, f"postsuper: {what} -- '{error.opt}'\n") from None
    ops = [(flag[1], value) for flag, value in opts if flag[1] in "dhHref"]
    if any(op in "ef" for op, _ in ops):
        raise PostsuperFatal("forced expiration (-e, -f) is not modelled by mailsim")
    return ops, args


def run_postsuper(host: Any, argv: Sequence[str], stdin: str = "") -> ToolResult:
    """postsuper(1) with Postfix's options over ``host`` at the current virtual time.

    ``-c DIR`` is accepted (the caller chose the host); ``-p``, ``-s``, ``-S``, ``-v`` do nothing
    (the simulated queue needs no repair); ``-`` as a queue id reads ids from ``stdin``.
    """
    tool = Postsuper(host)
    try:
        ops, args = _parse(argv)
        explicit = _queues(args) if args else None
        mass = {op for op, value in ops if value == ALL}
        if mass:
            tool.mass(mass, explicit or _mass_defaults(mass))
        for op, value in ops:
            if value == ALL:
                continue
            for queue_id in stdin.splitlines() if value == "-" else [value]:
                tool.one(op, queue_id, explicit)
        if "d" in mass and "defer" in args:
            host.queue.defer_log.clear()  # -d ALL defer: the defer logfiles go
    except PostsuperFatal as fatal:
        return ToolResult(1, "", "".join(tool.stderr) + fatal.before + f"postsuper: fatal: {fatal.message}\n")
    return ToolResult(0, "", "".join(tool.stderr + tool.summary()))


def _mass_defaults(mass: set[str]) -> tuple[QueueState, ...]:
    if mass == {"h"}:
        return DEFAULT_HOLD_QUEUES
    if mass == {"H"}:
        return DEFAULT_RELEASE_QUEUES
    return DEFAULT_QUEUES


# -- the Python API ------------------------------------------------------------------------------------------


def _api(op: str, host: Any, queue_ids: str | Sequence[str], queues: Sequence[str] | None) -> list[str]:
    states = _queues(queues) if queues else None
    tool = Postsuper(host)
    if queue_ids == ALL:
        tool.mass({op}, states or _mass_defaults({op}))
    else:
        for queue_id in [queue_ids] if isinstance(queue_ids, str) else queue_ids:
            tool.one(op, queue_id, states)
    return tool.affected


def delete(host: Any, queue_ids: str | Sequence[str], queues: Sequence[str] | None = None) -> list[str]:
    """``postsuper -d``: remove files (``"ALL"`` for all); returns the ids removed."""
    return _api("d", host, queue_ids, queues)


def hold(host: Any, queue_ids: str | Sequence[str], queues: Sequence[str] | None = None) -> list[str]:
    """``postsuper -h``: put files on hold so qmgr never tries them; returns the ids held."""
    return _api("h", host, queue_ids, queues)


def release(host: Any, queue_ids: str | Sequence[str], queues: Sequence[str] | None = None) -> list[str]:
    """``postsuper -H``: release held files to the deferred queue; returns the ids released."""
    return _api("H", host, queue_ids, queues)


def requeue(host: Any, queue_ids: str | Sequence[str], queues: Sequence[str] | None = None) -> list[str]:
    """``postsuper -r``: send files back through maildrop and pickup; returns the ids requeued."""
    return _api("r", host, queue_ids, queues)
