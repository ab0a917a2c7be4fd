"""generic_checks(): how a restriction list is evaluated, and how its result becomes a reply.

Theory of operation (smtpd_check.c). A list is read left to right; each restriction answers DUNNO (go on),
OK (stop: this list permits) or REJECT (stop: refuse, with a reply). ``warn_if_reject`` turns the next
restriction's reject into a logged ``reject_warning``. ``defer_if_permit`` remembers a reason to answer 450
should the stage end up permitting; ``defer_if_reject`` remembers a 450 that replaces a later 5xx. Reply
texts are formatted as ``<name>: Class rejected: text``; the reply code comes from the restriction's
``*_reject_code`` parameter, the enhanced status's class digit is forced to agree with it, and soft_bounce
turns 5xx into 4xx. A configuration mistake (unknown restriction, table inside an access result) answers
``451 4.3.5 Server configuration error`` for that request, as Postfix does.

Stages (smtpd_check_client/helo/mail/rcpt/data/eod): with smtpd_delay_reject = yes the client, HELO and
sender lists are evaluated again at every RCPT TO, before smtpd_relay_restrictions and then
smtpd_recipient_restrictions (a permit in the relay list does not skip the recipient list; a reject ends
it). After the lists, an unlisted local/virtual/relay recipient is refused when
smtpd_reject_unlisted_recipient is on and no explicit reject_unlisted_recipient ran. A bare
``postmaster`` recipient is always accepted (RFC 5321 §4.5.1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mailsim.mail.reply import Reply
from mailsim.policy.access import dsn_fix, dsn_split, parse_action
from mailsim.policy.restrictions.model import (
    Action,
    ActionKind,
    LogEntry,
    PolicyWorld,
    SmtpdContext,
    Stage,
)
from mailsim.policy.restrictions.settings import RestrictionSettings
from mailsim.policy.rewrite.resolve import Resolution, resolve, rewrite_address
from mailsim.policy.rewrite.settings import RewriteSettings

DUNNO, OK, REJECT = 0, 1, 2
MAX_RECURSION = 100
SERVER_ERROR = Reply(451, "4.3.5", "Server configuration error")
INVALID_REPLY = Reply(450, "4.7.1", "Service unavailable")


class Abort(Exception):
    """smtpd's longjmp: the request is refused right away (configuration error, lookup failure)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(str(reply))
        self.reply = reply


@dataclass
class Check:
    """The mutable evaluation state of one stage check (the restriction fields of SMTPD_STATE)."""

    settings: RestrictionSettings
    rewrite: RewriteSettings
    world: PolicyWorld
    ctx: SmtpdContext
    where: Stage
    recursion: int = 0
    warn_if_reject: int = 0
    defer_if_permit: Reply | None = None
    defer_if_reject: Reply | None = None
    discard: bool = False
    rcpt_checked: bool = False
    sender_checked: bool = False
    client_dip: Reply | None = None
    helo_dip: Reply | None = None
    sender_dip: Reply | None = None
    error: Reply | None = None
    actions: list[Action] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    _resolved: dict[str, Resolution] = field(default_factory=dict)

    def resolve(self, address: str) -> Resolution:
        """smtpd_resolve_addr(): canonicalise in the local context, then resolve (cached)."""
        if address not in self._resolved:
            self._resolved[address] = resolve(rewrite_address(address, self.rewrite), self.rewrite)
        return self._resolved[address]

    def note(self, text: str) -> None:
        self.log.append(LogEntry("note", text))

    def act(self, kind: ActionKind, value: str, what: str, text: str) -> None:
        self.actions.append(Action(kind, value))
        self.log.append(LogEntry(what, text))

    def reset(self) -> None:
        """SMTPD_CHECK_RESET()."""
        self.recursion = 0
        self.warn_if_reject = 0
        self.defer_if_reject = None


def _make_reply(code: int, dsn: str, text: str, soft_bounce: bool) -> Reply:
    """Validate, truncate, soft-bounce and make the status class agree with the code."""
    if not 400 <= code <= 599 or not _valid_dsn(dsn):
        return INVALID_REPLY
    text = "".join(char if char.isprintable() else " " for char in text)[: 510 - 4 - len(dsn) - 1]
    if soft_bounce and code >= 500:
        code -= 100
    return Reply(code, f"{code // 100}{dsn[1:]}", text)


