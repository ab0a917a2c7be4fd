"""qmgr's in-memory scheduling structures: transports, per-destination queues and their entries.

A *transport* (smtp, local, relay, ...) has a process limit (master.cf maxproc) and a recipient
limit per delivery; a *destination* queue belongs to one transport and one nexthop name and has a
concurrency window (mailsim.policy.concurrency). Entries are groups of recipients of one message
that can go in one delivery request. Destinations of a transport are served round-robin, entries
of a destination first-in first-out (qmgr_queue_select / qmgr_entry_select). A destination also keeps
the connection-caching flags its requests carry (:func:`mailsim.policy.conn_cache.on_select`); like
Postfix's in-core queue it forgets them when it goes idle and is dropped.

Parameters: default_process_limit (100), default_destination_recipient_limit (50),
local_destination_recipient_limit (1), local_destination_concurrency_limit (2),
initial_destination_concurrency (5), default_destination_concurrency_limit (20),
transport-specific ``<transport>_destination_*`` overrides.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from mailsim.mail.delivery import DeliverFlags
from mailsim.policy.concurrency import ConcurrencyLimits, Window, initial_window, on_failure, on_success


@dataclass(slots=True)
class Entry:
    """Recipients of one message for one destination: one delivery request's worth."""

    message: Any
    recipients: list[Any]
    keys: list[str]
    destination: Destination | None = None


@dataclass(slots=True)
class Destination:
    """A per-destination queue: todo entries, busy count, concurrency window, why it is dead."""

    transport: Transport
    name: str
    nexthop: str
    state: Window
    todo: deque[Entry] = field(default_factory=deque)
    busy: int = 0
    dead_reason: str | None = None
    revive_at: float | None = None
    flags: DeliverFlags = DeliverFlags(0)  # on-demand connection caching (mailsim.policy.conn_cache)
    last_done: int | None = None  # the second the last delivery finished, for "back-to-back"

    @property
    def ready(self) -> bool:
        return not self.state.dead and self.state.window > self.busy and bool(self.todo)

    def succeeded(self) -> None:
        self.state = on_success(self.state, self.busy, self.transport.limits)
        self.dead_reason = None
        self.revive_at = None

    def failed(self, reason: str, now: float, revive_after: float) -> bool:
        """Negative feedback; True when this failure declared the destination dead."""
        was_dead = self.state.dead
        self.state = on_failure(self.state, self.transport.limits)
        if self.state.dead and not was_dead:
            self.dead_reason = reason
            self.revive_at = now + revive_after
            return True
        return False


@dataclass(slots=True)
class Transport:
    """A delivery transport as qmgr sees it: limits and its destinations in round-robin order."""

    name: str
    process_limit: int
    recipient_limit: int
    limits: ConcurrencyLimits
    busy: int = 0
    destinations: OrderedDict[str, Destination] = field(default_factory=OrderedDict)

    def destination(self, name: str, nexthop: str) -> Destination:
        found = self.destinations.get(name)
        if found is None:
            found = Destination(self, name, nexthop, initial_window(self.limits))
            self.destinations[name] = found
        return found

    def select(self) -> Destination | None:
        """The next destination with room and work, rotating the list for round-robin service."""
        if self.process_limit and self.busy >= self.process_limit:
            return None
        for name, dest in self.destinations.items():
            if dest.ready:
                self.destinations.move_to_end(name)
                return dest
        return None

    def forget_idle(self, name: str) -> None:
        """Drop an empty, live destination queue (qmgr_queue_done) so memory follows mail in flight."""
        dest = self.destinations.get(name)
        if dest is not None and not dest.todo and dest.busy == 0 and not dest.state.dead:
            del self.destinations[name]
