"""Address syntax as Postfix handles it: internal (unquoted) form, quoting, canonicalisation.

Postfix keeps addresses in *internal* form: the local part unquoted, so ``"user@remote"@host`` and
``user@remote@host`` are the same string. The domain is whatever follows the rightmost ``@``. A local
part that holds RFC 822 specials is quoted when the address is tokenised (quote_822_local), and routing
operators inside a quoted local part are invisible to the rewriting rules; that is what the resolver's
``resolve_dequoted_address`` switch is about (see :mod:`mailsim.policy.rewrite.resolve`).

:func:`canonicalize` is trivial-rewrite's "local" rewriting context (rewrite_tree in rewrite.c):
swap ``site!user`` to ``user@site``, turn ``user%site`` into ``user@site``, append ``@$myorigin`` and
``.$mydomain``, drop one trailing dot. :func:`smtp_path_to_internal` is what smtpd does with a MAIL FROM or
RCPT TO path: strip the ``<>``, strip a source route ``@a,@b:`` (RFC 5321 §4.1.1.3 lets servers ignore it),
and unquote the local part.

Parameters read (through :class:`~mailsim.policy.rewrite.settings.RewriteSettings`): myorigin, mydomain,
swap_bangpath, allow_percent_hack, append_at_myorigin, append_dot_mydomain.
"""

from __future__ import annotations

import ipaddress
import re

SPECIALS = frozenset('()<>@,;:\\".[]')
_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$")


def split_address(address: str) -> tuple[str, str | None]:
    """(local part, domain) at the rightmost ``@``; domain None when there is no ``@``."""
    local, at, domain = address.rpartition("@")
    return (local, domain) if at else (address, None)


def needs_quote(local: str) -> bool:
    """Whether a local part must be quoted (RFC 822 specials, controls, space, bad dots)."""
    if not local or local.startswith(".") or local.endswith(".") or ".." in local:
        return True
    return any(char in SPECIALS or ord(char) <= 32 or ord(char) == 127 for char in local if char != ".")


def quote_local(address: str) -> str:
    """quote_822_local(3): the external form, local part quoted when it needs to be."""
    local, domain = split_address(address)
    if not needs_quote(local) or (local == "" and domain is None):
        return address
    quoted = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return quoted if domain is None else f"{quoted}@{domain}"


def unquote(text: str) -> str:
    """The internal form of an external address: drop quotes and backslash escapes."""
    out: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        else:
            out.append(char)
    return "".join(out)


def strip_source_route(path: str) -> str:
    """``@a,@b:user@c`` → ``user@c`` (what smtpd does with a source-routed path)."""
    if path.startswith("@") and ":" in path:
        return path[path.index(":") + 1 :]
    return path


def smtp_path_to_internal(path: str) -> str:
    """A MAIL FROM/RCPT TO argument (with or without ``<>``) in Postfix's internal form."""
    text = path.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return unquote(strip_source_route(text))


def valid_hostname(name: str) -> bool:
    """valid_hostname(3): dot-separated labels of letters, digits, ``-``, ``_``; not all numeric."""
    if not name or len(name) > 255 or name.startswith(".") or name.endswith(".") or ".." in name:
        return False
    labels = name.split(".")
    if not all(len(label) <= 63 and _LABEL.match(label) for label in labels):
        return False
    return not all(label.isdigit() for label in labels)


def valid_hostaddr(text: str) -> bool:
    """A bare IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def literal_address(domain: str) -> str | None:
    """The address inside ``[1.2.3.4]`` or ``[IPv6:2001:db8::1]``; None when not a valid literal."""
    if not (domain.startswith("[") and domain.endswith("]")):
        return None
    inner = domain[1:-1]
    if inner.lower().startswith("ipv6:"):
        inner = inner[5:]
        return inner if ":" in inner and valid_hostaddr(inner) else None
    return inner if "." in inner and ":" not in inner and valid_hostaddr(inner) else None


def strip_trailing_dot(domain: str) -> str:
    """One trailing dot goes, but not from ``..`` or a bare ``.``."""
    if len(domain) > 1 and domain.endswith(".") and domain[-2] != ".":
        return domain[:-1]
    return domain


def canonicalize(
    address: str,
    *,
    myorigin: str,
    mydomain: str,
    swap_bangpath: bool = True,
    percent_hack: bool = True,
    append_at_myorigin: bool = True,
    append_dot_mydomain: bool = False,
) -> str:
    """trivial-rewrite's local context: the canonical ``user@domain`` form of an internal address."""
    if address in ("", "@"):
        return ""
    local, domain = split_address(address)
    if domain is None:
        local, domain = _qualify(local, myorigin, swap_bangpath, percent_hack, append_at_myorigin)
    if domain is None:
        return local
    if append_dot_mydomain and mydomain and domain and not domain.startswith("[") and "." not in domain:
        domain = f"{domain}.{mydomain}"
    return f"{local}@{strip_trailing_dot(domain)}"


def _qualify(
    local: str, myorigin: str, swap_bangpath: bool, percent_hack: bool, append_at_myorigin: bool
) -> tuple[str, str | None]:
    """Give a bare local part a domain: ``site!user``, ``user%site`` or ``@$myorigin``."""
    visible = not needs_quote(local)
    if swap_bangpath and visible and "!" in local:
        site, _, user = local.partition("!")
        return split_address(f"{user}@{site}")
    if percent_hack and visible and "%" in local:
        user, _, site = local.rpartition("%")
        return user, site
    if append_at_myorigin and myorigin:
        return local, myorigin
    return local, None


def is_routed(recipient: str, domain: str) -> bool:
    """RESOLVE_FLAG_ROUTED: routing operators (``@ ! %``) left in the local part of the result."""
    cut = min((i for i in (recipient.find(c) for c in "@!%") if i >= 0), default=len(recipient))
    return recipient[cut + 1 :] != domain
