"""The SMTP envelope, kept apart from the content it carries, and its ESMTP parameters.

MAIL parameters: ``SIZE=`` (RFC 1870), ``BODY=7BIT|8BITMIME`` (RFC 6152), ``SMTPUTF8`` (RFC 6531),
``RET=FULL|HDRS`` and ``ENVID=`` (RFC 3461 §4.3-4.4), ``AUTH=`` (RFC 4954 §5). RCPT parameters:
``NOTIFY=`` and ``ORCPT=`` (RFC 3461 §4.1-4.2). xtext values are decoded on the way in and encoded
on the way out. A bad parameter is answered with the catalogue reply Postfix 3.7 gives (observed):
parsers return either the parsed parameters or that :class:`~mailsim.mail.reply.Reply`, so an
smtpd hook can hand the reply straight back. ``BODY=BINARYMIME`` is refused like Postfix does.

Postfix parameters that callers pass in: ``message_size_limit`` (10240000), ``smtputf8_enable`` (yes),
``smtpd_discard_ehlo_keywords`` (empty; ``dsn`` there turns the DSN parameters off).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from mailsim.mail import reply as R
from mailsim.mail.address import domain_of, is_null_sender, xtext_decode, xtext_encode
from mailsim.mail.reply import Reply

ENVID_MAX = 100  # RFC 3461 §4.4
ORCPT_MAX = 500  # RFC 3461 §4.2 (addr-type, ";" and xtext)
_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$")


class Body(StrEnum):
    """RFC 6152 BODY= values (BINARYMIME, RFC 3030, is refused as by Postfix)."""

    SEVEN_BIT = "7BIT"
    EIGHT_BIT_MIME = "8BITMIME"


class Ret(StrEnum):
    """RFC 3461 §4.3: what a DSN returns of the original message."""

    FULL = "FULL"
    HDRS = "HDRS"


class Notify(StrEnum):
    """RFC 3461 §4.1 NOTIFY keywords."""

    NEVER = "NEVER"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    DELAY = "DELAY"


_BODY_VALUES = frozenset(body.value for body in Body)
DEFAULT_NOTIFY: tuple[Notify, ...] = (Notify.FAILURE, Notify.DELAY)  # RFC 3461 §4.1: absent NOTIFY


@dataclass(frozen=True, slots=True)
class RcptDsn:
    """Per-recipient DSN request: NOTIFY (``None`` = not given) and ORCPT (decoded, with its type)."""

    notify: tuple[Notify, ...] | None = None
    orcpt: str | None = None
    orcpt_type: str = "rfc822"

    def wants(self, kind: Notify) -> bool:
        """Whether a notice of ``kind`` is requested (absent NOTIFY means FAILURE,DELAY)."""
        return kind in (self.notify if self.notify is not None else DEFAULT_NOTIFY)

    def options(self) -> list[str]:
        """The RCPT parameters that carry this request onward (a relaying smtp client sends them)."""
        out = []
        if self.notify is not None:
            out.append("NOTIFY=" + ",".join(self.notify))
        if self.orcpt is not None:
            out.append(f"ORCPT={self.orcpt_type};{xtext_encode(self.orcpt)}")
        return out


@dataclass(frozen=True, slots=True)
class MailParams:
    """Parsed MAIL FROM parameters."""

    size: int | None = None
    body: Body | None = None
    smtputf8: bool = False
    ret: Ret | None = None
    envid: str | None = None
    auth: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who the message is from and to, as said in MAIL/RCPT: never read from headers."""

    mail_from: str
    rcpt_tos: tuple[str, ...] = ()
    mail_options: tuple[str, ...] = ()
    rcpt_options: tuple[tuple[str, ...], ...] = ()
    smtputf8: bool = False
    body: Body | None = None
    size: int | None = None
    ret: Ret | None = None
    envid: str | None = None
    rcpt_dsn: tuple[RcptDsn, ...] = ()
    auth: str | None = None

    def __post_init__(self) -> None:
        for name in ("rcpt_tos", "mail_options", "rcpt_dsn"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "rcpt_options", tuple(tuple(o) for o in self.rcpt_options))
        for name in ("rcpt_options", "rcpt_dsn"):
            if getattr(self, name) and len(getattr(self, name)) != len(self.rcpt_tos):
                raise ValueError(f"Envelope.{name} must be empty or have one entry per recipient")

    @property
    def is_bounce(self) -> bool:
        """Null reverse-path: a DSN or other notice that must never itself be bounced (RFC 5321 §4.5.5)."""
        return is_null_sender(self.mail_from)

    @property
    def recipient_domains(self) -> tuple[str, ...]:
        """Distinct recipient domains, lowercased, in first-seen order."""
        return tuple(dict.fromkeys(domain_of(rcpt) for rcpt in self.rcpt_tos))

    def dsn_for(self, recipient: int | str) -> RcptDsn:
        """The DSN request of a recipient (by position or address); defaults when none was given."""
        index = recipient if isinstance(recipient, int) else self.rcpt_tos.index(recipient)
        return self.rcpt_dsn[index] if self.rcpt_dsn else RcptDsn()

    def add_recipient(self, address: str, options: Sequence[str] = (), dsn: RcptDsn | None = None) -> Envelope:
        """A new envelope with one more recipient (records are immutable)."""
        dsns = self.rcpt_dsn or tuple(RcptDsn() for _ in self.rcpt_tos)
        opts = self.rcpt_options or tuple(() for _ in self.rcpt_tos)
        return type(self)(  # every field by position: dataclasses.replace's field walk costs more than the copy
            self.mail_from, (*self.rcpt_tos, address), self.mail_options, (*opts, tuple(options)), self.smtputf8,
            self.body, self.size, self.ret, self.envid, (*dsns, dsn or RcptDsn()), self.auth,
        )  # fmt: skip

    def replace(self, **changes: object) -> Envelope:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def esmtp_mail_options(self) -> list[str]:
        """MAIL FROM parameters to send when passing this envelope on (only what was requested)."""
        out = []
        if self.size is not None:
            out.append(f"SIZE={self.size}")
        if self.body is not None:
            out.append(f"BODY={self.body}")
        if self.smtputf8:
            out.append("SMTPUTF8")
        if self.ret is not None:
            out.append(f"RET={self.ret}")
        if self.envid is not None:
            out.append(f"ENVID={xtext_encode(self.envid)}")
        return out

    @classmethod
    def from_smtp(
        cls,
        mail_from: str,
        mail_options: Sequence[str],
        recipients: Iterable[tuple[str, Sequence[str]]],
        *,
        size_limit: int = 0,
        smtputf8_enabled: bool = True,
        dsn_enabled: bool = True,
    ) -> Envelope | Reply:
        """Parse a whole transaction's parameters; the first bad one's reply is returned instead."""
        params = parse_mail_options(
            mail_options, size_limit=size_limit, smtputf8_enabled=smtputf8_enabled, dsn_enabled=dsn_enabled
        )
        if isinstance(params, Reply):
            return params
        envelope = cls(
            mail_from, (), tuple(mail_options), (), params.smtputf8, params.body, params.size,
            params.ret, params.envid, (), params.auth,
        )  # fmt: skip
        for address, options in recipients:
            dsn = parse_rcpt_options(options, dsn_enabled=dsn_enabled)
            if isinstance(dsn, Reply):
                return dsn
            envelope = envelope.add_recipient(address, options, dsn)
        return envelope


