"""SMTP replies as values, and the catalogue of every reply mailsim's agents send (STYLE.md principle 7).

A :class:`Reply` is ``code`` (RFC 5321 §4.2), an optional RFC 3463 enhanced ``code`` and the text.
``str(reply)`` is the wire form: one line ``250 2.1.0 Ok``, or for text with newlines one line per
text line, all but the last with ``-`` after the code and each repeating the enhanced code
(RFC 5321 §4.2.1, RFC 2034 §4), joined with CRLF — what aiosmtpd's handler hooks return.

The catalogue below is the only place reply texts live. Texts are Postfix 3.7's own; the ones
marked *observed* were read off a real Postfix 3.7.11 smtpd on this machine (transcripts are kept
in ``tests/data/mail/postfix-3.7/smtpd-replies.txt`` and a test compares them), the rest follow
Postfix's ``smtpd.c``/``smtpd_check.c`` or, where Postfix has no such reply, the RFC that defines it.
Note that Postfix answers an unknown verb with ``500 5.5.2`` (observed), not 502.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mailsim.mail.enhanced import ENHANCED_CODE, explain

ReplyClass = Literal["success", "intermediate", "transient", "permanent"]

_CLASSES: dict[int, ReplyClass] = {2: "success", 3: "intermediate", 4: "transient", 5: "permanent"}
_LINE = re.compile(r"^([2-5][0-9][0-9])(?:([ -])(.*))?$")


def classify(code: int | Reply) -> ReplyClass:
    """RFC 5321 §4.2.1: the first digit says success, intermediate, transient or permanent."""
    value = code.code if isinstance(code, Reply) else int(code)
    if not 200 <= value <= 599:
        raise ValueError(f"not an SMTP reply code: {value!r} (RFC 5321 §4.2: 2yz..5yz)")
    return _CLASSES[value // 100]


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply; immutable, so catalogue constants can be shared by every simulation."""

    code: int
    enhanced: str | None
    text: str

    def __post_init__(self) -> None:
        classify(self.code)
        if self.enhanced is not None:
            match = ENHANCED_CODE.match(self.enhanced)
            if match is None or int(match.group(1)) != self.code // 100:
                raise ValueError(f"enhanced code {self.enhanced!r} does not fit reply code {self.code}")

    @property
    def lines(self) -> list[str]:
        """The wire lines without line terminators."""
        prefix = f"{self.enhanced} " if self.enhanced else ""
        if "\n" not in self.text:  # the usual one-line reply, without the loop
            body = f"{prefix}{self.text}".rstrip(" ")
            return [f"{self.code} {body}" if body else str(self.code)]
        texts = self.text.split("\n")
        out = []
        for number, text in enumerate(texts):
            sep = " " if number == len(texts) - 1 else "-"
            body = f"{prefix}{text}".rstrip(" ")
            out.append(f"{self.code}{sep}{body}" if body else f"{self.code}{sep}".rstrip(" "))
        return out

    def __str__(self) -> str:
        return "\r\n".join(self.lines)

    def oneline(self) -> str:
        """All wire lines joined by a space: how Postfix quotes a remote reply in logs and bounces."""
        return " ".join(self.lines)

    @property
    def kind(self) -> ReplyClass:
        return classify(self.code)

    @property
    def is_success(self) -> bool:
        return self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return self.code >= 500

    @property
    def status(self) -> str:
        """The DSN status for this reply: the enhanced code, else ``X.0.0`` from the reply class."""
        return self.enhanced or f"{self.code // 100}.0.0"

    def explain(self) -> str:
        """What the enhanced code means (RFC 3463), for notebooks."""
        return explain(self.status)

    def with_text(self, text: str) -> Reply:
        return Reply(self.code, self.enhanced, text)

    @classmethod
    def parse(cls, wire: str) -> Reply:
        """Read a (multi-line) reply as received; the enhanced code is taken only if every line has it."""
        raw = [line for line in re.split(r"\r?\n", wire.strip("\r\n"))]
        parsed = []
        for line in raw:
            match = _LINE.match(line)
            if match is None:
                raise ValueError(f"not an SMTP reply line: {line!r}")
            parsed.append((int(match.group(1)), match.group(3) or ""))
        codes = {code for code, _ in parsed}
        if len(codes) != 1:
            raise ValueError(f"reply lines disagree on the code: {sorted(codes)}")
        return cls.from_response(parsed[0][0], "\n".join(text for _, text in parsed))

    @classmethod
    def from_response(cls, code: int, message: str) -> Reply:
        """From a client library's (code, text) pair, e.g. aiosmtplib's ``SMTPResponse``."""
        if "\n" not in message:  # one line: the same reading without the set and the lists
            first = message.split(" ", 1)[0]
            if ENHANCED_CODE.match(first) and first[0] == str(code)[0]:
                return cls(int(code), first, message[len(first) :].lstrip(" "))
            return cls(int(code), None, message)
        texts = message.split("\n")
        firsts = {text.split(" ", 1)[0] for text in texts}
        enhanced = firsts.pop() if len(firsts) == 1 else None
        if enhanced is not None and (not ENHANCED_CODE.match(enhanced) or enhanced[0] != str(code)[0]):
            enhanced = None
        if enhanced is not None:
            texts = [text[len(enhanced) :].lstrip(" ") for text in texts]
        return cls(int(code), enhanced, "\n".join(texts))


