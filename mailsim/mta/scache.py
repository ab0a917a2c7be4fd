"""scache(8): one host's cache of idle SMTP connections, shared by its smtp, relay and lmtp services.

Theory of operation (scache_multi.c, CONNECTION_CACHE_README): a connection is saved under its *endpoint*
label (service, server address and port, and what SASL would make different); a *destination* label (service
and the delivery request's nexthop) is a binding to endpoint labels, so the next delivery to that nexthop finds
the connection to whichever MX host answered, skipping the ones that did not. Every entry lives
smtp_connection_cache_time_limit (2s) from when it was saved; a binding saved again for the same endpoint has
its time refreshed. A connection nobody took in that time is closed the way scache(8) closes it: the socket
is closed, no QUIT is sent. Finding a connection takes it out of the cache (its timer stops): the oldest one
saved for an endpoint, and for a destination the endpoints in the order their bindings were made.

Postfix parameters read: none (the client passes smtp_connection_cache_time_limit as ``ttl``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailsim.engine.plan import OpenSession


@dataclass(slots=True)
class CachedConnection:
    """An idle connection as smtp(8) passivates it: the session, where it goes, its age and reuse count."""

    session: OpenSession
    host: str  # the server's name, address and port (the relay= of the next delivery)
    address: str
    port: int
    made: float  # when the connection was opened (smtp_connection_reuse_time_limit runs from here)
    reuse_count: int = 0
    saves: int = field(default=0, repr=False)  # which save an expiry timer belongs to
    cached: bool = field(default=False, repr=False)


@dataclass(slots=True)
class _Binding:
    endpoint: str
    expires: float


class ConnectionCache:
    """The connection cache of one host (see the module docstring)."""

    def __init__(self, sim: Any, host: str) -> None:
        self.sim = sim
        self.host = host
        self._endpoints: dict[str, list[CachedConnection]] = {}
        self._destinations: dict[str, list[_Binding]] = {}

    def save(self, connection: CachedConnection, endpoint: str, destination: str | None, ttl: float) -> None:
        """smtp_save_session(): under the endpoint, and under the destination when given; closed after ``ttl``."""
        now = self.sim.now
        if destination is not None:
            bindings = self._destinations.setdefault(destination, [])
            for binding in bindings:
                if binding.endpoint == endpoint:
                    binding.expires = now + ttl
                    break
            else:
                bindings.append(_Binding(endpoint, now + ttl))
        self._endpoints.setdefault(endpoint, []).append(connection)
        connection.cached = True
        connection.saves += 1
        save = connection.saves
        self.sim.emit(self.host, "scache", "save", endpoint=endpoint, destination=destination,
                      relay=f"{connection.host}[{connection.address}]:{connection.port}")  # fmt: skip
        self.sim.env.timeout(ttl).callbacks.append(lambda _: self._expire(endpoint, connection, save))

    def find_endpoint(self, endpoint: str) -> CachedConnection | None:
        """scache_find_endp(): the oldest connection saved under ``endpoint``, taken out of the cache."""
        idle = self._endpoints.get(endpoint)
        if not idle:
            return None
        connection = idle.pop(0)
        if not idle:
            del self._endpoints[endpoint]
        connection.cached = False
        return connection

    def find_destination(self, destination: str) -> CachedConnection | None:
        """scache_find_dest(): a connection of the first endpoint bound to ``destination`` that has one."""
        now = self.sim.now
        bindings = [b for b in self._destinations.get(destination, ()) if b.expires > now]
        if bindings:
            self._destinations[destination] = bindings
        else:
            self._destinations.pop(destination, None)
        for binding in bindings:
            found = self.find_endpoint(binding.endpoint)
            if found is not None:
                return found
        return None

    def idle(self) -> int:
        """How many connections are in the cache now."""
        return sum(len(idle) for idle in self._endpoints.values())

    def _expire(self, endpoint: str, connection: CachedConnection, save: int) -> None:
        idle = self._endpoints.get(endpoint)
        if not connection.cached or connection.saves != save or idle is None or connection not in idle:
            return
        idle.remove(connection)
        if not idle:
            del self._endpoints[endpoint]
        connection.cached = False
        self.sim.emit(self.host, "scache", "expire", endpoint=endpoint,
                      relay=f"{connection.host}[{connection.address}]:{connection.port}")  # fmt: skip
        connection.session.close()
