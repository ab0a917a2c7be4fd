"""smtp(8) and the connection cache: who may use it, under which labels, and for how long (smtp_reuse.c).

One :class:`Reuse` per delivery request, made from the request's first nexthop (smtp_connect.c,
smtp_cache_policy): a nexthop listed in smtp_connection_cache_destinations loads and stores, otherwise
qmgr's on-demand flags decide when smtp_connection_cache_on_demand is on. Lookups come before connecting:
first by the request's nexthop (the binding to whichever server answered last time), then by the address of
each best-preference MX host, and for each less preferred MX host just before connecting to it; an address
whose cached connection was used is not tried again for that request. A cached connection is probed with
RSET (smtp_rset_timeout) before the transaction. A new connection is kept after its transaction when the
request stores; one taken from the cache goes back again, until smtp_connection_reuse_time_limit (300s) since
it was made or smtp_connection_reuse_count_limit (0: none) reuses, then it ends with QUIT. A kept connection
is saved under its endpoint, and under the nexthop (smtp_save_session()).

Labels (smtp_key.c): nexthop = service and the request's nexthop; endpoint = service, address and port, and,
when smtp_sasl_password_maps is set, the nexthop and server name (different credentials never share a
connection). Not modelled: TLS connection reuse (Postfix 3.7 reuses only plaintext connections unless
smtp_tls_connection_reuse, which mailsim does not model: with any smtp_tls_security_level but ``none`` nothing
is cached), smtp_sender_dependent_authentication in the labels.

Postfix parameters read: smtp_connection_cache_on_demand (yes), smtp_connection_cache_destinations (empty),
smtp_connection_cache_time_limit (2s), smtp_connection_reuse_time_limit (300s),
smtp_connection_reuse_count_limit (0), and the lmtp_* equivalents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailsim.mail.delivery import DeliverFlags, DeliverRequest
from mailsim.mta.scache import CachedConnection, ConnectionCache
from mailsim.policy.conn_cache import client_flags, used_up
from mailsim.policy.lookup import DomainList, opener_from
from mailsim.policy.rewrite.resolve import parse_nexthop


@dataclass(slots=True)
class Reuse:
    """The connection cache as one delivery request may use it (see the module docstring)."""

    cache: ConnectionCache
    service: str
    nexthop: str
    load: bool
    store: bool
    ttl: float  # smtp_connection_cache_time_limit
    time_limit: float  # smtp_connection_reuse_time_limit
    count_limit: int  # smtp_connection_reuse_count_limit
    sasl: bool
    used: set[str] = field(default_factory=set)  # addresses whose cached connection this request used
    resolved: bool = False  # the first nexthop had addresses (else Postfix never sets the cache policy)

    @property
    def destination(self) -> str:
        return f"{self.service}\n{self.nexthop}"

    def endpoint(self, name: str, address: str, port: int) -> str:
        sasl = f"{self.nexthop}\n{name}\n" if self.sasl else ""
        return f"{self.service}\n{sasl}{address}\n{port}"

    def by_destination(self) -> CachedConnection | None:
        """smtp_reuse_nexthop()."""
        return self._taken(self.cache.find_destination(self.destination)) if self.load else None

    def by_endpoint(self, name: str, address: str, port: int) -> CachedConnection | None:
        """smtp_reuse_addr()."""
        return self._taken(self.cache.find_endpoint(self.endpoint(name, address, port))) if self.load else None

    def _taken(self, found: CachedConnection | None) -> CachedConnection | None:
        if found is not None:
            found.reuse_count += 1  # smtp_session_activate()
            self.used.add(found.address)
        return found

    def until_new(self, made: float) -> float | None:
        """A new connection is cacheable (CACHE_THIS_SESSION_UNTIL) when the request stores."""
        return made + self.time_limit if self.store else None

    def until_reused(self, found: CachedConnection, now: float) -> float | None:
        """A cached connection goes back after this transaction unless it is used up (THIS_SESSION_IS_EXPIRED)."""
        if used_up(found.made, found.reuse_count, now, self.time_limit, self.count_limit):
            return None
        return found.made + self.time_limit

    def keep(self, connection: CachedConnection, first: bool) -> None:
        """smtp_save_session(): the first good session of the request is also bound to its nexthop."""
        endpoint = self.endpoint(connection.host, connection.address, connection.port)
        self.cache.save(connection, endpoint, self.destination if first else None, self.ttl)


@dataclass(frozen=True, slots=True)
class ReuseSettings:
    """The client's cache parameters, read once per service."""

    on_demand: bool
    destinations: DomainList
    ttl: float
    time_limit: float
    count_limit: int
    sasl: bool
    plaintext: bool  # smtp_tls_security_level = none: only plaintext connections are cached

    @classmethod
    def from_main(cls, main: Any, prefix: str, opener: Any, plaintext: bool) -> ReuseSettings:
        listed = DomainList.parse(main.list(f"{prefix}_connection_cache_destinations"), opener_from(opener), False)
        return cls(
            main.bool(f"{prefix}_connection_cache_on_demand"), listed,
            main.time(f"{prefix}_connection_cache_time_limit"), main.time(f"{prefix}_connection_reuse_time_limit"),
            main.int(f"{prefix}_connection_reuse_count_limit"), bool(main.get(f"{prefix}_sasl_password_maps")),
            plaintext,
        )  # fmt: skip


def reuse_for(settings: ReuseSettings, cache: ConnectionCache, service: str, request: DeliverRequest) -> Reuse | None:
    """The request's use of the cache, or None when it uses none (smtp_cache_policy())."""
    if not settings.plaintext:
        return None
    domain = parse_nexthop(request.nexthop).host
    flags = client_flags(request.flags, domain, settings.on_demand, settings.destinations.match)
    if not flags:
        return None
    return Reuse(
        cache, service, request.nexthop, bool(flags & DeliverFlags.CONN_LOAD), bool(flags & DeliverFlags.CONN_STORE),
        settings.ttl, settings.time_limit, settings.count_limit, settings.sasl,
    )  # fmt: skip