def angle(address: str) -> str:
    """``<address>`` as Postfix quotes an address in a reply."""
    return f"<{address}>"


def remote_reason(host: str, address: str, reply: Reply, command: str) -> str:
    """Postfix smtp(8)'s wording for a remote refusal, as logged and quoted in bounces."""
    return f"host {host}[{address}] said: {reply.oneline()} (in reply to {command} command)"


# --- 2yz / 3yz ------------------------------------------------------------------------------------
def greeting(host: str, banner: str = "ESMTP Postfix") -> Reply:
    """220 greeting: ``$smtpd_banner`` defaults to ``$myhostname ESMTP $mail_name`` (observed)."""
    return Reply(220, None, f"{host} {banner}")


def system_status(text: str = "System status ok") -> Reply:
    return Reply(211, "2.0.0", text)


def help_message(text: str = "See RFC 5321") -> Reply:
    return Reply(214, "2.0.0", text)


READY_TO_START_TLS = Reply(220, "2.0.0", "Ready to start TLS")
BYE = Reply(221, "2.0.0", "Bye")  # observed
AUTH_SUCCESSFUL = Reply(235, "2.7.0", "Authentication successful")
OK = Reply(250, "2.0.0", "Ok")  # observed (RSET, NOOP)
SENDER_OK = Reply(250, "2.1.0", "Ok")  # observed
RCPT_OK = Reply(250, "2.1.5", "Ok")  # observed
START_MAIL_INPUT = Reply(354, None, "End data with <CR><LF>.<CR><LF>")  # observed


def helo_ok(host: str) -> Reply:
    """250 to HELO: just ``$myhostname`` (observed)."""
    return Reply(250, None, host)


def queued(queue_id: str) -> Reply:
    """250 after DATA: the queue id a sender quotes when asking the postmaster (observed)."""
    return Reply(250, "2.0.0", f"Ok: queued as {queue_id}")


def will_forward(forward_path: str) -> Reply:
    """RFC 5321 §3.4: 251 User not local; will forward."""
    return Reply(251, "2.1.5", f"User not local; will forward to {angle(forward_path)}")


def cannot_verify(address: str) -> Reply:
    """252 to VRFY: Postfix never confirms a mailbox (smtpd.c vrfy_cmd)."""
    return Reply(252, "2.0.0", address)


def auth_challenge(data: str = "") -> Reply:
    """334 continuation of an AUTH exchange (RFC 4954 §4), base64 text."""
    return Reply(334, None, data)


# --- 4yz ------------------------------------------------------------------------------------------
def timeout_exceeded(host: str) -> Reply:
    """421 when the client is idle longer than smtpd_timeout (observed)."""
    return Reply(421, "4.4.2", f"{host} Error: timeout exceeded")


def too_many_errors(host: str) -> Reply:
    """421 after smtpd_hard_error_limit errors."""
    return Reply(421, "4.7.0", f"{host} Error: too many errors")


def too_many_connections(host: str, client_address: str) -> Reply:
    """421 from anvil's smtpd_client_connection_count_limit."""
    return Reply(421, "4.7.0", f"{host} Error: too many connections from {client_address}")


def service_unavailable(host: str) -> Reply:
    """RFC 5321 §3.8: 421 when the server must close the channel."""
    return Reply(421, "4.3.2", f"{host} Service not available, closing transmission channel")


def domain_not_found(address: str, *, sender: bool = False) -> Reply:
    """450 from reject_unknown_{sender,recipient}_domain (smtpd_check.c, smtpd_nullmx.ref)."""
    role, enhanced = ("Sender", "4.1.8") if sender else ("Recipient", "4.1.2")
    return Reply(450, enhanced, f"{angle(address)}: {role} address rejected: Domain not found")


def helo_host_not_found(helo: str) -> Reply:
    """450 from reject_unknown_helo_hostname (smtpd_nullmx.ref)."""
    return Reply(450, "4.7.1", f"{angle(helo)}: Helo command rejected: Host not found")


def too_much_mail(client_address: str) -> Reply:
    """450 at MAIL FROM over anvil's smtpd_client_message_rate_limit (smtpd.c mail_cmd)."""
    return Reply(450, "4.7.1", f"Error: too much mail from {client_address}")


