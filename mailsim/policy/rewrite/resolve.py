"""trivial-rewrite's resolver: an address → (transport, nexthop, recipient, address class, flags).

Theory of operation (resolve.c). The address is tokenised with its local part quoted when needed.
Local domains (mydestination, and ``[addr]`` literals of inet_interfaces/proxy_interfaces) are stripped
from the right one by one; after each strip, ``site!user`` and ``user%site`` in the remaining local part
are rewritten to ``user@site`` (swap_bangpath, allow_percent_hack) and the loop goes on. A quoted local
part holding ``@ % !`` is opened up when resolve_dequoted_address is set, so ``"user@remote"@local`` is
resolved as ``user@remote``. What is left is either a remote ``user@domain`` or a local user, who gets the
last stripped local domain (or ``$myhostname``) back. Routing operators left in the local part of the
result set the ROUTED flag, which smtpd's relay check refuses from untrusted clients.

The address class decides the default transport and nexthop (ADDRESS_CLASS_README):
virtual alias domains → ``error:5.1.1 User unknown in virtual alias table`` (only virtual_alias_maps
rescues such a recipient); virtual mailbox domains → $virtual_transport; relay_domains → $relay_transport;
everything else → $default_transport. For the relay and default classes $relayhost replaces the domain as
nexthop. An explicit ``transport:nexthop`` in a main.cf transport parameter overrides the nexthop, and
transport_maps (transport(5)) may override both, except for the virtual alias class. A domain listed in
two class lists draws Postfix's "do not list domain X in BOTH a and b" warning; the first class in the
order above wins.

Parameters read: see :mod:`mailsim.policy.rewrite.settings`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mailsim.policy.lookup import maps_find, parent_domains, strip_extension
from mailsim.policy.rewrite.address import (
    canonicalize,
    is_routed,
    literal_address,
    needs_quote,
    split_address,
    strip_trailing_dot,
    valid_hostaddr,
    valid_hostname,
)
from mailsim.policy.rewrite.settings import RewriteSettings


class AddressClass(enum.Enum):
    """ADDRESS_CLASS_README's classes."""

    LOCAL = "local"
    VIRTUAL_ALIAS = "virtual_alias"
    VIRTUAL_MAILBOX = "virtual_mailbox"
    RELAY = "relay"
    DEFAULT = "default"

    @property
    def final(self) -> bool:
        """RESOLVE_CLASS_FINAL: this host is the final destination."""
        return self in (AddressClass.LOCAL, AddressClass.VIRTUAL_ALIAS, AddressClass.VIRTUAL_MAILBOX)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What trivial-rewrite answers for one recipient."""

    transport: str
    nexthop: str
    recipient: str
    address_class: AddressClass
    routed: bool = False
    error: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def domain(self) -> str:
        return self.recipient.rpartition("@")[2]

    @property
    def final(self) -> bool:
        return self.address_class.final


@dataclass(frozen=True, slots=True)
class NextHop:
    """A nexthop as the smtp client reads it: ``[host]:port`` means no MX lookup."""

    host: str
    port: int | None
    mx_lookup: bool


def parse_nexthop(nexthop: str, default_port: int | None = None) -> NextHop:
    """``[mail.example]`` → host without MX lookup; ``example.com:2525`` → MX lookup, port 2525."""
    text = nexthop.strip()
    port = default_port
    if text.startswith("["):
        close = text.find("]")
        host, rest = text[1:close], text[close + 1 :]
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
        return NextHop(host, port, mx_lookup=False)
    host, colon, rest = text.rpartition(":")
    if colon and rest.isdigit() and host and ":" not in host:
        return NextHop(host, int(rest), mx_lookup=True)
    return NextHop(text, port, mx_lookup=True)


def resolve_local(domain: str, settings: RewriteSettings) -> bool:
    """resolve_local(3): the domain is in mydestination or is a literal of one of our addresses."""
    name = strip_trailing_dot(domain.lower())
    if not name:
        return False
    if settings.mydestination.match(name):
        return True
    literal = literal_address(name)
    return literal is not None and literal in settings.local_interfaces


def address_class(domain: str, settings: RewriteSettings) -> tuple[AddressClass, tuple[str, ...]]:
    """The class of a (non-local) recipient domain, with Postfix's warnings for double listings."""
    if resolve_local(domain, settings):
        return AddressClass.LOCAL, _double_listing(domain, settings, "mydestination")
    lists = (
        (AddressClass.VIRTUAL_ALIAS, "virtual_alias_domains", settings.virtual_alias_domains),
        (AddressClass.VIRTUAL_MAILBOX, "virtual_mailbox_domains", settings.virtual_mailbox_domains),
        (AddressClass.RELAY, "relay_domains", settings.relay_domains),
    )
    for klass, name, domains in lists:
        if domains.match(domain):
            return klass, _double_listing(domain, settings, name)
    return AddressClass.DEFAULT, ()


