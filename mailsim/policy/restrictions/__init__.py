"""smtpd's access restrictions (SMTPD_ACCESS_README, smtpd_check.c) as pure functions.

Use :class:`SmtpdRestrictions` (``from_main(main, tables, world)``) and call ``check(stage, ctx)`` for
each SMTP command; the :class:`Verdict` carries the reply in Postfix's exact wording, side effects
(HOLD, DISCARD, PREPEND, REDIRECT, FILTER, BCC) and what smtpd would log.

- :mod:`~mailsim.policy.restrictions.model`: Stage, SmtpdContext, PolicyWorld, Verdict.
- :mod:`~mailsim.policy.restrictions.settings`: the parameters, mynetworks.
- :mod:`~mailsim.policy.restrictions.engine`: generic_checks(), replies, defer_if_permit/reject.
- :mod:`~mailsim.policy.restrictions.checks` and ``addresses``: the restrictions themselves.
- :mod:`~mailsim.policy.restrictions.stages`: the restriction table and the stage drivers.
"""

from mailsim.policy.restrictions.model import (
    Action,
    ActionKind,
    DnsblAnswer,
    DnsStatus,
    LogEntry,
    PolicyWorld,
    SmtpdContext,
    Stage,
    Verdict,
)
from mailsim.policy.restrictions.settings import NetworkList, RestrictionSettings
from mailsim.policy.restrictions.stages import RESTRICTIONS, SmtpdRestrictions

__all__ = [
    "RESTRICTIONS",
    "Action",
    "ActionKind",
    "DnsStatus",
    "DnsblAnswer",
    "LogEntry",
    "NetworkList",
    "PolicyWorld",
    "RestrictionSettings",
    "SmtpdContext",
    "SmtpdRestrictions",
    "Stage",
    "Verdict",
]