def too_many_recipients_from(client_address: str) -> Reply:
    """450 at RCPT TO over anvil's smtpd_client_recipient_rate_limit (smtpd.c rcpt_cmd)."""
    return Reply(450, "4.7.1", f"Error: too many recipients from {client_address}")


def temporary_lookup_failure(address: str) -> Reply:
    """451 when a table or transport lookup fails (observed)."""
    return Reply(451, "4.3.0", f"{angle(address)}: Temporary lookup failure")


QUEUE_FILE_WRITE_ERROR = Reply(451, "4.3.0", "Error: queue file write error")
INSUFFICIENT_STORAGE = Reply(452, "4.3.1", "Insufficient system storage")
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Error: too many recipients")  # observed
TLS_NOT_AVAILABLE = Reply(454, "4.7.0", "TLS not available due to local problem")
PARAMETERS_NOT_ACCOMMODATED = Reply(455, "4.5.4", "Server unable to accommodate parameters")


def relay_deferred(address: str) -> Reply:
    """454 from defer_unauth_destination (Postfix 3 default smtpd_relay_restrictions)."""
    return Reply(454, "4.7.1", f"{angle(address)}: Relay access denied")


def deferred_by_policy(address: str, text: str, *, role: str = "Recipient address") -> Reply:
    """450 from an access(5) DEFER or a policy service's DEFER_IF_* action."""
    return Reply(450, "4.7.1", f"{angle(address)}: {role} rejected: {text}")


# --- 5yz ------------------------------------------------------------------------------------------
COMMAND_NOT_RECOGNIZED = Reply(500, "5.5.2", "Error: command not recognized")  # observed
LINE_TOO_LONG = Reply(500, "5.5.2", "Error: line too long")
SYNTAX_MAIL = Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>")  # observed
SYNTAX_RCPT = Reply(501, "5.5.4", "Syntax: RCPT TO:<address>")  # observed
SYNTAX_HELO = Reply(501, None, "Syntax: HELO hostname")  # observed
SYNTAX_EHLO = Reply(501, None, "Syntax: EHLO hostname")  # observed
BAD_SENDER_SYNTAX = Reply(501, "5.1.7", "Bad sender address syntax")
BAD_RECIPIENT_SYNTAX = Reply(501, "5.1.3", "Bad recipient address syntax")  # observed
BAD_SIZE_SYNTAX = Reply(501, "5.5.4", "Bad message size syntax")  # observed
BAD_RET_SYNTAX = Reply(501, "5.5.4", "Bad RET parameter syntax")  # observed
BAD_ENVID_SYNTAX = Reply(501, "5.5.4", "Bad ENVID parameter syntax")  # observed
BAD_NOTIFY_SYNTAX = Reply(501, "5.5.4", "Error: Bad NOTIFY parameter syntax")  # observed
BAD_ORCPT_SYNTAX = Reply(501, "5.5.4", "Error: Bad ORCPT parameter syntax")  # observed
VRFY_DISABLED = Reply(502, "5.5.1", "VRFY command is disabled")
NEED_HELO = Reply(503, "5.5.1", "Error: send HELO/EHLO first")
NEED_MAIL = Reply(503, "5.5.1", "Error: need MAIL command")  # observed
NEED_RCPT = Reply(503, "5.5.1", "Error: need RCPT command")  # observed
NESTED_MAIL = Reply(503, "5.5.1", "Error: nested MAIL command")  # observed
AUTH_NOT_ENABLED = Reply(503, "5.5.1", "Error: authentication not enabled")  # observed
ALREADY_AUTHENTICATED = Reply(503, "5.5.1", "Error: already authenticated")
AUTH_IN_MAIL_TRANSACTION = Reply(503, "5.5.1", "Error: MAIL transaction in progress")
UNRECOGNIZED_AUTH_TYPE = Reply(504, "5.5.4", "Unrecognized authentication type")  # RFC 4954 §6
STARTTLS_REQUIRED = Reply(530, "5.7.0", "Must issue a STARTTLS command first")  # observed


def client_denied(client: str) -> Reply:
    """503 to every command but QUIT after a client refused at connect (smtpd_delay_reject = no; observed)."""
    return Reply(503, "5.7.0", f"Error: access denied for {client}")
AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")  # RFC 4954 §6
AUTH_MECHANISM_TOO_WEAK = Reply(534, "5.7.9", "Authentication mechanism is too weak")  # RFC 4954 §6
ENCRYPTION_REQUIRED_FOR_AUTH = Reply(538, "5.7.11", "Encryption required for requested authentication mechanism")
MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message size exceeds fixed limit")  # observed (SIZE= at MAIL)
MESSAGE_FILE_TOO_BIG = Reply(552, "5.3.4", "Error: message file too big")  # observed (after DATA)
NO_VALID_RECIPIENTS = Reply(554, "5.5.1", "Error: no valid recipients")  # observed
TOO_MANY_HOPS = Reply(554, "5.4.0", "Error: too many hops")


