"""L2: sender authentication as pure functions over plain records and a DNS callable.

- :mod:`~mailsim.policy.auth.spf` - SPF (RFC 7208) by pyspf over the simulated DNS, ``Received-SPF``;
- :mod:`~mailsim.policy.auth.spfpolicy` - postfix-policyd-spf-python's decisions as a policy service;
- :mod:`~mailsim.policy.auth.keys` and :mod:`~mailsim.policy.auth.dkim` - DKIM keys, signing and
  verification (RFC 6376, RFC 8463) by dkimpy;
- :mod:`~mailsim.policy.auth.dmarc` - DMARC (RFC 7489) discovery, alignment and disposition;
- :mod:`~mailsim.policy.auth.arc` - ARC (RFC 8617) sealing and validation by dkimpy;
- :mod:`~mailsim.policy.auth.srs` - the Sender Rewriting Scheme (libsrs2/postsrsd form);
- :mod:`~mailsim.policy.auth.senderid` - Sender ID (RFC 4406/4407, historic) beside SPF;
- :mod:`~mailsim.policy.auth.authres` - Authentication-Results (RFC 8601) written and read.

Every check takes ``dns(name, rdtype)`` (:data:`~mailsim.policy.auth.dnsview.DnsQuery`) - a host's
``Resolver.lookup_now`` in a run - and time as an argument; nothing here reads a clock, keeps
module state or touches a library's globals, so many simulations can check mail side by side.
Verdicts report the modelled DNS time they cost (``dns_time``) for the caller to charge.

Postfix parameters read: none.
"""

from mailsim.policy.auth.arc import ArcVerdict, seal, validate
from mailsim.policy.auth.authres import AuthResults, MethodResult, authentication_results, parse
from mailsim.policy.auth.dkim import DkimResult, SigningError, sign, sign_message, verify
from mailsim.policy.auth.dmarc import DmarcRecord, DmarcVerdict, arc_override, check_dmarc, from_domain
from mailsim.policy.auth.dnsview import DnsAnswer, DnsQuery
from mailsim.policy.auth.keys import DkimKey, KeyRing, generate_key
from mailsim.policy.auth.senderid import SenderIdVerdict, check_senderid, headers_of, pra
from mailsim.policy.auth.spf import SpfVerdict, check_helo, check_spf
from mailsim.policy.auth.spfpolicy import SpfPolicyDecision, SpfPolicySettings, decide_spf_policy, spf_policy
from mailsim.policy.auth.srs import SrsError, SrsSettings, forward, reverse

__all__ = [
    "ArcVerdict",
    "AuthResults",
    "DkimKey",
    "DkimResult",
    "DmarcRecord",
    "DmarcVerdict",
    "DnsAnswer",
    "DnsQuery",
    "KeyRing",
    "MethodResult",
    "SenderIdVerdict",
    "SigningError",
    "SpfPolicyDecision",
    "SpfPolicySettings",
    "SpfVerdict",
    "SrsError",
    "SrsSettings",
    "arc_override",
    "authentication_results",
    "check_dmarc",
    "check_helo",
    "check_senderid",
    "check_spf",
    "decide_spf_policy",
    "forward",
    "from_domain",
    "generate_key",
    "headers_of",
    "parse",
    "pra",
    "reverse",
    "seal",
    "sign",
    "sign_message",
    "spf_policy",
    "validate",
    "verify",
]