def split_option(option: str) -> tuple[str, str | None]:
    """``"SIZE=100"`` -> ``("SIZE", "100")``; ``"SMTPUTF8"`` -> ``("SMTPUTF8", None)``; keyword uppercased."""
    keyword, sep, value = option.partition("=")
    return keyword.upper(), (value if sep else None)


def _parse_size(value: str | None, size_limit: int) -> int | Reply:
    if value is None or not value.isdigit():
        return R.BAD_SIZE_SYNTAX
    size = int(value)
    if size_limit > 0 and size > size_limit:
        return R.MESSAGE_TOO_BIG
    return size


def _parse_envid(value: str | None) -> str | Reply:
    try:
        decoded = xtext_decode(value or "")
    except ValueError:
        return R.BAD_ENVID_SYNTAX
    if not decoded or len(value or "") > ENVID_MAX:
        return R.BAD_ENVID_SYNTAX
    return decoded


def _mail_option(
    keyword: str, value: str | None, option: str, fields: dict[str, object], size_limit: int, smtputf8_enabled: bool
) -> Reply | None:
    """Fold one MAIL parameter into ``fields``; a reply when it is bad."""
    result: object
    if keyword == "SIZE":
        result = _parse_size(value, size_limit)
    elif keyword == "BODY" and value is not None and value.upper() in _BODY_VALUES:
        result = Body(value.upper())
    elif keyword == "SMTPUTF8" and value is None and smtputf8_enabled:
        result = True
    elif keyword == "RET" and fields.get("dsn"):
        result = Ret(value.upper()) if value is not None and value.upper() in ("FULL", "HDRS") else R.BAD_RET_SYNTAX
    elif keyword == "ENVID" and fields.get("dsn"):
        result = _parse_envid(value)
    elif keyword == "AUTH" and value is not None:
        result = value
    else:
        return R.unsupported_option(option)
    if isinstance(result, Reply):
        return result
    fields[keyword.lower()] = result
    return None


