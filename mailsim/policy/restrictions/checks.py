"""The generic, client and HELO restrictions, DNSBLs and policy delegation (smtpd_check.c).

Each function has the signature ``(check, argument, reply_name, reply_class, default_access_check)`` and
returns DUNNO, OK or REJECT; :data:`CLIENT_HELO` maps restriction names to (argument count, function).

Not modelled (answer DUNNO and log a note): permit_tls_clientcerts, permit_tls_all_clientcerts,
check_ccert_access, check_*_mx_access, check_*_ns_access, reject_unauth_pipelining, sleep.
"""

from __future__ import annotations

import re

from mailsim.policy.access import addr_keys, domain_keys, dsn_fix, dsn_split, find
from mailsim.policy.lookup import maps_find
from mailsim.policy.restrictions.engine import (
    DUNNO,
    OK,
    Check,
    Restriction,
    defer_if,
    defer_if_permit,
    reject,
    server_error,
    table_result,
)
from mailsim.policy.restrictions.model import CLIENT, HELO, REV_CLIENT, DnsblAnswer, DnsStatus
from mailsim.policy.rewrite.address import literal_address, valid_hostaddr, valid_hostname

_MACRO = re.compile(r"\$(\w+)|\$\{(\w+)(?:([?:])([^}]*))?\}")


