"""What the SMTP server says about the protocol itself, in Postfix's words, and its EHLO keyword list.

aiosmtpd parses commands, addresses and the DATA stream, but its own replies carry no enhanced status codes and
its wording is not Postfix's. This module maps aiosmtpd's fixed texts to the replies Postfix 3.7's smtpd gives
(from the catalogue :mod:`mailsim.mail.reply`; the few it lacks are below, each observed on a real Postfix
3.7.11 or quoted from its source), lists the EHLO keywords in Postfix's order and applies Postfix's stricter
address syntax where aiosmtpd is lenient (``<a b>``, ``<bad``). ESMTP parameters are checked with
:mod:`mailsim.mail.envelope`'s parsers, which give Postfix's replies too.

Differences from Postfix that remain (README "what is and is not modelled"): a command line longer than
``line_length_limit`` gets ``500 5.5.2 Error: line too long`` (Postfix silently truncates it); a DATA line over
64 KiB gets the same reply after the final dot (Postfix takes any length); AUTH needs EHLO, not HELO; there
is no CHUNKING/BDAT, ETRN, XCLIENT or XFORWARD.

Postfix parameters read: none (values arrive through :class:`~mailsim.engine.server.ServerSettings`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mailsim.config import tok822
from mailsim.mail import reply as R
from mailsim.mail.envelope import MailParams, RcptDsn, parse_mail_options, parse_rcpt_options
from mailsim.mail.reply import Reply

if TYPE_CHECKING:
    from mailsim.engine.hooks import SmtpSession
    from mailsim.engine.settings import ServerSettings

# Postfix replies the catalogue does not hold (yet); observed on Postfix 3.7.11 unless a source is named.
BAD_SYNTAX = Reply(500, "5.5.2", "Error: bad syntax")
BAD_UTF8 = Reply(500, "5.5.2", "Error: bad UTF-8 syntax")
NO_TLS = Reply(502, "5.5.1", "Error: command not implemented")  # STARTTLS without a certificate
TLS_ACTIVE = Reply(554, "5.5.1", "Error: TLS already active")
AUTH_NEEDS_TLS = Reply(504, "5.5.4", "Encryption required for requested authentication mechanism")  # sasl_proto.c
AUTH_ABORTED = Reply(501, "5.7.0", "Authentication aborted")  # smtpd_sasl_glue.c
AUTH_BAD_MECHANISM = R.auth_failed("Invalid authentication mechanism")  # Dovecot SASL's reason text
AUTH_BAD_BASE64 = R.auth_failed("Invalid base64 data in continued response")  # Dovecot SASL's reason text
AUTH_BAD_INITIAL = R.auth_failed("Invalid base64 data in initial response")  # Dovecot SASL's reason text


def internal_error(hostname: str) -> Reply:
    """A hook raised: the session ends, nothing is queued (ours; Postfix would log a fatal error)."""
    return Reply(421, "4.3.0", f"{hostname} Error: internal error")


# aiosmtpd's fixed replies and the Postfix reply sent instead; (verb, text) keys win over plain text keys.
AIOSMTPD_REPLIES: dict[object, Reply] = {
    "500 Error: bad syntax": BAD_SYNTAX,
    "500 Error: strict ASCII mode": BAD_UTF8,
    "500 Command line too long": R.LINE_TOO_LONG,
    "500 Line too long (see RFC5321 4.5.3.1.6)": R.LINE_TOO_LONG,
    "552 Error: Too much mail data": R.MESSAGE_FILE_TOO_BIG,
    "503 Error: need MAIL command": R.NEED_MAIL,
    "503 Error: need RCPT command": R.NEED_RCPT,
    "503 Error: nested MAIL command": R.NESTED_MAIL,
    "503 Error: send HELO first": R.NEED_HELO,
    "501 Syntax: HELO hostname": R.SYNTAX_HELO,
    "501 Syntax: EHLO hostname": R.SYNTAX_EHLO,
    "501 Syntax: MAIL FROM: <address>": R.SYNTAX_MAIL,
    "501 Syntax: MAIL FROM: <address> [SP <mail-parameters>]": R.SYNTAX_MAIL,
    "501 Syntax: RCPT TO: <address>": R.SYNTAX_RCPT,
    "501 Syntax: RCPT TO: <address> [SP <mail-parameters>]": R.SYNTAX_RCPT,
    "501 Syntax: RSET": R.syntax("RSET"),
    "501 Syntax: DATA": R.syntax("DATA"),
    "501 Syntax: VRFY <address>": R.syntax("VRFY address"),
    "501 Syntax: STARTTLS": R.syntax("STARTTLS"),
    "552 Error: message size exceeds fixed maximum message size": R.MESSAGE_TOO_BIG,
    "354 End data with <CR><LF>.<CR><LF>": R.START_MAIL_INPUT,
    "220 Ready to start TLS": R.READY_TO_START_TLS,
    "454 TLS not available": NO_TLS,
    "250 OK": R.OK,
    "221 Bye": R.BYE,
    "500 Error: command 'AUTH' not recognized": R.AUTH_NOT_ENABLED,
    "538 5.7.11 Encryption required for requested authentication mechanism": AUTH_NEEDS_TLS,
    "503 Already authenticated": R.ALREADY_AUTHENTICATED,
    "501 Not enough value": R.syntax("AUTH mechanism"),
    "501 Too many values": R.syntax("AUTH mechanism"),
    "504 5.5.4 Unrecognized authentication type": AUTH_BAD_MECHANISM,
    "501 5.7.0 Auth aborted": AUTH_ABORTED,
    "501 5.5.2 Can't decode base64": AUTH_BAD_BASE64,
    ("MAIL", "553 5.1.3 Error: malformed address"): R.BAD_SENDER_SYNTAX,
    ("RCPT", "553 5.1.3 Error: malformed address"): R.BAD_RECIPIENT_SYNTAX,
}


def ehlo_keywords(
    *,
    size_limit: int,
    starttls: bool,
    auth_mechanisms: Sequence[str],
    smtputf8: bool,
    pipelining: bool,
    vrfy: bool = True,
) -> list[str]:
    """The EHLO extension keywords in the order Postfix's smtpd lists them (those we implement)."""
    words = ["PIPELINING"] if pipelining else []
    words.append(f"SIZE {size_limit}" if size_limit else "SIZE")
    if vrfy:  # disable_vrfy_command = yes also hides it (smtpd.c ehlo_cmd)
        words.append("VRFY")
    if starttls:
        words.append("STARTTLS")
    if auth_mechanisms:
        words.append("AUTH " + " ".join(auth_mechanisms))
    words += ["ENHANCEDSTATUSCODES", "8BITMIME", "DSN"]
    if smtputf8:
        words.append("SMTPUTF8")
    return words