def syntax(verb: str) -> Reply:
    """501 for a verb that takes no argument but got one, e.g. ``RSET x`` (observed)."""
    return Reply(501, "5.5.4", f"Syntax: {verb}")


def need_fqdn(address: str, *, role: str = "Recipient address") -> Reply:
    """504 from reject_non_fqdn_sender/recipient (observed) or reject_non_fqdn_helo_hostname."""
    what = "need fully-qualified hostname" if role == "Helo command" else "need fully-qualified address"
    return Reply(504, "5.5.2", f"{angle(address)}: {role} rejected: {what}")


def host_does_not_accept_mail(host: str) -> Reply:
    """RFC 7504: 521 from a host that never accepts mail."""
    return Reply(521, "5.3.2", f"{host} does not accept mail")


def auth_failed(reason: str = "authentication failure") -> Reply:
    """535 for wrong SASL credentials; the reason is the SASL library's (Cyrus: this default)."""
    return Reply(535, "5.7.8", f"Error: authentication failed: {reason}")


def user_unknown(address: str, table: str = "local recipient table") -> Reply:
    """550 from reject_unlisted_recipient (observed); table: local recipient, virtual mailbox, virtual alias."""
    return Reply(550, "5.1.1", f"{angle(address)}: Recipient address rejected: User unknown in {table}")


def mailbox_unavailable(address: str, text: str = "mailbox unavailable") -> Reply:
    """550 from an error(8) transport seen at RCPT time (observed with ``error:5.1.1 mailbox unavailable``)."""
    return Reply(550, "5.1.1", f"{angle(address)}: Recipient address rejected: {text}")


def access_denied(address: str, *, role: str = "Recipient address", code: int = 554) -> Reply:
    """554 5.7.1 from an access(5) REJECT (``role`` is Client host, Helo command, Sender address, ...)."""
    return Reply(code, "5.7.1", f"{angle(address)}: {role} rejected: Access denied")


def rejected(address: str, text: str, *, role: str = "Recipient address", code: int = 550) -> Reply:
    """A policy rejection with the text an access table or policy service supplied."""
    enhanced = "5.7.1" if code >= 500 else "4.7.1"
    return Reply(code, enhanced, f"{angle(address)}: {role} rejected: {text}")


def user_not_local(forward_path: str) -> Reply:
    """RFC 5321 §3.4: 551 User not local; please try <forward-path>."""
    return Reply(551, "5.1.6", f"User not local; please try {angle(forward_path)}")


def mailbox_full(address: str) -> Reply:
    return Reply(552, "5.2.2", f"{angle(address)}: Recipient address rejected: Mailbox full")


def sender_not_owned(address: str, user: str) -> Reply:
    """553 from reject_sender_login_mismatch."""
    return Reply(553, "5.7.1", f"{angle(address)}: Sender address rejected: not owned by user {user}")


def relay_denied(address: str) -> Reply:
    """554 from reject_unauth_destination: the open-relay guard (observed)."""
    return Reply(554, "5.7.1", f"{angle(address)}: Relay access denied")


def blocked_by_rbl(client_address: str, rbl_domain: str) -> Reply:
    """554 from reject_rbl_client with Postfix's default_rbl_reply."""
    return Reply(554, "5.7.1", f"Service unavailable; Client host [{client_address}] blocked using {rbl_domain}")


def spf_fail(text: str) -> Reply:
    """550 5.7.23 for an SPF fail verdict (RFC 7372 §3.2), text from the policy service."""
    return Reply(550, "5.7.23", text)


def dmarc_reject(domain: str) -> Reply:
    """550 5.7.1 for a DMARC p=reject verdict, OpenDMARC's wording."""
    return Reply(550, "5.7.1", f"rejected by DMARC policy for {domain}")


def unsupported_option(option: str) -> Reply:
    """555 for an ESMTP parameter the server does not know or did not announce (observed)."""
    return Reply(555, "5.5.4", f"Unsupported option: {option}")


def null_mx(address: str, domain: str) -> Reply:
    """556 for a recipient whose domain publishes a null MX (RFC 7505 §3)."""
    return Reply(
        556, "5.1.10", f"{angle(address)}: Recipient address rejected: Domain {domain} does not accept mail (nullMX)"
    )


def null_mx_reason(domain: str) -> str:
    """smtp(8)'s bounce reason for a null MX destination (dns_lookup.c)."""
    return f"Domain {domain} does not accept mail (nullMX)"
