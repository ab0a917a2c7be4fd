"""anvil(8): the per-client connection counts and event rates that smtpd's client limits are checked against.

Postfix's smtpd reports each connection, MAIL FROM and RCPT TO to anvil and refuses the client when a count
or a rate goes over its limit; smtpd words the reply (``421`` and hang-up for connections, ``450 4.7.1`` for
mail and recipients) and logs the warning, anvil only counts. Here one :class:`Anvil` serves one smtpd
service (Postfix's one anvil per host keys its counters by service too). Rates are counted over a sliding
``anvil_rate_time_unit``; real anvil counts in fixed periods that start with a client's first event, so
a burst that straddles two periods is judged a little more strictly here. Clients matching
``smtpd_client_event_limit_exceptions`` are never counted (smtpd asks :meth:`Anvil.exempt` first).

Postfix parameters read: smtpd_client_connection_count_limit (50), smtpd_client_connection_rate_limit (0 =
off), smtpd_client_message_rate_limit (0), smtpd_client_recipient_rate_limit (0), anvil_rate_time_unit
(60s), smtpd_client_event_limit_exceptions ($mynetworks).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mailsim.policy.restrictions.settings import NetworkList


@dataclass(frozen=True, slots=True)
class Excess:
    """A limit a client went over: Postfix's warning text and the count that broke it."""

    problem: str
    count: int


class Anvil:
    """Connection counts and connection/message/recipient rates per client address, for one smtpd service."""

    def __init__(self, main: Any, table: Callable[..., Any]) -> None:
        self.count_limit = main.int("smtpd_client_connection_count_limit")
        self.connection_rate_limit = main.int("smtpd_client_connection_rate_limit")
        self.message_rate_limit = main.int("smtpd_client_message_rate_limit")
        self.recipient_rate_limit = main.int("smtpd_client_recipient_rate_limit")
        self.rate_unit = main.time("anvil_rate_time_unit")
        self.exceptions = NetworkList.parse(main.list("smtpd_client_event_limit_exceptions"), table, True)
        self.connections: Counter[str] = Counter()
        self._events: dict[str, dict[str, deque[float]]] = {"connect": {}, "mail": {}, "rcpt": {}}

    def exempt(self, name: str, address: str) -> bool:
        """Is this client on smtpd_client_event_limit_exceptions (never counted)?"""
        return bool(self.exceptions.match(name, address))

    def connect(self, address: str, now: float) -> Excess | None:
        """anvil_clnt_connect: count the connection (and its rate); the limit it breaks, if any."""
        self.connections[address] += 1
        rate = self._rate("connect", address, now) if self.connection_rate_limit > 0 else 0
        if 0 < self.count_limit < self.connections[address]:
            return Excess("Connection concurrency limit exceeded", self.connections[address])
        if 0 < self.connection_rate_limit < rate:
            return Excess("Connection rate limit exceeded", rate)
        return None

    def disconnect(self, address: str) -> None:
        """anvil_clnt_disconnect: the connection no longer counts towards the concurrency limit."""
        self.connections[address] -= 1
        if self.connections[address] <= 0:
            del self.connections[address]

    def mail(self, address: str, now: float) -> Excess | None:
        """anvil_clnt_mail: count a MAIL FROM; over smtpd_client_message_rate_limit, the excess."""
        rate = self._rate("mail", address, now)
        return Excess("Message delivery request rate limit exceeded", rate) if rate > self.message_rate_limit else None

    def rcpt(self, address: str, now: float) -> Excess | None:
        """anvil_clnt_rcpt: count a RCPT TO; over smtpd_client_recipient_rate_limit, the excess."""
        rate = self._rate("rcpt", address, now)
        return Excess("Recipient address rate limit exceeded", rate) if rate > self.recipient_rate_limit else None

    def _rate(self, kind: str, address: str, now: float) -> int:
        """Events of this kind from this client in the last anvil_rate_time_unit, this one included."""
        table = self._events[kind]
        for other in [a for a, times in table.items() if times[-1] <= now - self.rate_unit]:
            del table[other]  # forget idle clients, so memory follows the clients of the last period
        arrivals = table.setdefault(address, deque())
        arrivals.append(now)
        while arrivals[0] <= now - self.rate_unit:
            arrivals.popleft()
        return len(arrivals)