def ehlo_lines(settings: ServerSettings, *, tls_offered: bool, tls_active: bool) -> list[str]:
    """The whole EHLO reply, one string per line: ``250-hostname`` and the keywords."""
    offer_auth = settings.auth_enabled and (tls_active or not settings.auth_require_tls)
    words = ehlo_keywords(
        size_limit=settings.data_size_limit,
        starttls=tls_offered,
        auth_mechanisms=settings.auth_mechanisms if offer_auth else (),
        smtputf8=settings.enable_smtputf8,
        pipelining=settings.pipelining,
        vrfy=not settings.vrfy_disabled,
    )
    lines = [settings.hostname, *words]
    return [f"250{'-' if i < len(lines) - 1 else ' '}{text}" for i, text in enumerate(lines)]


def valid_utf8(text: str) -> bool:
    """aiosmtpd decodes arguments with surrogateescape; Postfix refuses a command that is not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_SIMPLE = re.compile(rf"<(|{_ATEXT}+(?:\.{_ATEXT}+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(?:[ \t]+(.*))?")
_ADDRESS = re.compile(r'<?(?:"(?:[^"\\]|\\.)*"|[^\s<>"])*>?')


def address_syntax_ok(text: str) -> bool:
    """Postfix's stricter view of an address aiosmtpd accepted: balanced brackets, no bare spaces."""
    text = text.strip()
    return bool(_ADDRESS.fullmatch(text)) and text.startswith("<") == text.endswith(">")