def _double_listing(domain: str, settings: RewriteSettings, first: str) -> tuple[str, ...]:
    """ "do not list domain X in BOTH a and b" for every later list that also names the domain."""
    if not settings.helpful_warnings:
        return ()
    order = ("mydestination", "virtual_alias_domains", "virtual_mailbox_domains", "relay_domains")
    lists = {
        "virtual_alias_domains": settings.virtual_alias_domains,
        "virtual_mailbox_domains": settings.virtual_mailbox_domains,
        "relay_domains": settings.relay_domains,
    }
    later = order[order.index(first) + 1 :]
    if first == "mydestination":
        later = ("virtual_alias_domains", "virtual_mailbox_domains")  # resolve.c does not nag about relay here
    return tuple(
        f"do not list domain {domain} in BOTH {first} and {name}" for name in later if lists[name].match(domain)
    )


def _canon(address: str, settings: RewriteSettings) -> str:
    return canonicalize(
        address,
        myorigin=settings.myorigin,
        mydomain=settings.mydomain,
        swap_bangpath=settings.swap_bangpath,
        percent_hack=settings.allow_percent_hack,
        append_at_myorigin=settings.append_at_myorigin,
        append_dot_mydomain=settings.append_dot_mydomain,
    )


def rewrite_address(address: str, settings: RewriteSettings) -> str:
    """trivial-rewrite's "local" rewrite request: the canonical form of an internal address."""
    return _canon(address, settings)


def _strip_local(address: str, settings: RewriteSettings) -> tuple[str, str | None, str | None]:
    """The resolver's main loop: (local part, remote domain or None, last stripped local domain)."""
    local, domain = split_address(address)
    saved: str | None = None
    for _ in range(len(address) + 100):
        if domain is not None:
            domain = strip_trailing_dot(domain)
            if settings.resolve_null_domain and domain == "":
                domain = None
        if domain is not None:
            if domain and not resolve_local(domain, settings):
                return local, domain, saved
            saved, domain = domain, None  # an empty domain is stripped too, and fails the syntax check later
        step = _next_step(local, saved, settings)
        if step is None:
            return local, None, saved
        text, rewrite = step
        local, domain = split_address(_canon(text, settings) if rewrite else text)
    return local, domain, saved


def _next_step(local: str, saved: str | None, settings: RewriteSettings) -> tuple[str, bool] | None:
    """What the loop does next with a bare local part (text, canonicalise it?), or None when done."""
    visible = not needs_quote(local)
    if visible and ((settings.swap_bangpath and "!" in local) or (settings.allow_percent_hack and "%" in local)):
        return local, True
    if settings.resolve_dequoted_address and not visible:
        cracked = _crack_quoted(local, settings)
        if cracked is not None:
            return cracked, True
    if local == "":
        return settings.empty_address_recipient, False
    if saved is None:
        return f"{local}@{settings.myhostname}", False
    return None


def _crack_quoted(local: str, settings: RewriteSettings) -> str | None:
    """Open a quoted local part that hides a routing operator: ``@`` first, then ``%``, then ``!``."""
    if "@" in local:
        return local
    if settings.allow_percent_hack and "%" in local:
        head, _, tail = local.rpartition("%")
        return f"{head}@{tail}"
    if settings.swap_bangpath and "!" in local:
        return local
    return None