def _valid_dsn(dsn: str) -> bool:
    parts = dsn.split(".")
    return len(parts) == 3 and parts[0] in "245" and all(p.isdigit() and 0 < len(p) <= 3 for p in parts)


def reject(check: Check, code: int, dsn: str, text: str, software: bool = False) -> int:
    """smtpd_check_reject(): a refusal, unless warn_if_reject is in force or defer_if_reject applies."""
    warn = bool(check.warn_if_reject) and not software
    reply = _make_reply(code, dsn, text, soft_bounce=False)
    if not warn and check.defer_if_reject is not None and reply.code >= 500:
        deferred, check.defer_if_reject, check.warn_if_reject = check.defer_if_reject, None, 0
        return reject(check, deferred.code, deferred.enhanced or "4.7.1", deferred.text)
    reply = _make_reply(reply.code, reply.enhanced or dsn, reply.text, check.settings.soft_bounce)
    check.log.append(LogEntry("reject_warning" if warn else "reject", str(reply)))
    if warn:
        return DUNNO
    check.error = reply
    return REJECT


def server_error(check: Check, why: str) -> Abort:
    """reject_server_error(): log why, refuse the request with 451 4.3.5."""
    check.note(why)
    reject(check, SERVER_ERROR.code, SERVER_ERROR.enhanced or "4.3.5", SERVER_ERROR.text, software=True)
    return Abort(check.error or SERVER_ERROR)


def defer_if(check: Check, permit: bool, code: int, dsn: str, text: str) -> int:
    """defer_if(): remember the first reason for a later deferral."""
    reply = _make_reply(code, dsn, text, soft_bounce=False)
    if permit and check.defer_if_permit is None:
        check.defer_if_permit = reply
    if not permit and check.defer_if_reject is None:
        check.defer_if_reject = reply
    return DUNNO


def defer_if_permit(check: Check, enabled: bool, code: int, dsn: str, text: str) -> int:
    """DEFER_IF_PERMIT2(): a remembered deferral, or (tempfail action ``defer``/warn mode) an immediate one."""
    if enabled and not check.warn_if_reject:
        return defer_if(check, True, code, dsn, text)
    return reject(check, code, dsn, text)


Restriction = Callable[[Check, "str | None", str, str, "str | None"], int]


def generic_checks(
    check: Check,
    items: Sequence[str],
    name: str,
    cls: str,
    def_acl: str | None,
    table: dict[str, tuple[int, Restriction]],
) -> int:
    """Evaluate one restriction list; ``table`` maps restriction names to (argument count, function)."""
    saved = check.recursion
    check.recursion += 1
    status, index = DUNNO, 0
    while index < len(items) and not check.discard:
        item = items[index]
        if item.lower() == "warn_if_reject":
            check.warn_if_reject = check.warn_if_reject or check.recursion
            index += 1
            continue
        status, index = _one(check, items, index, name, cls, def_acl, table)
        if check.warn_if_reject >= check.recursion:
            check.warn_if_reject = 0
        if status != DUNNO or (check.defer_if_permit and check.defer_if_reject):
            break
    check.recursion = saved
    if check.warn_if_reject >= check.recursion:
        check.warn_if_reject = 0
    return status


def _one(
    check: Check,
    items: Sequence[str],
    index: int,
    name: str,
    cls: str,
    def_acl: str | None,
    table: dict[str, tuple[int, Restriction]],
) -> tuple[int, int]:
    """One restriction (with its argument); returns (status, index of the next one)."""
    item = items[index]
    if ":" in item:
        if def_acl is None:
            raise server_error(check, f'specify a check_*_access restriction before {cls} restriction "{item}"')
        return table[def_acl][1](check, item, name, cls, def_acl), index + 1
    key = item.lower()
    if key in table:
        argc, function = table[key]
        argument = items[index + 1] if argc and index + 1 < len(items) else None
        if argc and argument is None:
            raise server_error(check, f"restriction {item} needs an argument")
        return function(check, argument, name, cls, def_acl), index + 1 + argc
    if item in check.settings.classes:
        return generic_checks(check, check.settings.classes[item], name, cls, def_acl, table), index + 1
    raise server_error(check, f'unknown smtpd restriction: "{item}"')