def simple_address(text: str) -> tuple[str, str] | None:
    """``<dot-atom@domain> params`` or ``<> params`` without the (slow) email header parser; None otherwise.

    The result is what aiosmtpd's ``_getaddr`` returns for these forms: ``(address, rest)``, ``<>`` for the
    null path. Anything else (quoted local parts, source routes, bare addresses) goes to aiosmtpd.
    """
    found = _SIMPLE.fullmatch(text)
    if found is None:
        return None
    return found.group(1) or "<>", (found.group(2) or "").strip()


Path = tuple[str, str, tuple[str, ...], MailParams | RcptDsn]
GetAddr = Callable[[str], "tuple[str | None, str | None]"]


def check_path(
    keyword: str, arg: str, getaddr: GetAddr, bad_address: Reply, settings: ServerSettings
) -> Path | Reply | None:
    """``FROM:<path> params`` / ``TO:<path> params`` checked as Postfix does.

    Returns ``(path, address, parameters, parsed)`` where ``path`` is the address as written, or the reply for
    a bad address or parameter, or None when aiosmtpd should see the argument unchanged (it answers the syntax
    error itself). ``getaddr`` is aiosmtpd's address parser, so addresses mean what aiosmtpd makes of them.
    """
    if arg[: len(keyword)].upper() != keyword:
        return None
    body = arg[len(keyword) :].strip()
    address, rest = getaddr(body)
    if address is None:
        return None
    path = (body[: len(body) - len(rest)] if rest else body).strip()
    if not address_syntax_ok(path) or (keyword == "TO:" and address == "<>"):
        return bad_address
    tokens = tuple(rest.split()) if rest else ()
    parsed: MailParams | RcptDsn | Reply
    if keyword == "FROM:":
        parsed = parse_mail_options(
            tokens, size_limit=settings.data_size_limit, smtputf8_enabled=settings.enable_smtputf8
        )
    else:
        parsed = parse_rcpt_options(tokens)
    return parsed if isinstance(parsed, Reply) else (path, address, tokens, parsed)


def vrfy_address(arg: str) -> str | None:
    """The address in a VRFY argument as smtpd's extract_addr() takes it (sloppy, empty refused); None: bad.

    A ``<...>`` part is the address (a phrase before it is allowed); without one the whole argument must be one
    address: two words in a row (``bob@example.com extra``) or a second ``<...>`` are refused, as is ``<>``.
    """
    tokens = [token for token in tok822.scan(arg) if token.type != "comment"]
    if any(token.type == "<" for token in tokens):
        opening = next(i for i, token in enumerate(tokens) if token.type == "<")
        closing = next((i for i, token in enumerate(tokens) if token.type == ">" and i > opening), len(tokens))
        if any(token.type in "<>" for token in tokens[closing + 1 :]):
            return None
        tokens = tokens[opening + 1 : closing]
    words = [token.type in tok822.WORDS for token in tokens]
    if not tokens or any(a and b for a, b in zip(words, words[1:], strict=False)):
        return None
    return tok822.internalize(tokens)


async def denial(hooks: Any, session: SmtpSession) -> Reply:
    """The reply to every command after a connect refusal: the hooks' optional ``denied``, else by address."""
    denied = getattr(hooks, "denied", None)
    if denied is not None:
        return await denied(session)  # type: ignore[no-any-return]
    return R.client_denied(f"unknown[{session.peer_ip}]")


HEADER_NAME = re.compile(r"[!-9;-~]+:")  # is_header(): a message header name and its colon
BREAK_RULES = Reply(221, "2.7.0", "Error: I can break rules, too. Goodbye.")  # observed


def default_forbidden(word: str) -> bool:
    """smtpd_forbidden_commands' default, ``CONNECT GET POST regexp:{{/^[^A-Z]/ Bogus}}`` (case-insensitive)."""
    return word.upper() in ("CONNECT", "GET", "POST") or not ("A" <= word[:1].upper() <= "Z")


def non_smtp(word: str, forbidden: Callable[[str], bool]) -> bool:
    """smtpd.c: an unknown verb that is a header name or a forbidden command ends the session (221 2.7.0)."""
    return bool(HEADER_NAME.match(word)) or forbidden(word)
