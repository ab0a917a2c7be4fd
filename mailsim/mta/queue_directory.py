"""A host's Postfix queue directory: every queue file, which queue it is in, and each move traced.

All daemons of a host share one :class:`QueueDirectory`, as they share /var/spool/postfix. A move
goes through the queue-file state table (:func:`mailsim.mail.queuefile.transition`), so an
illegal move is a model bug that stops the run, and each move is one ``queue`` trace record
(``src``/``dst``) from which queue depths over time are drawn. Files may also be kept as bytes
(``keep_bytes``) so ``postcat`` shows what Postfix would and a cut-in-half file can be detected.
``defer_log`` plays Postfix's ``defer/`` logfiles: the (recipient, reason) of each deferral since the
file last entered ``active`` (qmgr resets it there, qmgr_message.c), which ``mailq`` shows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from mailsim.core.simulation import Simulation
from mailsim.mail.queuefile import QUEUES, TERMINAL, QueueFile, QueueState
from mailsim.mail.queueid import new_queue_id


class QueueDirectory:
    """Queue files by id; ``depth(state)`` is the number of files in a queue."""

    def __init__(self, sim: Simulation, host: str, *, long_queue_ids: bool = False) -> None:
        self.sim = sim
        self.host = host
        self.long_queue_ids = long_queue_ids
        self.files: dict[str, QueueFile] = {}
        self.eligible: dict[str, float] = {}
        self.counts: Counter[QueueState] = Counter()
        self.finished: Counter[QueueState] = Counter()
        self.damaged: dict[str, bytes] = {}
        self.defer_log: dict[str, list[tuple[str, str]]] = {}

    def new_queue_id(self) -> str:
        """A queue id unique on this host, derived from virtual time (never the wall clock)."""
        while True:
            queue_id = new_queue_id(self.sim, self.host, long=self.long_queue_ids)
            if queue_id not in self.files:
                return queue_id

    def enter(self, qf: QueueFile, *, service: str) -> QueueFile:
        """A new file appears in its queue (cleanup writes incoming, corrupt, or hold)."""
        if qf.queue_id in self.files:
            raise KeyError(f"queue id {qf.queue_id} already in use on {self.host}")
        self.files[qf.queue_id] = qf
        self.counts[qf.state] += 1
        self._trace(service, qf, None, qf.state)
        return qf

    def move(self, queue_id: str, new: QueueState, *, service: str, **fields: object) -> QueueFile:
        """Move a file to another queue or a terminal state (validated by the state table)."""
        qf = self.files[queue_id]
        moved = qf.move(new)  # raises on an illegal move, before anything changes
        self.counts[qf.state] -= 1
        final = new in TERMINAL
        if final or new is QueueState.ACTIVE:
            self.defer_log.pop(queue_id, None)
        if final:
            del self.files[queue_id]
            self.eligible.pop(queue_id, None)
            if not (qf.state is QueueState.MAILDROP and service == "pickup"):  # consumed by pickup, not deleted
                self.finished[new] += 1
        else:
            self.files[queue_id] = moved
            self.counts[new] += 1
        self._trace(service, moved, qf.state, new, **fields)
        return moved

    def update(self, qf: QueueFile) -> None:
        """Replace a file's record in place (recipients marked done); the queue does not change."""
        old = self.files[qf.queue_id]
        if old.state is not qf.state:
            raise ValueError("use move() to change a queue file's queue")
        self.files[qf.queue_id] = qf

    def defer_append(self, queue_id: str, recipient: str, reason: str) -> None:
        """Log one recipient's deferral reason (the bounce service's defer_append)."""
        self.defer_log.setdefault(queue_id, []).append((recipient, reason))

    def get(self, queue_id: str) -> QueueFile | None:
        return self.files.get(queue_id)

    def damage(self, queue_id: str, keep: float = 0.5) -> None:
        """Fault injection: the file on disk is cut short (a crash, a full disk); only its first part remains."""
        data = self.files[queue_id].to_bytes()
        self.damaged[queue_id] = data[: int(len(data) * keep)]
        self.sim.trace.emit(self.host, "queue", "damage", queue_id=queue_id, kept=len(self.damaged[queue_id]))

    def read(self, queue_id: str) -> QueueFile:
        """The file as a daemon reads it from disk; :class:`CorruptQueueFile` when it was damaged."""
        if queue_id in self.damaged:
            QueueFile.from_bytes(self.damaged[queue_id], state=self.files[queue_id].state)
        return self.files[queue_id]

    def ids(self, state: QueueState) -> list[str]:
        """Queue ids of one queue, in arrival order."""
        return [qid for qid, qf in self.files.items() if qf.state is state]

    def depth(self, state: QueueState) -> int:
        return self.counts[state]

    def depths(self) -> dict[str, int]:
        return {str(state): self.counts[state] for state in QUEUES}

    def __iter__(self) -> Iterator[QueueFile]:
        return iter(list(self.files.values()))

    def _trace(self, service: str, qf: QueueFile, src: QueueState | None, dst: QueueState, **fields: object) -> None:
        final = dst in TERMINAL
        self.sim.trace.emit(
            self.host, service, "queue", queue_id=qf.queue_id, message_id=qf.attribute("message_id"),
            src=None if src is None else str(src), dst=None if final else str(dst), final=str(dst) if final else None,
            **fields,
        )  # fmt: skip