def resolve(address: str, settings: RewriteSettings, sender: str = "") -> Resolution:
    """resolve_clnt_query(3) for an internal-form address."""
    local, domain, saved = _strip_local(address, settings)
    last_local = saved if saved is not None else settings.myhostname
    recipient = f"{local}@{last_local if domain is None else domain}"
    rcpt_domain = recipient.rpartition("@")[2]
    rcpt_domain, recipient, is_local, error = _check_domain(recipient, rcpt_domain, domain is None, settings)
    if error:
        return Resolution("error", "", recipient, AddressClass.DEFAULT, error=True)
    routed = is_routed(recipient, rcpt_domain)
    if is_local:
        klass, warnings = AddressClass.LOCAL, _double_listing(rcpt_domain, settings, "mydestination")
    else:
        klass, warnings = address_class(rcpt_domain, settings)
    transport, nexthop = _class_route(klass, rcpt_domain, settings)
    if settings.transport_maps and klass is not AddressClass.VIRTUAL_ALIAS:
        transport, nexthop = transport_lookup(recipient, rcpt_domain, transport, nexthop, settings)
    transport, nexthop = _relocated(recipient, transport, nexthop, settings)
    bad_user = not settings.allow_min_user and recipient.startswith("-")
    return Resolution(transport, nexthop, recipient, klass, routed, bad_user, warnings)


def _check_domain(
    recipient: str, domain: str, is_local: bool, settings: RewriteSettings
) -> tuple[str, str, bool, bool]:
    """Syntax of the result's domain: literal, hostname, or (resolve_numeric_domain) a bare address."""
    if domain.startswith("["):
        return domain, recipient, is_local, literal_address(domain) is None
    if valid_hostname(domain):
        return domain, recipient, is_local, False
    if settings.resolve_numeric_domain and valid_hostaddr(domain):
        literal = f"[{domain}]"
        recipient = recipient[: -len(domain)] + literal
        return literal, recipient, is_local or resolve_local(literal, settings), False
    return domain, recipient, is_local, True


def _class_route(klass: AddressClass, domain: str, settings: RewriteSettings) -> tuple[str, str]:
    """The class's default (transport, nexthop), before transport_maps."""
    if klass is AddressClass.VIRTUAL_ALIAS:
        table = " in virtual alias table" if settings.show_user_unknown_table_name else ""
        return "error", f"5.1.1 User unknown{table}"
    if klass is AddressClass.LOCAL:
        channel, nexthop = settings.local_transport, domain
    elif klass is AddressClass.VIRTUAL_MAILBOX:
        channel, nexthop = settings.virtual_transport, domain
    else:
        channel = settings.relay_transport if klass is AddressClass.RELAY else settings.default_transport
        nexthop = settings.relayhost or domain
    transport, colon, explicit = channel.partition(":")
    return transport, explicit if colon and explicit else nexthop


def transport_lookup(
    recipient: str, domain: str, transport: str, nexthop: str, settings: RewriteSettings
) -> tuple[str, str]:
    """transport(5): user+ext@domain, user@domain, domain, parent domains, then ``*``."""
    tables = settings.transport_maps
    keys: list[tuple[str, bool]] = [(recipient, False)]
    stripped = strip_extension(recipient, settings.recipient_delimiter)
    if stripped is not None:
        keys.append((stripped, True))
    keys.append((domain, True))
    keys.extend((parent, True) for parent in parent_domains(domain, settings.transport_parent_style))
    keys.append(("*", False))
    for key, partial in keys:
        value = maps_find(tables, key, partial)
        if value is not None:
            return _transport_entry(value, domain, transport, nexthop)
    return transport, nexthop


def _transport_entry(value: str, domain: str, transport: str, nexthop: str) -> tuple[str, str]:
    """update_entry(): ``:`` keeps both, ``t:`` resets nexthop to the domain, ``:h``/``t:h`` set it."""
    new_transport, _, new_nexthop = value.strip().partition(":")
    if not new_transport:
        return transport, new_nexthop or nexthop
    if new_nexthop:
        return new_transport, new_nexthop
    if new_transport == "error":
        return new_transport, "Address is undeliverable"
    return new_transport, domain


def _relocated(recipient: str, transport: str, nexthop: str, settings: RewriteSettings) -> tuple[str, str]:
    """relocated(5): mail for a moved user bounces with the new address."""
    if not settings.relocated_maps:
        return transport, nexthop
    from mailsim.policy.rewrite.maps import mail_addr_find

    found = mail_addr_find(settings.relocated_maps, recipient, settings, propagate=False)
    if found is None:
        return transport, nexthop
    return "error", f"5.1.6 User has moved to {found[0]}"