def parse_mail_options(
    options: Sequence[str], *, size_limit: int = 0, smtputf8_enabled: bool = True, dsn_enabled: bool = True
) -> MailParams | Reply:
    """MAIL FROM parameters, or the reply Postfix gives for the first bad one (observed texts)."""
    fields: dict[str, object] = {"dsn": dsn_enabled}
    for option in options:
        keyword, value = split_option(option)
        if keyword.lower() in fields and keyword != "DSN":
            return R.unsupported_option(option)  # RFC 5321 §4.1.2: each parameter at most once
        problem = _mail_option(keyword, value, option, fields, size_limit, smtputf8_enabled)
        if problem is not None:
            return problem
    del fields["dsn"]
    fields["smtputf8"] = bool(fields.get("smtputf8", False))
    return MailParams(**fields)  # type: ignore[arg-type]


def parse_notify(value: str) -> tuple[Notify, ...]:
    """RFC 3461 §4.1: NEVER alone, or a comma list of SUCCESS, FAILURE, DELAY; ValueError otherwise."""
    words = [word.strip().upper() for word in value.split(",")]
    if not value or any(word not in Notify.__members__ for word in words) or len(set(words)) != len(words):
        raise ValueError(f"bad NOTIFY value {value!r}")
    if "NEVER" in words and len(words) > 1:
        raise ValueError("NOTIFY=NEVER cannot be combined with other keywords")
    return tuple(kind for kind in Notify if kind.value in words)


def parse_orcpt(value: str) -> tuple[str, str]:
    """RFC 3461 §4.2: ``addr-type;xtext`` -> ``(addr_type, decoded address)``; ValueError when bad."""
    addr_type, sep, xtext = value.partition(";")
    if not sep or not _ATOM.match(addr_type) or not xtext or len(value) > ORCPT_MAX:
        raise ValueError(f"bad ORCPT value {value!r}")
    return addr_type, xtext_decode(xtext)


def parse_rcpt_options(options: Sequence[str], *, dsn_enabled: bool = True) -> RcptDsn | Reply:
    """RCPT TO parameters, or the reply Postfix gives for the first bad one (observed texts)."""
    notify: tuple[Notify, ...] | None = None
    orcpt: tuple[str, str] | None = None
    for option in options:
        keyword, value = split_option(option)
        try:
            if keyword == "NOTIFY" and dsn_enabled and notify is None:
                notify = parse_notify(value or "")
            elif keyword == "ORCPT" and dsn_enabled and orcpt is None:
                orcpt = parse_orcpt(value or "")
            else:
                return R.unsupported_option(option)
        except ValueError:
            return R.BAD_NOTIFY_SYNTAX if keyword == "NOTIFY" else R.BAD_ORCPT_SYNTAX
    if orcpt is None:
        return RcptDsn(notify)
    return RcptDsn(notify, orcpt[1], orcpt[0])
