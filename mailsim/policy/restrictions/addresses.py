"""Sender and recipient restrictions: relay control, address syntax, DNS, recipient tables, logins.

permit_auth_destination (the heart of relay control, smtpd_check.c): the recipient is resolved as
trivial-rewrite would; a result with routing operators left in its local part (ROUTED) is never an
authorised destination unless allow_untrusted_routing; otherwise a final destination (local, virtual
alias, virtual mailbox class) or a relay_domains destination is. reject_unauth_destination refuses the
rest with ``relay_domains_reject_code`` (554 5.7.1 ``<rcpt>: Relay access denied``);
defer_unauth_destination with that code minus 100 (454 4.7.1).

permit_mx_backup (smtpd_check.c permit_mx_backup, i_am_mx, has_my_addr, permit_mx_primary,
all_auth_mx_addr): an authorised destination is OK as above (a routed address is not); else, for a
non-literal domain, the MX records are sorted by preference and split into the primaries (the best
preference) and the backups. OK only when this host is not a primary but is a backup (an MX host name in
mydestination, or one of its addresses in inet_interfaces/proxy_interfaces), and - when
permit_mx_backup_networks is set - every address of every primary matches that list. No MX (NXDOMAIN,
NODATA, null MX, malformed) is DUNNO; a temporary MX lookup failure, or an MX host whose addresses cannot
be looked up, is a defer_if_reject (450 4.4.4), so a later reject becomes that deferral.

Not modelled: reject_unverified_recipient and reject_unverified_sender (address verification probes)
answer DUNNO with a note.
"""

from __future__ import annotations

from collections.abc import Callable

from mailsim.policy.access import dsn_fix, dsn_split, mail_keys
from mailsim.policy.lookup import Lookup
from mailsim.policy.restrictions.checks import access_lookup, not_modelled
from mailsim.policy.restrictions.engine import DUNNO, OK, Check, defer_if, defer_if_permit, reject
from mailsim.policy.restrictions.model import RECIPIENT, SENDER, AddressLookup, DnsStatus
from mailsim.policy.restrictions.settings import NetworkList
from mailsim.policy.rewrite.address import valid_hostname
from mailsim.policy.rewrite.maps import mail_addr_find
from mailsim.policy.rewrite.resolve import AddressClass, resolve_local


def permit_auth_destination_status(check: Check, recipient: str) -> int:
    """OK for a destination this host may accept mail for from anyone, else DUNNO."""
    resolved = check.resolve(recipient)
    if "@" not in resolved.recipient:
        return OK
    if not check.settings.allow_untrusted_routing and resolved.routed:
        return DUNNO
    if resolved.final or resolved.address_class is AddressClass.RELAY:
        return OK
    return DUNNO


