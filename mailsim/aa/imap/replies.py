"""Every IMAP status text the server sends, in one catalogue, and the error that carries one to the reply.

Response codes are RFC 3501 §7.1's and RFC 5530's (AUTHENTICATIONFAILED, NONEXISTENT, UNAVAILABLE,
EXPUNGEISSUED, CANNOT). Postfix parameters read: none.
"""

from __future__ import annotations

CRLF = b"\r\n"
FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
CAPABILITIES = "IMAP4rev1 LITERAL+ SASL-IR IDLE UNSELECT CHILDREN"
LOGIN_CAPABILITIES = CAPABILITIES + " AUTH=PLAIN"

TEXTS = {
    "greeting": "OK [CAPABILITY {caps}] {host} mailsim IMAP4rev1 ready.",
    "capability": "OK Capability completed.",
    "noop": "OK NOOP completed.",
    "bye": "BYE Logging out.",
    "logout": "OK Logout completed.",
    "logged_in": "OK [CAPABILITY {caps}] Logged in.",
    "auth_failed": "NO [AUTHENTICATIONFAILED] Authentication failed.",
    "auth_aborted": "BAD Authentication aborted by client.",
    "auth_mechanism": "NO Unsupported authentication mechanism.",
    "unknown": "BAD Error in IMAP command: unknown command.",
    "wrong_state": "BAD Error in IMAP command {name}: not valid in this state.",
    "syntax": "BAD Error in IMAP command {name}: {why}.",
    "untagged_bad": "BAD Error in IMAP command received by server.",
    "too_long": "BAD Error in IMAP command: command line too long.",
    "too_many_errors": "BYE Too many invalid IMAP commands.",
    "autologout": "BYE Disconnected for inactivity.",
    "uidvalidity_changed": "BYE Mailbox UIDVALIDITY changed; please reconnect.",
    "no_mailbox": "NO [NONEXISTENT] Mailbox doesn't exist: {name}",
    "unavailable": "NO [UNAVAILABLE] Mailbox cannot be opened: {why}",
    "cannot": "NO [CANNOT] Only INBOX exists on this server.",
    "read_only": "NO Mailbox is read-only.",
    "bad_set": "BAD Error in IMAP command {name}: invalid message sequence number.",
    "bad_charset": "NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset.",
    "expunge_issued": "NO [EXPUNGEISSUED] Some of the requested messages no longer exist.",
    "store_failed": "NO [UNAVAILABLE] Mailbox cannot be changed: {why}",
    "select": "OK [{access}] {verb} completed.",
    "done": "OK {name} completed.",
    "idle": "+ idling",
    "idle_done": "OK Idle completed.",
    "idle_bad": "BAD Expected DONE.",
    "continue": "+ ",
    "literal": "+ Ready for literal data",
}


def text(key: str, **values: object) -> str:
    """The catalogue text ``key`` with its blanks filled."""
    return TEXTS[key].format(**values)


def tagged(tag: str, key: str, **values: object) -> bytes:
    """``tag`` + status line: the completion of one command."""
    return f"{tag} {text(key, **values)}".encode() + CRLF


def untagged(line: str | bytes) -> bytes:
    """``* line``: data or status the client did not ask for by tag."""
    return b"* " + (line if isinstance(line, bytes) else line.encode()) + CRLF


def flag_list(flags: frozenset[str] | set[str]) -> str:
    """``(\\Seen \\Deleted)`` in the catalogue's order, ``\\Recent`` last."""
    order = [flag for flag in FLAGS if flag in flags] + (["\\Recent"] if "\\Recent" in flags else [])
    return "(" + " ".join(order) + ")"


class ImapError(Exception):
    """A command that ends with NO or BAD; ``key`` picks the catalogue text."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(text(key, **values))
        self.key = key
        self.values = values