def permit(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return OK


def reject_all(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return reject(check, check.settings.code("reject_code"), "5.7.1", f"<{name}>: {cls} rejected: Access denied")


def defer_all(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return reject(check, check.settings.code("defer_code"), "4.3.2", f"<{name}>: {cls} rejected: Try again later")


def defer_if_permit_now(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return defer_if_permit(check, True, 450, "4.7.0", f"<{name}>: {cls} rejected: defer_if_permit requested")


def defer_if_reject_now(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return defer_if(check, False, 450, "4.7.0", f"<{name}>: {cls} rejected: defer_if_reject requested")


def not_modelled(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    check.note("restriction not modelled by mailsim: treated as dunno")
    return DUNNO


def permit_mynetworks(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    ctx = check.ctx
    return OK if check.settings.mynetworks.match(ctx.client_name, ctx.client_address) else DUNNO


def permit_inet_interfaces(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return OK if check.ctx.client_address in check.rewrite.local_interfaces else DUNNO


def permit_sasl_authenticated(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    return OK if check.ctx.sasl_username else DUNNO


def reject_plaintext_session(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    if check.ctx.encrypted:
        return DUNNO
    return reject(check, check.settings.code("plaintext_reject_code"), "4.7.1", "Session encryption is required")


def reject_unknown_client(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    """reject_unknown_client_hostname: no name for the address, or forward/reverse mismatch."""
    status = check.ctx.client_name_status
    if status == "ok" and check.ctx.client_name != "unknown":
        return DUNNO
    code = check.settings.code("unknown_client_reject_code") if status != "temp" else 450
    text = f"Client host rejected: cannot find your hostname, [{check.ctx.client_address}]"
    return reject(check, code, "4.7.1", text)


def reject_unknown_reverse(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    if check.ctx.reverse_name != "unknown":
        return DUNNO
    text = f"Client host rejected: cannot find your reverse hostname, [{check.ctx.client_address}]"
    return reject(check, check.settings.code("unknown_client_reject_code"), "4.7.1", text)


def access_lookup(check: Check, spec: str, keys: list[tuple[str, bool]], name: str, cls: str, acl: str | None) -> int:
    """One access table, the first key it has decides (check_access/check_domain_access)."""
    from mailsim.policy.restrictions.stages import RESTRICTIONS

    table = check.settings.tables.get(spec)
    if table is None:
        raise server_error(check, f"unexpected dictionary: {spec}")
    found = find(table, keys)
    if found is None:
        return DUNNO
    return table_result(check, found[1], name, cls, acl, RESTRICTIONS)


def check_client_access(check: Check, spec: str | None, name: str, cls: str, acl: str | None) -> int:
    ctx, parent = check.ctx, check.settings.access_parent_style
    keys = domain_keys(ctx.client_name, parent) + addr_keys(ctx.client_address)
    return access_lookup(check, str(spec), keys, ctx.namaddr, CLIENT, acl)


def check_reverse_client_access(check: Check, spec: str | None, name: str, cls: str, acl: str | None) -> int:
    ctx, parent = check.ctx, check.settings.access_parent_style
    keys = domain_keys(ctx.reverse_name, parent) + addr_keys(ctx.client_address)
    status = access_lookup(check, str(spec), keys, ctx.namaddr, REV_CLIENT, acl)
    if status == OK:
        raise server_error(check, "check_reverse_client_access returns OK: not allowed, use DUNNO")
    return status


def check_helo_access(check: Check, spec: str | None, name: str, cls: str, acl: str | None) -> int:
    helo = check.ctx.helo_name
    if helo is None:
        return DUNNO
    return access_lookup(check, str(spec), domain_keys(helo, check.settings.access_parent_style), helo, HELO, acl)


def _truncate_dot(name: str) -> str:
    return name[:-1] if len(name) > 1 and name.endswith(".") and name[-2] != "." else name


def reject_invalid_helo(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    helo = check.ctx.helo_name
    if helo is None:
        return DUNNO
    if helo.startswith("["):
        return _invalid_hostaddr(check, helo)
    test = _truncate_dot(helo)
    if valid_hostname(test) or valid_hostaddr(test):
        return DUNNO
    code = check.settings.code("invalid_hostname_reject_code")
    return reject(check, code, "5.5.2", f"<{helo}>: {HELO} rejected: Invalid name")


def _invalid_hostaddr(check: Check, helo: str) -> int:
    if literal_address(helo) is not None:
        return DUNNO
    code = check.settings.code("invalid_hostname_reject_code")
    return reject(check, code, "5.5.2", f"<{helo}>: {HELO} rejected: invalid ip address")


def reject_non_fqdn_helo(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    helo = check.ctx.helo_name
    if helo is None:
        return DUNNO
    if helo.startswith("["):
        return _invalid_hostaddr(check, helo)
    test = _truncate_dot(helo)
    if valid_hostname(test) and "." in test:
        return DUNNO
    code = check.settings.code("non_fqdn_reject_code")
    return reject(check, code, "5.5.2", f"<{helo}>: {HELO} rejected: need fully-qualified hostname")


def reject_unknown_helo(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    helo = check.ctx.helo_name
    if helo is None:
        return DUNNO
    if helo.startswith("["):
        return _invalid_hostaddr(check, helo)
    if check.world.host_name is None:
        return not_modelled(check, arg, name, cls, acl)
    status = check.world.host_name(helo)
    if status is DnsStatus.OK or status is DnsStatus.NULL_MX:
        return DUNNO
    if status is DnsStatus.TEMPFAIL:
        text = f"<{helo}>: {HELO} rejected: Host not found"
        return defer_if_permit(check, check.settings.helo_tempfail_defer_if_permit, 450, "4.7.1", text)
    why = "Malformed DNS server reply" if status is DnsStatus.MALFORMED else "Host not found"
    code = check.settings.code("unknown_hostname_reject_code")
    return reject(check, code, "4.7.1", f"<{helo}>: {HELO} rejected: {why}")


def reject_rbl_client(check: Check, rbl: str | None, name: str, cls: str, acl: str | None) -> int:
    address = check.ctx.client_address
    if ":" in address:
        nibbles = "".join(f"{int(b, 16):04x}" for b in _ipv6_groups(address))
        query = ".".join(reversed(nibbles))
    else:
        query = ".".join(reversed(address.split(".")))
    return _dnsxl(check, str(rbl), query, address, CLIENT)


def _ipv6_groups(address: str) -> list[str]:
    import ipaddress

    return ipaddress.IPv6Address(address).exploded.split(":")


def rhsbl(what_of: str) -> Restriction:
    """reject_rhsbl_{client,reverse_client,helo,sender,recipient}: the domain in a DNS block list."""

    def restriction(check: Check, rbl: str | None, name: str, cls: str, acl: str | None) -> int:
        ctx = check.ctx
        what, reply_class = {
            "client": (ctx.client_name, CLIENT),
            "reverse_client": (ctx.reverse_name, REV_CLIENT),
            "helo": (ctx.helo_name, HELO),
            "sender": (ctx.sender, "Sender address"),
            "recipient": (ctx.recipient, "Recipient address"),
        }[what_of]
        if not what or what == "unknown":
            return DUNNO
        domain = what.rpartition("@")[2]
        tld = domain.rpartition(".")[2]
        if domain.startswith("[") or not valid_hostname(domain) or tld.isdigit():
            return DUNNO
        return _dnsxl(check, str(rbl), domain, what, reply_class)

    return restriction


def _dnsxl(check: Check, rbl: str, query: str, what: str, reply_class: str) -> int:
    """find_dnsxl_*(): look ``query.rbl-domain`` up; ``rbl=pattern`` restricts the listed answers."""
    if check.world.dnsbl is None:
        check.note(f"{rbl}: no DNSBL answers given to policy; treated as not listed")
        return DUNNO
    domain, _, pattern = rbl.partition("=")
    answer = check.world.dnsbl(f"{query}.{domain}")
    if not isinstance(answer, DnsblAnswer):
        if answer is DnsStatus.TEMPFAIL:
            check.note(f"{query}.{domain}: RBL lookup error")
        return DUNNO
    if pattern and not any(_octets_match(pattern, address) for address in answer.addresses):
        return DUNNO
    return _rbl_reply(check, domain, what, reply_class, answer.txt or "")


def _octets_match(pattern: str, address: str) -> bool:
    """ip_match(3) for IPv4: each octet a number, ``[a..b]`` range or ``[a;b;c]`` list."""
    wanted, octets = re.findall(r"\[[^\]]*\]|\d+", pattern), address.split(".")
    if len(wanted) != 4 or len(octets) != 4:
        return pattern == address
    return all(_octet(rule, int(octet)) for rule, octet in zip(wanted, octets))


def _octet(rule: str, value: int) -> bool:
    if not rule.startswith("["):
        return int(rule) == value
    for part in rule[1:-1].split(";"):
        low, _, high = part.partition("..")
        if int(low) <= value <= int(high or low):
            return True
    return False


def _rbl_reply(check: Check, domain: str, what: str, reply_class: str, txt: str) -> int:
    """rbl_reject_reply(): rbl_reply_maps or default_rbl_reply, $rbl_* expanded, then parsed as a reply."""
    template = maps_find(check.settings.rbl_reply_maps, domain) or check.settings.default_rbl_reply
    values = {
        "rbl_code": str(check.settings.code("maps_rbl_reject_code")),
        "rbl_domain": domain,
        "rbl_reason": txt,
        "rbl_txt": txt,
        "rbl_what": what,
        "rbl_class": reply_class,
        **_smtpd_macros(check),
    }
    text = _expand(template, values)
    if not re.match(r"^[45]\d\d ", text):
        return reject(check, 450, "4.7.1", "Service unavailable")
    dsn, rest = dsn_split("4.7.1", text[4:])
    return reject(check, int(text[:3]), dsn_fix(dsn, reply_class), rest or "Service unavailable")


def _smtpd_macros(check: Check) -> dict[str, str]:
    ctx = check.ctx
    return {
        "client_address": ctx.client_address,
        "client_name": ctx.client_name,
        "helo_name": ctx.helo_name or "",
        "sender": ctx.sender or "",
        "recipient": ctx.recipient or "",
    }


def _expand(template: str, values: dict[str, str]) -> str:
    """$name, ${name}, ${name?text} (if non-empty), ${name:text} (if empty)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        value = values.get(name, "")
        if match.group(3) == "?":
            return _expand(match.group(4), values) if value else ""
        if match.group(3) == ":":
            return "" if value else _expand(match.group(4), values)
        return value

    return _MACRO.sub(one, template)


def check_policy_service(check: Check, server: str | None, name: str, cls: str, acl: str | None) -> int:
    """SMTPD_POLICY_README: ask the delegated server; its ``action=`` is read like an access table value."""
    from mailsim.policy.restrictions.stages import RESTRICTIONS

    service = check.world.policy_services.get(str(server))
    if service is None:
        return reject(check, 451, "4.3.5", "Server configuration problem", software=True)
    try:
        action = service(policy_attributes(check))
    except Exception as error:  # a broken policy server must not crash smtpd
        check.note(f"policy service {server}: {error}")
        return reject(check, 451, "4.3.5", "Server configuration problem", software=True)
    return table_result(check, action, name, cls, acl, RESTRICTIONS)


def policy_attributes(check: Check) -> dict[str, str]:
    """The request attributes smtpd sends to a policy server."""
    ctx = check.ctx
    counted = check.where.value in ("DATA", "END-OF-MESSAGE")
    return {
        "request": "smtpd_access_policy",
        "protocol_state": check.where.value,
        "protocol_name": ctx.protocol,
        "client_address": ctx.client_address,
        "client_name": ctx.client_name,
        "reverse_client_name": ctx.reverse_name,
        "helo_name": ctx.helo_name or "",
        "sender": ctx.sender or "",
        "recipient": ctx.recipient or "",
        "recipient_count": str(ctx.recipient_count if counted else 0),
        "queue_id": ctx.queue_id or "",
        "instance": ctx.instance,
        "size": str(ctx.size),
        "sasl_method": ctx.sasl_method or "",
        "sasl_username": ctx.sasl_username or "",
        "encryption_protocol": "TLSv1.3" if ctx.encrypted else "",
    }
