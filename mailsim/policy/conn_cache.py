"""Connection caching decisions: when qmgr asks for it, when smtp(8) uses it, when a connection is used up.

Pure rules, time passed in (CONNECTION_CACHE_README, "on-demand" caching):

- :func:`on_select` is qmgr_entry_select(): a destination queue turns caching on (load and store) when a
  delivery is selected back-to-back with the last one that finished (within one second: Postfix compares
  whole seconds, ``last_done + 1 >= now``), and turns *storing* off again when neither that nor a concurrent
  delivery is going on; loading stays on so cached connections are used up before new ones are made.
  The queue's flags go into every delivery request (qmgr_deliver_send_request()).
- :func:`client_flags` is smtp_cache_policy() in smtp_connect.c: a destination listed in
  smtp_connection_cache_destinations always loads and stores; otherwise, with
  smtp_connection_cache_on_demand, the request's flags decide.
- :func:`used_up` is THIS_SESSION_IS_EXPIRED in smtp.h: past smtp_connection_reuse_time_limit since the
  connection was made, or reused smtp_connection_reuse_count_limit times (0: no limit).

Postfix parameters read (by the callers, passed in): smtp_connection_cache_on_demand (yes),
smtp_connection_cache_destinations (empty), smtp_connection_reuse_time_limit (300s),
smtp_connection_reuse_count_limit (0).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from mailsim.mail.delivery import DeliverFlags

BOTH = DeliverFlags.CONN_LOAD | DeliverFlags.CONN_STORE


def on_select(flags: DeliverFlags, busy: int, last_done: int | None, now: float) -> DeliverFlags:
    """A destination's flags after one of its entries was selected (``busy`` counts that one too)."""
    back_to_back = last_done is not None and last_done + 1 >= math.floor(now)
    if not flags & DeliverFlags.CONN_STORE:
        return flags | BOTH if back_to_back else flags
    if busy > 1 or back_to_back:
        return flags
    return flags & ~DeliverFlags.CONN_STORE


def done_second(now: float) -> int:
    """qmgr_entry_done's ``last_done``: the whole second (event_time()) a delivery finished."""
    return math.floor(now)


def client_flags(
    request: DeliverFlags, domain: str, on_demand: bool, destinations: Callable[[str], bool]
) -> DeliverFlags:
    """What the smtp client does for this request's first nexthop ``domain`` (bare: no [] and no port)."""
    if destinations(domain):
        return BOTH
    return request & BOTH if on_demand else DeliverFlags(0)


def used_up(made: float, reuse_count: int, now: float, time_limit: float, count_limit: int) -> bool:
    """May a connection made at ``made`` and reused ``reuse_count`` times not be cached again?"""
    return made + time_limit < now or (count_limit > 0 and reuse_count >= count_limit)