def permit_auth_destination(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    recipient = check.ctx.recipient
    return permit_auth_destination_status(check, recipient) if recipient else DUNNO


def _unauth_destination(check: Check, code: int, dsn: str) -> int:
    recipient = check.ctx.recipient
    if recipient is None or permit_auth_destination_status(check, recipient) == OK:
        return DUNNO
    return reject(check, code, dsn, f"<{recipient}>: Relay access denied")


def reject_unauth_destination(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return _unauth_destination(check, check.settings.code("relay_domains_reject_code"), "5.7.1")


def defer_unauth_destination(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return _unauth_destination(check, check.settings.code("relay_domains_reject_code") - 100, "4.7.1")


def check_relay_domains(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    """The pre-2.0 restriction: client in relay_domains, or an authorised destination, else reject."""
    recipient = check.ctx.recipient
    if recipient is None:
        return DUNNO
    if check.rewrite.relay_domains.match(check.ctx.client_name):
        return OK
    if permit_auth_destination_status(check, recipient) == OK:
        return OK
    code = check.settings.code("relay_domains_reject_code")
    return reject(check, code, "5.7.1", f"<{recipient}>: {RECIPIENT} rejected: Relay access denied")


_GAI_ERRORS = {  # has_my_addr() asks getaddrinfo(3); these are glibc's gai_strerror() texts
    DnsStatus.TEMPFAIL: "Temporary failure in name resolution",
    DnsStatus.NO_DATA: "No address associated with hostname",
    DnsStatus.MALFORMED: "Non-recoverable failure in name resolution",
}
_DNS_ERRORS = {  # all_auth_mx_addr() asks the DNS library; dns_strerror() texts for its h_errno
    DnsStatus.TEMPFAIL: "Host not found, try again",
    DnsStatus.NO_DATA: "Host found but no data record of requested type",
    DnsStatus.MALFORMED: "Non-recoverable error",
}


def permit_mx_backup(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    """OK for an authorised destination, or a domain this host is a backup (not a primary) MX for."""
    recipient = check.ctx.recipient
    if not recipient:
        return DUNNO
    resolved = check.resolve(recipient)
    if permit_auth_destination_status(check, recipient) == OK:
        return OK
    domain = resolved.recipient.rpartition("@")[2]
    routed = resolved.routed and not check.settings.allow_untrusted_routing
    if routed or (domain.startswith("[") and domain.endswith("]")):
        return DUNNO
    mx_records, lookup = check.world.mx_records, check.world.host_addresses
    if mx_records is None or lookup is None:
        return not_modelled(check, arg, name, cls, acl)
    answer = mx_records(_ascii(domain))
    if not isinstance(answer, tuple) or not answer:
        if answer is DnsStatus.TEMPFAIL:
            text = f"<{recipient}>: {RECIPIENT} rejected: Unable to look up mail exchanger information: "
            defer_if(check, False, 450, "4.4.4", text + _DNS_ERRORS[DnsStatus.TEMPFAIL])
        return DUNNO
    ordered = sorted(answer, key=lambda record: record[0])  # dns_rr_sort(): by preference only
    primaries = [host for preference, host in ordered if preference == ordered[0][0]]
    backups = [host for preference, host in ordered if preference != ordered[0][0]]
    if _i_am_mx(check, lookup, primaries, recipient):
        return DUNNO  # a primary MX: not a backup (Postfix 2.3 and later)
    if not backups or not _i_am_mx(check, lookup, backups, recipient):
        return DUNNO
    networks = check.settings.mx_backup_networks
    if networks is not None and not all(_all_auth_mx_addr(check, lookup, networks, h, recipient) for h in primaries):
        return DUNNO
    return OK


def _ascii(domain: str) -> str:
    """The A-label form smtpd looks up (midna_domain_to_ascii); unchanged when it cannot be converted."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def _i_am_mx(check: Check, lookup: AddressLookup, hosts: list[str], recipient: str) -> bool:
    """i_am_mx(): an MX host name that is local (mydestination), else one with one of our addresses."""
    if any(resolve_local(host, check.rewrite) for host in hosts):
        return True
    return any(_has_my_addr(check, lookup, host, recipient) for host in hosts)


def _has_my_addr(check: Check, lookup: AddressLookup, host: str, recipient: str) -> bool:
    """has_my_addr(): the host's addresses against inet_interfaces and proxy_interfaces; defer if unknown."""
    answer = lookup(host)
    if not isinstance(answer, tuple):
        why = _GAI_ERRORS.get(answer, "Name or service not known")
        text = f"<{recipient}>: {RECIPIENT} rejected: Unable to look up mail exchanger host {host}: {why}"
        defer_if(check, False, 450, "4.4.4", text)
        return False
    return any(address in check.rewrite.local_interfaces for address in answer)


def _all_auth_mx_addr(check: Check, lookup: AddressLookup, networks: NetworkList, host: str, recipient: str) -> bool:
    """all_auth_mx_addr(): every address of a primary MX host must match permit_mx_backup_networks."""
    answer = lookup(host)
    if not isinstance(answer, tuple):
        why = _DNS_ERRORS.get(answer, "Host not found")
        text = f"<{recipient}>: {RECIPIENT} rejected: Unable to look up host {host} as mail exchanger: {why}"
        defer_if(check, False, 450, "4.4.4", text)
        return False
    return all(networks.match(host, address) for address in answer)


def _mail_access(check: Check, spec: str, address: str, cls: str, acl: str | None) -> int:
    """check_mail_access(): full, bare, domain (and parents), user+ext@, user@; routed OK → DUNNO."""
    resolved = check.resolve(address)
    if "@" not in resolved.recipient:
        return DUNNO
    keys = mail_keys(
        resolved.recipient, address, check.settings.recipient_delimiter, True, check.settings.access_parent_style
    )
    status = access_lookup(check, spec, keys, address, cls, acl)
    suspicious = not check.settings.allow_untrusted_routing and resolved.routed and cls == RECIPIENT
    return DUNNO if status == OK and suspicious else status


def check_sender_access(check: Check, spec: str | None, name: str, cls: str, acl: str | None) -> int:
    sender = check.ctx.sender
    if sender is None:
        return DUNNO
    if sender == "":
        return access_lookup(check, str(spec), [(check.settings.null_access_key, False)], sender, SENDER, acl)
    return _mail_access(check, str(spec), sender, SENDER, acl)


def check_recipient_access(check: Check, spec: str | None, name: str, cls: str, acl: str | None) -> int:
    recipient = check.ctx.recipient
    return _mail_access(check, str(spec), recipient, RECIPIENT, acl) if recipient else DUNNO


def check_sasl_access(check: Check, spec: str | None, name: str, cls: str, acl: str | None) -> int:
    user = check.ctx.sasl_username
    if not user:
        return DUNNO
    return access_lookup(check, str(spec), [(user, False)], user, "SASL login name", acl)


def check_etrn_access(check: Check, spec: str | None, name: str, cls: str, acl: str | None) -> int:
    return access_lookup(check, str(spec), [(name, False)], name, cls, acl)


def _non_fqdn(check: Check, address: str | None, cls: str) -> int:
    if not address:
        return DUNNO
    domain = address.rpartition("@")[2] if "@" in address else ""
    if domain.startswith("[") and domain.endswith("]"):
        return DUNNO
    test = domain[:-1] if len(domain) > 1 and domain.endswith(".") and domain[-2] != "." else domain
    if test and valid_hostname(test) and "." in test:
        return DUNNO
    code = check.settings.code("non_fqdn_reject_code")
    return reject(check, code, "4.5.2", f"<{address}>: {cls} rejected: need fully-qualified address")


def reject_non_fqdn_sender(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return _non_fqdn(check, check.ctx.sender, SENDER)


def reject_non_fqdn_recipient(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return _non_fqdn(check, check.ctx.recipient, RECIPIENT)


def _unknown_address(check: Check, address: str | None, cls: str) -> int:
    """reject_unknown_address(): a non-final, non-literal domain must have MX or A/AAAA records."""
    if not address:
        return DUNNO
    resolved = check.resolve(address)
    domain = resolved.recipient.rpartition("@")[2]
    if "@" not in resolved.recipient or resolved.final or domain.startswith("["):
        return DUNNO
    if check.world.mail_domain is None:
        return not_modelled(check, None, address, cls, None)
    status = check.world.mail_domain(domain)
    sender = cls == SENDER
    if status is DnsStatus.OK:
        return DUNNO
    if status is DnsStatus.NULL_MX:
        code, dsn = (550, "5.7.27") if sender else (556, "5.1.10")
        return reject(check, code, dsn, f"<{address}>: {cls} rejected: Domain {domain} does not accept mail (nullMX)")
    dsn = "4.1.8" if sender else "4.1.2"
    if status is DnsStatus.TEMPFAIL:
        text = f"<{address}>: {cls} rejected: Domain not found"
        return defer_if_permit(check, check.settings.address_tempfail_defer_if_permit, 450, dsn, text)
    why = "Malformed DNS server reply" if status is DnsStatus.MALFORMED else "Domain not found"
    return reject(check, check.settings.code("unknown_address_reject_code"), dsn, f"<{address}>: {cls} rejected: {why}")


def reject_unknown_sender_domain(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return _unknown_address(check, check.ctx.sender, SENDER)


def reject_unknown_recipient_domain(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return _unknown_address(check, check.ctx.recipient, RECIPIENT)


def reject_unlisted_sender(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    sender = check.ctx.sender
    if not sender or check.sender_checked:
        return DUNNO
    check.sender_checked = not check.warn_if_reject
    return rcpt_maps(check, sender, SENDER)


def reject_unlisted_recipient(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    recipient = check.ctx.recipient
    if not recipient or check.rcpt_checked:
        return DUNNO
    check.rcpt_checked = not check.warn_if_reject
    return rcpt_maps(check, recipient, RECIPIENT)


class _Users:
    """local_recipient_maps' passwd.byname: the host's users (keys without a domain only)."""

    pattern = False

    def __init__(self, known: Callable[[str], bool]) -> None:
        self.known = known

    def lookup(self, key: str) -> str | None:
        return "" if "@" not in key and self.known(key) else None


def rcpt_maps(check: Check, address: str, cls: str) -> int:
    """check_rcpt_maps(): is the address known in its class's recipient table?"""
    rewrite, settings = check.rewrite, check.settings
    resolved = check.resolve(address)
    for maps in (rewrite.recipient_canonical_maps, rewrite.canonical_maps, rewrite.virtual_alias_maps):
        if maps and mail_addr_find(maps, resolved.recipient, rewrite, propagate=False) is not None:
            return DUNNO
    unknown = "5.1.0" if cls == SENDER else "5.1.1"
    if resolved.transport == "error":
        dsn, text = dsn_split(unknown, resolved.nexthop)
        alias = resolved.address_class is AddressClass.VIRTUAL_ALIAS
        code = settings.code("unknown_virtual_alias_reject_code") if alias else 550
        return reject(check, code, dsn_fix(dsn, cls), f"<{address}>: {cls} rejected: {text}")
    known = _class_known(check, resolved.recipient, resolved.address_class)
    if known is None or known:
        return DUNNO
    code_name, table = {
        AddressClass.LOCAL: ("unknown_local_recipient_reject_code", "local recipient table"),
        AddressClass.VIRTUAL_MAILBOX: ("unknown_virtual_mailbox_reject_code", "virtual mailbox table"),
        AddressClass.RELAY: ("unknown_relay_recipient_reject_code", "relay recipient table"),
    }[resolved.address_class]
    shown = f" in {table}" if settings.show_unknown_table else ""
    return reject(check, settings.code(code_name), unknown, f"<{address}>: {cls} rejected: User unknown{shown}")


def _class_known(check: Check, recipient: str, klass: AddressClass) -> bool | None:
    """True/False when the class has a recipient table, None when nothing can be said."""
    settings, rewrite = check.settings, check.rewrite
    if klass is AddressClass.VIRTUAL_MAILBOX and settings.virtual_mailbox_maps:
        return mail_addr_find(settings.virtual_mailbox_maps, recipient, rewrite, propagate=False) is not None
    if klass is AddressClass.RELAY and settings.relay_recipient_maps:
        return mail_addr_find(settings.relay_recipient_maps, recipient, rewrite, propagate=False) is not None
    if klass is not AddressClass.LOCAL or not settings.local_recipient_check:
        return None
    local = recipient.rpartition("@")[0].lower()
    if any(local == special.lower() for special in (settings.double_bounce_sender, "postmaster", "mailer-daemon")):
        return None
    tables: list[Lookup] = list(settings.local_recipient_maps)
    if settings.local_recipient_passwd:
        if check.world.local_users is None:
            check.note("local_recipient_maps: no host users given to policy; recipient accepted")
            return None
        tables.insert(0, _Users(check.world.local_users))
    return mail_addr_find(tables, recipient, rewrite, propagate=False) is not None


def _login_owners(check: Check, sender: str) -> tuple[str, ...] | None:
    resolved = check.resolve(sender)
    return mail_addr_find(check.settings.sender_login_maps, resolved.recipient, check.rewrite, propagate=False)


def reject_authenticated_mismatch(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return _auth_mismatch(check, allow_unknown=False)


def reject_known_mismatch(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    if check.ctx.sasl_username:
        return _auth_mismatch(check, allow_unknown=True)
    return reject_unauthenticated_mismatch(check, arg, name, cls, acl)


def _auth_mismatch(check: Check, allow_unknown: bool) -> int:
    """The logged-in user must own the sender address (smtpd_sender_login_maps)."""
    sender, user = check.ctx.sender, check.ctx.sasl_username
    if not sender or not user or not check.settings.sender_login_maps:
        return DUNNO
    owners = _login_owners(check, sender)
    if owners is None and allow_unknown:
        return DUNNO
    names = {name.lower() for owner in owners or () for name in owner.replace(",", " ").split()}
    if user.lower() in names:
        return DUNNO
    return reject(check, 553, "5.7.1", f"<{sender}>: Sender address rejected: not owned by user {user}")


def reject_unauthenticated_mismatch(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    sender = check.ctx.sender
    if not sender or check.ctx.sasl_username or not check.settings.sender_login_maps:
        return DUNNO
    if _login_owners(check, sender) is None:
        return DUNNO
    return reject(check, 553, "5.7.1", f"<{sender}>: Sender address rejected: not logged in")


def reject_multi_recipient_bounce(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    ctx = check.ctx
    limit = 1 if check.where.value == "DATA" else 0
    if ctx.sender == "" and ctx.recipient_count > limit:
        code = check.settings.code("multi_recipient_bounce_reject_code")
        return reject(check, code, "5.5.3", f"<{name}>: {cls} rejected: Multi-recipient bounce")
    return DUNNO
