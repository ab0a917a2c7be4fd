"""trivial-rewrite(8) and cleanup(8) address rewriting as pure functions (ADDRESS_REWRITING_README).

- :mod:`~mailsim.policy.rewrite.address`: internal form, quoting, canonicalisation (append_at_myorigin,
  append_dot_mydomain, swap_bangpath, allow_percent_hack, trailing dot), SMTP path parsing.
- :mod:`~mailsim.policy.rewrite.resolve`: address classes and (transport, nexthop, recipient) with
  transport_maps, relayhost and the class transports.
- :mod:`~mailsim.policy.rewrite.maps`: canonical(5), virtual(5) and masquerade_domains.
- :mod:`~mailsim.policy.rewrite.settings`: :class:`RewriteSettings.from_main` reads the parameters once.
"""

from mailsim.policy.rewrite.address import canonicalize, quote_local, smtp_path_to_internal, split_address
from mailsim.policy.rewrite.maps import (
    VirtualExpansion,
    canonical_map,
    expand_virtual,
    mail_addr_find,
    masquerade,
    masquerade_applies,
)
from mailsim.policy.rewrite.resolve import (
    AddressClass,
    NextHop,
    Resolution,
    address_class,
    parse_nexthop,
    resolve,
    resolve_local,
    rewrite_address,
    transport_lookup,
)
from mailsim.policy.rewrite.settings import RewriteSettings

__all__ = [
    "AddressClass",
    "NextHop",
    "Resolution",
    "RewriteSettings",
    "VirtualExpansion",
    "address_class",
    "canonical_map",
    "canonicalize",
    "expand_virtual",
    "mail_addr_find",
    "masquerade",
    "masquerade_applies",
    "parse_nexthop",
    "quote_local",
    "resolve",
    "resolve_local",
    "rewrite_address",
    "smtp_path_to_internal",
    "split_address",
    "transport_lookup",
]