def table_result(
    check: Check,
    value: str,
    name: str,
    cls: str,
    def_acl: str | None,
    table: dict[str, tuple[int, Restriction]],
) -> int:
    """check_table_result(): what an access table value (or a policy server's action) means here."""
    action = parse_action(value)
    codes = check.settings.codes
    verb = action.verb
    if verb == "DUNNO":
        return DUNNO
    if verb in ("REJECT", "DEFER", "NUMERIC"):
        return _refuse(check, action.verb, action.code, action.text, name, cls)
    if verb in ("OK", "RELAY", "PERMIT"):
        return OK
    if verb == "DEFER_IF_PERMIT":
        dsn, text = dsn_split("4.7.1", action.text)
        message = f"<{name}>: {cls} rejected: {text or 'Service unavailable'}"
        return defer_if_permit(check, True, codes["access_map_defer_code"], dsn_fix(dsn, cls), message)
    if verb == "DEFER_IF_REJECT":
        dsn, text = dsn_split("4.7.1", action.text)
        message = f"<{name}>: {cls} rejected: {text or 'Service unavailable'}"
        return defer_if(check, False, codes["access_map_defer_code"], dsn_fix(dsn, cls), message)
    if verb in ("WARN", "INFO"):
        check.log.append(LogEntry(verb.lower(), action.text))
        return DUNNO
    if verb in ("HOLD", "DISCARD", "REDIRECT", "FILTER", "BCC", "PREPEND"):
        return _side_effect(check, verb, action.text, name, cls)
    if verb == "TABLE_IN_RHS":
        raise server_error(check, f"access table has entry with lookup table: {value}")
    if check.recursion > MAX_RECURSION:
        raise server_error(check, f"access table entry {value} causes unreasonable recursion")
    if not action.restrictions:
        return OK
    return generic_checks(check, action.restrictions, name, cls, def_acl, table)


def _refuse(check: Check, verb: str, code: int | None, text: str, name: str, cls: str) -> int:
    codes = check.settings.codes
    if verb == "REJECT":
        code, default = codes["access_map_reject_code"], "5.7.1"
    elif verb == "DEFER":
        code, default = codes["access_map_defer_code"], "4.7.1"
    else:
        default = f"{str(code)[0]}.7.1"
    dsn, text = dsn_split(default, text)
    return reject(check, int(code or 0), dsn_fix(dsn, cls), f"<{name}>: {cls} rejected: {text or 'Access denied'}")


def _side_effect(check: Check, verb: str, text: str, name: str, cls: str) -> int:
    """HOLD, DISCARD, REDIRECT, FILTER, BCC, PREPEND: recorded for cleanup; DISCARD also permits."""
    if check.where is Stage.ETRN or (check.ctx.sender is None and check.where is not Stage.RCPT):
        check.note(f"access table action {verb} is always skipped in client or helo restrictions")
        return DUNNO
    kind = ActionKind[verb]
    if verb in ("REDIRECT", "BCC") and "@" not in text:
        check.note(f"access table entry {verb} {text} requires user@domain target")
        return DUNNO
    if verb == "FILTER" and ":" not in text:
        check.note(f"access table entry FILTER {text} requires transport:destination")
        return DUNNO
    if verb == "PREPEND":
        if check.where is Stage.END_OF_DATA or ":" not in text:
            check.note("access table action PREPEND needs header: text, before end-of-data")
            return DUNNO
        check.actions.append(Action(kind, text))
        return DUNNO
    detail = (text or f"triggers {verb} action") if verb in ("HOLD", "DISCARD") else f"triggers {verb} {text}"
    check.act(kind, text, verb.lower(), f"<{name}>: {cls} {detail}")
    if verb == "DISCARD":
        check.discard = True
        return OK
    return DUNNO
