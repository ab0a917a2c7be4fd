"""The restriction table and the stage drivers (smtpd_check_client/helo/mail/rcpt/data/eod).

:class:`SmtpdRestrictions` is what smtpd's handler calls: ``check(stage, ctx)`` returns a
:class:`~mailsim.policy.restrictions.model.Verdict`. With smtpd_delay_reject = yes (the default) the
CONNECT, HELO and MAIL stages always accept and their lists run at RCPT time; with ``no`` they run at their
own command, and the caller carries ``Verdict.defer_if_permit`` into later stages through
``SmtpdContext.defer_if_permit``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from mailsim.config.maincf import MainCf
from mailsim.mail.reply import Reply
from mailsim.policy.lookup import FileReader, Lookup, TableOpener
from mailsim.policy.restrictions import addresses as a
from mailsim.policy.restrictions import checks as c
from mailsim.policy.restrictions.engine import DUNNO, REJECT, Abort, Check, Restriction, generic_checks, reject
from mailsim.policy.restrictions.model import (
    CLIENT,
    HELO,
    REPLY_CLASS,
    LogEntry,
    PolicyWorld,
    SmtpdContext,
    Stage,
    Verdict,
)
from mailsim.policy.restrictions.settings import RestrictionSettings
from mailsim.policy.rewrite.resolve import Resolution
from mailsim.policy.rewrite.settings import RewriteSettings

_NO_ARG: dict[str, Restriction] = {
    "permit": c.permit,
    "reject": c.reject_all,
    "defer": c.defer_all,
    "defer_if_permit": c.defer_if_permit_now,
    "defer_if_reject": c.defer_if_reject_now,
    "permit_mynetworks": c.permit_mynetworks,
    "permit_inet_interfaces": c.permit_inet_interfaces,
    "permit_sasl_authenticated": c.permit_sasl_authenticated,
    "reject_plaintext_session": c.reject_plaintext_session,
    "reject_unknown_client_hostname": c.reject_unknown_client,
    "reject_unknown_client": c.reject_unknown_client,
    "reject_unknown_reverse_client_hostname": c.reject_unknown_reverse,
    "reject_invalid_helo_hostname": c.reject_invalid_helo,
    "reject_invalid_hostname": c.reject_invalid_helo,
    "reject_non_fqdn_helo_hostname": c.reject_non_fqdn_helo,
    "reject_non_fqdn_hostname": c.reject_non_fqdn_helo,
    "reject_unknown_helo_hostname": c.reject_unknown_helo,
    "reject_unknown_hostname": c.reject_unknown_helo,
    "permit_auth_destination": a.permit_auth_destination,
    "reject_unauth_destination": a.reject_unauth_destination,
    "defer_unauth_destination": a.defer_unauth_destination,
    "check_relay_domains": a.check_relay_domains,
    "reject_non_fqdn_sender": a.reject_non_fqdn_sender,
    "reject_non_fqdn_recipient": a.reject_non_fqdn_recipient,
    "reject_unknown_sender_domain": a.reject_unknown_sender_domain,
    "reject_unknown_address": a.reject_unknown_sender_domain,
    "reject_unknown_recipient_domain": a.reject_unknown_recipient_domain,
    "reject_unlisted_sender": a.reject_unlisted_sender,
    "reject_unlisted_recipient": a.reject_unlisted_recipient,
    "check_recipient_maps": a.reject_unlisted_recipient,
    "reject_authenticated_sender_login_mismatch": a.reject_authenticated_mismatch,
    "reject_known_sender_login_mismatch": a.reject_known_mismatch,
    "reject_unauthenticated_sender_login_mismatch": a.reject_unauthenticated_mismatch,
    "reject_multi_recipient_bounce": a.reject_multi_recipient_bounce,
    "reject_unverified_recipient": c.not_modelled,
    "reject_unverified_sender": c.not_modelled,
    "permit_mx_backup": a.permit_mx_backup,
    "permit_tls_clientcerts": c.not_modelled,
    "permit_tls_all_clientcerts": c.not_modelled,
    "reject_unauth_pipelining": c.not_modelled,
}
_ONE_ARG: dict[str, Restriction] = {
    "check_client_access": c.check_client_access,
    "check_reverse_client_access": c.check_reverse_client_access,
    "check_helo_access": c.check_helo_access,
    "check_sender_access": a.check_sender_access,
    "check_recipient_access": a.check_recipient_access,
    "check_sasl_access": a.check_sasl_access,
    "check_etrn_access": a.check_etrn_access,
    "check_policy_service": c.check_policy_service,
    "reject_rbl_client": c.reject_rbl_client,
    "reject_rbl": c.reject_rbl_client,
    "reject_rhsbl_client": c.rhsbl("client"),
    "reject_rhsbl_reverse_client": c.rhsbl("reverse_client"),
    "reject_rhsbl_helo": c.rhsbl("helo"),
    "reject_rhsbl_sender": c.rhsbl("sender"),
    "reject_rhsbl_recipient": c.rhsbl("recipient"),
    **{name: c.not_modelled for name in ("sleep", "check_ccert_access", "permit_dnswl_client", "permit_rhswl_client")},
    **{
        f"check_{what}_{rr}_access": c.not_modelled
        for what in ("client", "reverse_client", "helo", "sender", "recipient")
        for rr in ("mx", "ns", "a")
    },
}
RESTRICTIONS: dict[str, tuple[int, Restriction]] = {
    **{name: (0, function) for name, function in _NO_ARG.items()},
    **{name: (1, function) for name, function in _ONE_ARG.items()},
}


def _sender_login_mismatch(check: Check, arg: str | None, name: str, cls: str, acl: str | None) -> int:
    """The built-in class reject_sender_login_mismatch: both of its halves."""
    status = a.reject_authenticated_mismatch(check, arg, name, cls, acl)
    return status or a.reject_unauthenticated_mismatch(check, arg, name, cls, acl)


RESTRICTIONS["reject_sender_login_mismatch"] = (0, _sender_login_mismatch)


def _run(check: Check, parameter: str, name: str, cls: str, acl: str | None) -> int:
    """One list under setjmp: an Abort (configuration error) refuses with its reply."""
    items = check.settings.stage_list(parameter)
    if not items:
        return DUNNO
    try:
        return generic_checks(check, items, name, cls, acl, RESTRICTIONS)
    except Abort as abort:
        check.error = abort.reply
        return REJECT


def _client(check: Check) -> int:
    check.defer_if_permit = None
    check.reset()
    status = _run(check, "smtpd_client_restrictions", check.ctx.namaddr, CLIENT, "check_client_access")
    check.client_dip = check.defer_if_permit
    return status


def _helo(check: Check) -> int:
    if check.ctx.helo_name is None:
        check.helo_dip = check.client_dip
        return DUNNO
    check.defer_if_permit = check.client_dip
    check.reset()
    status = _run(check, "smtpd_helo_restrictions", check.ctx.helo_name, HELO, "check_helo_access")
    check.helo_dip = check.defer_if_permit
    return status


def _mail(check: Check) -> int:
    sender = check.ctx.sender
    if sender is None:
        return DUNNO
    check.defer_if_permit = check.helo_dip or check.client_dip
    check.sender_checked = False
    check.reset()
    status = _run(check, "smtpd_sender_restrictions", sender, "Sender address", "check_sender_access")
    check.sender_dip = check.defer_if_permit
    if check.settings.reject_unlisted_sender and status != REJECT and not check.discard and sender:
        status = _implicit(check, lambda: a.reject_unlisted_sender(check, None, sender, "Sender address", None))
    return status


def _implicit(check: Check, restriction: Callable[[], int]) -> int:
    """An implicit restriction (reject_unlisted_*) after the lists, under the same setjmp."""
    try:
        return restriction()
    except Abort as abort:
        check.error = abort.reply
        return REJECT


def _rcpt(check: Check) -> int:
    recipient = check.ctx.recipient or ""
    if recipient.lower() == "postmaster":
        return DUNNO
    check.rcpt_checked = False
    if check.settings.delay_reject:
        for stage in (_client, _helo, _mail):
            if stage(check) == REJECT:
                return REJECT
        check.defer_if_permit = check.sender_dip or check.helo_dip or check.client_dip
    else:
        check.defer_if_permit = check.ctx.defer_if_permit
    check.reset()
    status = DUNNO
    for parameter in ("smtpd_relay_restrictions", "smtpd_recipient_restrictions"):
        status = _run(check, parameter, recipient, "Recipient address", "check_recipient_access")
        if status == REJECT:
            break
    status = _deferred(check, status)
    if check.settings.reject_unlisted_recipient and status != REJECT and not check.discard:
        status = _implicit(check, lambda: a.reject_unlisted_recipient(check, None, recipient, "", None))
    return status


def _deferred(check: Check, status: int) -> int:
    """Force permission into deferral when a defer_if_permit was raised on the way."""
    dip = check.defer_if_permit
    if status != REJECT and dip is not None:
        return reject(check, dip.code, dip.enhanced or "4.7.1", dip.text)
    return status


def _data(check: Check, parameter: str, name: str) -> int:
    """smtpd_check_data/eod: no default access check, no recipient when there are several."""
    if check.ctx.recipient_count > 1:
        check.ctx = replace(check.ctx, recipient=None)
    check.defer_if_permit = None
    check.reset()
    status = _run(check, parameter, name, REPLY_CLASS[check.where], None)
    return _deferred(check, status)


_PASS = Verdict()
_RESOLVED_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class SmtpdRestrictions:
    """smtpd's access policy for one host: settings, rewriting context and the outside world."""

    settings: RestrictionSettings
    rewrite: RewriteSettings
    world: PolicyWorld = field(default_factory=PolicyWorld)
    # resolve() answers per address: pure over the settings, so kept across checks as trivial-rewrite's clients do
    _resolved: dict[str, Resolution] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_main(
        cls,
        main: MainCf,
        tables: Mapping[str, Lookup] | TableOpener | None = None,
        world: PolicyWorld | None = None,
        read_file: FileReader | None = None,
    ) -> SmtpdRestrictions:
        return cls(
            RestrictionSettings.from_main(main, tables, read_file),
            RewriteSettings.from_main(main, tables, read_file),
            world or PolicyWorld(),
        )

    def check(self, stage: Stage, ctx: SmtpdContext, world: PolicyWorld | None = None) -> Verdict:
        """The verdict for one SMTP command (CONNECT, EHLO, MAIL, RCPT, DATA, END-OF-MESSAGE, ETRN)."""
        if self._nothing_to_check(stage):
            return _PASS
        if len(self._resolved) > _RESOLVED_LIMIT:
            self._resolved.clear()
        check = Check(self.settings, self.rewrite, world or self.world, ctx, stage, _resolved=self._resolved)
        status = self._dispatch(check, stage)
        reply = check.error if status == REJECT else None
        return Verdict(reply, tuple(check.actions), tuple(check.log), check.defer_if_permit)

    def verify(self, ctx: SmtpdContext, address: str) -> Reply | None:
        """VRFY's smtpd_check_rcptmap: the address's syntax, then only the recipient tables (no restriction list)."""
        check = Check(self.settings, self.rewrite, self.world, replace(ctx, recipient=address), Stage.RCPT,
                      _resolved=self._resolved)  # fmt: skip
        if _bad_syntax(check, Stage.RCPT):
            return check.error
        status = _implicit(check, lambda: a.reject_unlisted_recipient(check, None, address, "", None))
        return check.error if status == REJECT else None

    def _nothing_to_check(self, stage: Stage) -> bool:
        """A stage that cannot refuse or act: delayed CONNECT/HELO, DATA/END-OF-MESSAGE with an empty list."""
        if stage is Stage.CONNECT or stage is Stage.HELO:
            return self.settings.delay_reject
        if stage is Stage.DATA:
            return not self.settings.stage_list("smtpd_data_restrictions")
        if stage is Stage.END_OF_DATA:
            return not self.settings.stage_list("smtpd_end_of_data_restrictions")
        return False

    def _dispatch(self, check: Check, stage: Stage) -> int:
        if _bad_syntax(check, stage):
            return REJECT
        delayed = self.settings.delay_reject
        if stage is Stage.CONNECT:
            return DUNNO if delayed else _client(check)
        if stage is Stage.HELO:
            check.client_dip = check.ctx.defer_if_permit
            return DUNNO if delayed else _helo(check)
        if stage is Stage.MAIL:
            check.helo_dip = check.ctx.defer_if_permit
            return DUNNO if delayed else _mail(check)
        if stage is Stage.RCPT:
            return _rcpt(check)
        if stage is Stage.DATA:
            return _data(check, "smtpd_data_restrictions", "DATA")
        if stage is Stage.END_OF_DATA:
            return _data(check, "smtpd_end_of_data_restrictions", "END-OF-MESSAGE")
        return _etrn(check)


def _bad_syntax(check: Check, stage: Stage) -> bool:
    """smtpd's address check before any restriction: an address the resolver cannot parse gets 501."""
    if stage is Stage.RCPT:
        address, dsn, what = check.ctx.recipient or "", "5.1.3", "recipient"
    elif stage is Stage.MAIL and check.ctx.sender:
        address, dsn, what = check.ctx.sender, "5.1.7", "sender"
    else:
        return False
    if address and not check.resolve(address).error:
        return False
    check.error = Reply(501, dsn, f"Bad {what} address syntax")
    check.log.append(LogEntry("reject", str(check.error)))
    return True


def _etrn(check: Check) -> int:
    if check.settings.delay_reject and (_client(check) == REJECT or _helo(check) == REJECT):
        return REJECT
    check.reset()
    status = _run(check, "smtpd_etrn_restrictions", check.ctx.recipient or "", "Etrn command", "check_etrn_access")
    return _deferred(check, status)


__all__ = ["RESTRICTIONS", "SmtpdRestrictions"]
