"""The records smtpd's restriction checks read and return: stage, session context, world, verdict.

Everything the checks need from outside is passed in: what smtpd knows about the session
(:class:`SmtpdContext`), and a :class:`PolicyWorld` of callables that answer DNS questions (from the
simulated resolver), local-user questions (the host's passwd) and policy-delegation requests
(check_policy_service). Nothing here reads a clock, a socket or a file.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mailsim.mail.reply import Reply


class Stage(enum.Enum):
    """Where in the SMTP dialogue a check runs (Postfix's ``state->where``)."""

    CONNECT = "CONNECT"
    HELO = "EHLO"
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    END_OF_DATA = "END-OF-MESSAGE"
    ETRN = "ETRN"


class DnsStatus(enum.Enum):
    """What a DNS question came back with, as far as smtpd's checks care."""

    OK = "ok"
    NOT_FOUND = "notfound"
    TEMPFAIL = "tempfail"
    MALFORMED = "malformed"
    NULL_MX = "nullmx"
    NO_DATA = "nodata"


@dataclass(frozen=True, slots=True)
class DnsblAnswer:
    """The A records (and TXT text) a DNSBL gave for a query name."""

    addresses: tuple[str, ...]
    txt: str | None = None


DnsblLookup = Callable[[str], "DnsblAnswer | DnsStatus | None"]
"""query name → answer, None for NXDOMAIN, DnsStatus.TEMPFAIL when the lookup failed."""

MxLookup = Callable[[str], "tuple[tuple[int, str], ...] | DnsStatus"]
"""domain → its MX records as (preference, host) in DNS order; NOT_FOUND, NULL_MX, TEMPFAIL or MALFORMED."""

AddressLookup = Callable[[str], "tuple[str, ...] | DnsStatus"]
"""host name → its addresses (A/AAAA as inet_protocols allows); NOT_FOUND, NO_DATA, TEMPFAIL or MALFORMED."""

PolicyService = Callable[[Mapping[str, str]], str]
"""SMTPD_POLICY_README: the request attributes → the ``action=`` value of the reply."""


@dataclass(frozen=True, slots=True)
class PolicyWorld:
    """The outside answers restrictions may need; a missing one means "not modelled" (dunno)."""

    mail_domain: Callable[[str], DnsStatus] | None = None
    host_name: Callable[[str], DnsStatus] | None = None
    dnsbl: DnsblLookup | None = None
    mx_records: MxLookup | None = None
    host_addresses: AddressLookup | None = None
    local_users: Callable[[str], bool] | None = None
    policy_services: Mapping[str, PolicyService] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SmtpdContext:
    """What smtpd knows when it checks: client, HELO, sender, recipient, login (internal-form addresses)."""

    client_address: str
    client_name: str = "unknown"
    reverse_client_name: str | None = None
    client_name_status: str = "ok"
    helo_name: str | None = None
    sender: str | None = None
    recipient: str | None = None
    recipient_count: int = 0
    sasl_username: str | None = None
    sasl_method: str | None = None
    encrypted: bool = False
    protocol: str = "ESMTP"
    queue_id: str | None = None
    size: int = 0
    instance: str = ""
    defer_if_permit: Reply | None = None

    @property
    def namaddr(self) -> str:
        """``name[address]``, how Postfix names a client in replies and logs."""
        return f"{self.client_name}[{self.client_address}]"

    @property
    def reverse_name(self) -> str:
        return self.reverse_client_name if self.reverse_client_name is not None else self.client_name


class ActionKind(enum.Enum):
    """Side effects an access table, a policy server or a restriction can ask for."""

    HOLD = "hold"
    DISCARD = "discard"
    PREPEND = "prepend"
    REDIRECT = "redirect"
    FILTER = "filter"
    BCC = "bcc"


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    value: str = ""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A line smtpd would log: ``reject``, ``reject_warning``, ``warn``, ``hold``, ... or ``note``."""

    what: str
    text: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """A stage's outcome: the reply when refused (None: go on), side effects, log lines."""

    reply: Reply | None = None
    actions: tuple[Action, ...] = ()
    log: tuple[LogEntry, ...] = ()
    defer_if_permit: Reply | None = None

    @property
    def accepted(self) -> bool:
        return self.reply is None

    @property
    def line(self) -> str:
        """The reply as one wire line, or ``accept``."""
        return str(self.reply) if self.reply is not None else "accept"

    def has(self, kind: ActionKind) -> bool:
        return any(action.kind is kind for action in self.actions)


REPLY_CLASS = {
    Stage.CONNECT: "Client host",
    Stage.HELO: "Helo command",
    Stage.MAIL: "Sender address",
    Stage.RCPT: "Recipient address",
    Stage.DATA: "Data command",
    Stage.END_OF_DATA: "End-of-data",
    Stage.ETRN: "Etrn command",
}
CLIENT, REV_CLIENT, HELO = "Client host", "Unverified Client host", "Helo command"
SENDER, RECIPIENT = "Sender address", "Recipient address"
