"""The classic "is this an open relay" battery, and what each trick is.

Relay testers (and spammers) ask a server to accept mail for a third party by hiding the remote domain
behind the server's own name: the percent hack ``user%remote@local``, bang paths ``remote!user@local``,
source routes ``@local:user@remote``, quoted local parts ``"user@remote"@local``, plain double ``@``,
trailing dots and address literals. Postfix refuses them all from an untrusted client with its defaults
because its relay check resolves the recipient exactly as delivery would (swap_bangpath,
allow_percent_hack, resolve_dequoted_address all on) and refuses any result that still carries routing
operators (allow_untrusted_routing = no); smtpd also strips a source route before it looks at the address.

:func:`relay_battery` builds the probes for a host; :func:`tricks` names the tricks an address uses;
:func:`relay_verdicts` runs the battery through a host's restrictions.

Parameters read (through the restrictions): smtpd_relay_restrictions, smtpd_recipient_restrictions,
mynetworks, relay_domains, allow_untrusted_routing, swap_bangpath, allow_percent_hack,
resolve_dequoted_address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from mailsim.policy.restrictions.model import SmtpdContext, Stage, Verdict
from mailsim.policy.restrictions.stages import SmtpdRestrictions
from mailsim.policy.rewrite.address import smtp_path_to_internal, split_address


@dataclass(frozen=True, slots=True)
class RelayProbe:
    """One probe: the trick's name and the RCPT TO path exactly as it goes on the wire (no ``<>``)."""

    trick: str
    path: str

    @property
    def recipient(self) -> str:
        """What smtpd makes of the path (source route stripped, quotes removed)."""
        return smtp_path_to_internal(self.path)


def relay_battery(
    local: str, local_ip: str, remote: str = "relay-test.example", remote_ip: str = "192.0.2.99", user: str = "victim"
) -> tuple[RelayProbe, ...]:
    """The relay-test addresses for a server ``local`` (``[local_ip]``) against a third party ``remote``."""
    lit = f"[{local_ip}]"
    return (
        RelayProbe("plain", f"{user}@{remote}"),
        RelayProbe("trailing dot", f"{user}@{remote}."),
        RelayProbe("ip literal", f"{user}@[{remote_ip}]"),
        RelayProbe("percent hack", f"{user}%{remote}@{local}"),
        RelayProbe("percent hack to literal", f"{user}%{remote}@{lit}"),
        RelayProbe("percent hack, no domain", f"{user}%{remote}"),
        RelayProbe("quoted percent hack", f'"{user}%{remote}"@{local}'),
        RelayProbe("bang path", f"{remote}!{user}@{local}"),
        RelayProbe("bang path to literal", f"{remote}!{user}@{lit}"),
        RelayProbe("bang path, no domain", f"{remote}!{user}"),
        RelayProbe("source route", f"@{local}:{user}@{remote}"),
        RelayProbe("source route via literal", f"@{lit}:{user}@{remote}"),
        RelayProbe("quoted local part", f'"{user}@{remote}"@{local}'),
        RelayProbe("quoted local part to literal", f'"{user}@{remote}"@{lit}'),
        RelayProbe("quoted address, no domain", f'"{user}@{remote}"'),
        RelayProbe("double at", f"{user}@{remote}@{local}"),
        RelayProbe("double at to literal", f"{user}@{remote}@{lit}"),
        RelayProbe("percent and trailing dot", f"{user}%{remote}.@{local}"),
    )


def tricks(path: str) -> frozenset[str]:
    """The routing tricks a RCPT TO path uses (empty for a plain ``user@domain``)."""
    found: set[str] = set()
    text = path.strip().strip("<>")
    if text.startswith("@") and ":" in text:
        found.add("source route")
    if '"' in text:
        found.add("quoted local part")
    local, domain = split_address(smtp_path_to_internal(text))
    if "%" in local:
        found.add("percent hack")
    if "!" in local:
        found.add("bang path")
    if "@" in local:
        found.add("double at")
    if domain is not None and domain.endswith("."):
        found.add("trailing dot")
    if domain is not None and domain.startswith("["):
        found.add("ip literal")
    return frozenset(found)


def relay_verdicts(
    restrictions: SmtpdRestrictions, probes: Sequence[RelayProbe], ctx: SmtpdContext
) -> tuple[tuple[RelayProbe, Verdict], ...]:
    """Each probe's RCPT verdict for a session context (client, HELO, sender, login)."""
    return tuple(
        (probe, restrictions.check(Stage.RCPT, replace(ctx, recipient=probe.recipient, recipient_count=0)))
        for probe in probes
    )
