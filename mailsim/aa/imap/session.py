"""One IMAP4rev1 conversation without I/O: its state table and the commands outside the SELECTED state.

States (RFC 3501 §3) are one table, :data:`ALLOWED`: each command and the states it is valid in; ``execute``
is the one place that refuses a command (``BAD``) and the one place that turns :class:`ImapError` and
:class:`ParseError` into tagged ``NO``/``BAD``. Selected-state commands live in :mod:`.selected`. After
``max_errors`` refused commands the server says ``BYE``. Postfix parameters read: none.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable, Iterator, Mapping
from enum import Enum

from mailsim.aa.access import Emit, Mailboxes, no_emit
from mailsim.aa.imap.parser import Command, ParseError, Token, parse_tag
from mailsim.aa.imap.replies import (
    CAPABILITIES,
    LOGIN_CAPABILITIES,
    ImapError,
    tagged,
    text,
    untagged,
)
from mailsim.aa.imap.selected import Selected
from mailsim.core.errors import MailsimError


class State(Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


_N, _A, _S = State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED
ANY = frozenset({_N, _A, _S})
ALLOWED: dict[str, frozenset[State]] = {
    **{name: ANY for name in ("CAPABILITY", "NOOP", "LOGOUT")},
    **{name: frozenset({_N}) for name in ("LOGIN", "AUTHENTICATE")},
    **{
        name: frozenset({_A, _S})
        for name in ("SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB")
    },
    **{name: frozenset({_A, _S}) for name in ("STATUS", "APPEND", "IDLE")},
    **{
        name: frozenset({_S})
        for name in ("CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE")
    },
}
UID_FORMS = frozenset({"FETCH", "STORE", "SEARCH", "COPY", "MOVE"})
NO_EXPUNGE_REPORT = frozenset({"FETCH", "STORE", "SEARCH"})  # RFC 3501 §7.4.1
INBOX = "INBOX"


class ImapSession:
    """Feed it parsed commands, get response chunks; see the module docstring."""

    def __init__(
        self,
        *,
        hostname: str,
        credentials: Mapping[str, str],
        mailboxes: Mailboxes,
        emit: Emit = no_emit,
        max_errors: int = 20,
    ) -> None:
        self.hostname, self.credentials, self.mailboxes, self.emit = hostname, credentials, mailboxes, emit
        self.max_errors = max_errors
        self.state = State.NOT_AUTHENTICATED
        self.user: str | None = None
        self.selected: Selected | None = None
        self.errors = 0

    @property
    def closed(self) -> bool:
        """True once LOGOUT, BYE or too many errors ended the session."""
        return self.state is State.LOGOUT

    def greeting(self) -> bytes:
        """The untagged OK with the pre-login capabilities."""
        return untagged(text("greeting", caps=LOGIN_CAPABILITIES, host=self.hostname))

    def wants_continuation(self, command: Command) -> bool:
        """AUTHENTICATE without an initial response (SASL-IR) needs one more line from the client."""
        return command.name == "AUTHENTICATE" and len(command.args) == 1 and self.state is _N

    def execute(self, command: Command, continuation: bytes | None = None) -> Iterator[bytes]:
        """Run one command: untagged data chunks, then the tagged completion."""
        try:
            self._check(command)
            yield from getattr(self, f"_cmd_{command.name.lower()}")(command, continuation)
            yield from self._updates(command)
        except (ImapError, ParseError) as error:
            yield from self._refused(command, error)
            return
        except (MailsimError, OSError) as error:  # the store went bad under an open session (a damaged mbox)
            self.emit("error", command=command.name, reply=str(error), user=self.user)
            yield tagged(command.tag, "unavailable", why=type(error).__name__)
            return
        completion = self._completion(command)
        if completion:
            yield completion

    def _completion(self, command: Command) -> bytes:
        """The tagged OK of a command that succeeded (IDLE's comes with DONE)."""
        if command.name in ("LOGIN", "AUTHENTICATE"):
            return tagged(command.tag, "logged_in", caps=CAPABILITIES)
        if command.name in ("SELECT", "EXAMINE"):
            readonly = command.name == "EXAMINE"
            access, verb = ("READ-ONLY", "Examine") if readonly else ("READ-WRITE", "Select")
            return tagged(command.tag, "select", access=access, verb=verb)
        if command.name == "LOGOUT":
            return tagged(command.tag, "logout")
        if command.name == "IDLE":
            return b""
        return tagged(command.tag, "done", name=f"UID {command.name}" if command.uid else command.name)

    def _check(self, command: Command) -> None:
        if command.name not in ALLOWED:
            raise ImapError("unknown")
        if self.state not in ALLOWED[command.name]:
            raise ImapError("wrong_state", name=command.name)
        if command.uid and command.name not in UID_FORMS:
            raise ParseError(f"UID {command.name} is not a command")

    def _refused(self, command: Command, error: ImapError | ParseError) -> Iterator[bytes]:
        if isinstance(error, ImapError) and error.key == "uidvalidity_changed":
            self.state = State.LOGOUT
            yield untagged(str(error))
            return
        if isinstance(error, ParseError):
            error = ImapError("syntax", name=command.name, why=str(error))
        yield tagged(command.tag, error.key, **error.values)
        if error.key in ("unknown", "wrong_state", "syntax", "bad_set", "too_long"):
            self.errors += 1
            self.emit("error", command=command.name, reply=str(error), user=self.user)
            if self.errors >= self.max_errors:
                self.state = State.LOGOUT
                yield untagged(text("too_many_errors"))

    def bad(self, data: bytes, error: ImapError) -> list[bytes]:
        """A command that could not be read or parsed: tagged BAD when it has a tag, else ``* BAD``."""
        tag = parse_tag(data)
        if tag is None:
            self.errors += 1
            if self.errors >= self.max_errors:
                self.state = State.LOGOUT
                return [untagged(text("untagged_bad")), untagged(text("too_many_errors"))]
            return [untagged(text("untagged_bad"))]
        name = data[len(tag) + 1 :].split(b" ", 1)[0].strip().decode("ascii", "replace").upper()
        return list(self._refused(Command(tag, name, []), error))

    def abort(self) -> None:
        """The client went away: nothing is expunged (only EXPUNGE and CLOSE do that)."""
        if self.state is not State.LOGOUT and self.user is not None:
            self.emit("lost", user=self.user)
        self.state = State.LOGOUT

    def _updates(self, command: Command) -> list[bytes]:
        if self.selected is None or self.state is not _S or command.name in ("SELECT", "EXAMINE", "IDLE"):
            return []
        return self.selected.refresh(command.uid or command.name not in NO_EXPUNGE_REPORT)

    # -- any state --------------------------------------------------------------------------------------

    def _cmd_capability(self, command: Command, _: bytes | None) -> list[bytes]:
        caps = LOGIN_CAPABILITIES if self.state is _N else CAPABILITIES
        return [untagged(f"CAPABILITY {caps}")]

    def _cmd_noop(self, command: Command, _: bytes | None) -> list[bytes]:
        return []

    def _cmd_logout(self, command: Command, _: bytes | None) -> list[bytes]:
        self.emit("logout", user=self.user)
        self.state = State.LOGOUT
        return [untagged(text("bye"))]

    # -- not authenticated ------------------------------------------------------------------------------

    def _cmd_login(self, command: Command, _: bytes | None) -> list[bytes]:
        if len(command.args) != 2:
            raise ParseError("LOGIN needs a user name and a password")
        return self._authenticate(_astring(command.args[0]), _astring(command.args[1]), command)

    def _cmd_authenticate(self, command: Command, continuation: bytes | None) -> list[bytes]:
        if not command.args or _astring(command.args[0]).upper() != "PLAIN":
            raise ImapError("auth_mechanism")
        response = _astring(command.args[1]) if len(command.args) > 1 else (continuation or b"").decode().strip()
        if response == "*":
            raise ImapError("auth_aborted")
        try:
            authzid, user, password = base64.b64decode(response, validate=True).decode().split("\0")
        except (binascii.Error, ValueError):
            raise ImapError("auth_failed") from None
        if authzid and authzid != user:
            raise ImapError("auth_failed")
        return self._authenticate(user, password, command)

    def _authenticate(self, user: str, password: str, command: Command) -> list[bytes]:
        expected = self.credentials.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            self.emit("login", user=user, ok=False)
            raise ImapError("auth_failed")
        self.user, self.state = user, _A
        self.emit("login", user=user, ok=True)
        return []

    # -- authenticated ----------------------------------------------------------------------------------

    def _cmd_select(self, command: Command, _: bytes | None) -> list[bytes]:
        return self._open(command, readonly=command.name == "EXAMINE")

    _cmd_examine = _cmd_select

    def _open(self, command: Command, readonly: bool) -> list[bytes]:
        if len(command.args) != 1:
            raise ParseError(f"{command.name} needs a mailbox name")
        name = _astring(command.args[0])
        self.selected, self.state = None, _A
        if name.upper() != INBOX:
            raise ImapError("no_mailbox", name=name)
        assert self.user is not None
        try:
            self.selected = Selected(self.mailboxes(self.user), readonly, self.emit, self.user)
        except (MailsimError, OSError) as error:
            self.emit("select", user=self.user, ok=False, reason=str(error))
            raise ImapError("unavailable", why=type(error).__name__) from error
        self.state = _S
        self.emit("select", user=self.user, ok=True, exists=len(self.selected.uids), readonly=readonly)
        return self.selected.opening()

    def _cmd_list(self, command: Command, _: bytes | None) -> list[bytes]:
        if len(command.args) != 2:
            raise ParseError(f"{command.name} needs a reference and a pattern")
        reference, pattern = _astring(command.args[0]), _astring(command.args[1])
        if command.name == "LIST" and pattern == "":
            return [untagged('LIST (\\Noselect) "/" ""')]
        regex = re.escape(reference + pattern).replace(r"\*", ".*").replace("%", "[^/]*")
        if not re.fullmatch(regex, INBOX, re.IGNORECASE):
            return []
        attributes = "(\\HasNoChildren)" if command.name == "LIST" else "()"
        return [untagged(f'{command.name} {attributes} "/" {INBOX}')]

    _cmd_lsub = _cmd_list

    def _cmd_status(self, command: Command, _: bytes | None) -> list[bytes]:
        if len(command.args) != 2 or not isinstance(command.args[1], list):
            raise ParseError("STATUS needs a mailbox name and a list of items")
        name = _astring(command.args[0])
        if name.upper() != INBOX:
            raise ImapError("no_mailbox", name=name)
        assert self.user is not None
        try:
            listing = self.mailboxes(self.user).listing()
        except (MailsimError, OSError) as error:
            raise ImapError("unavailable", why=type(error).__name__) from error
        values = {
            "MESSAGES": len(listing.messages),
            "RECENT": len(listing.recent),
            "UIDNEXT": listing.uidnext,
            "UIDVALIDITY": listing.uidvalidity,
            "UNSEEN": sum(1 for m in listing.messages if "\\Seen" not in m.flags),
        }
        asked = [_astring(item).upper() for item in command.args[1]]
        if any(item not in values for item in asked):
            raise ParseError("unknown STATUS item")
        return [untagged(f"STATUS {INBOX} (" + " ".join(f"{item} {values[item]}" for item in asked) + ")")]

    def _cmd_subscribe(self, command: Command, _: bytes | None) -> list[bytes]:
        if len(command.args) != 1 or _astring(command.args[0]).upper() != INBOX:
            raise ImapError("cannot")
        return []

    _cmd_unsubscribe = _cmd_subscribe

    def _cmd_create(self, command: Command, _: bytes | None) -> list[bytes]:
        raise ImapError("cannot")

    _cmd_delete = _cmd_rename = _cmd_append = _cmd_copy = _cmd_move = _cmd_create

    def _cmd_idle(self, command: Command, _: bytes | None) -> list[bytes]:
        """Only the start: the server then waits for DONE and sends :meth:`idle_updates` meanwhile."""
        if command.args:
            raise ParseError("IDLE takes no arguments")
        return [text("idle").encode() + b"\r\n"]

    def idle_updates(self) -> list[bytes]:
        """What changed, told during IDLE (expunges included, RFC 2177)."""
        if self.selected is None:
            return []
        try:
            return self.selected.refresh(True)
        except ImapError as error:
            self.state = State.LOGOUT
            return [untagged(str(error))]

    def idle_done(self, command: Command, line: bytes) -> list[bytes]:
        """The end of IDLE: last updates and the tagged OK (BAD when the line was not DONE)."""
        ok = line.strip().upper() == b"DONE"
        return [*self.idle_updates(), tagged(command.tag, "idle_done" if ok else "idle_bad")]

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Subscribe to changes of the selected mailbox (for IDLE); a no-op when none is selected."""
        return self.selected.store.watch(callback) if self.selected is not None else (lambda: None)

    # -- selected ---------------------------------------------------------------------------------------

    def _cmd_check(self, command: Command, _: bytes | None) -> list[bytes]:
        return []

    def _cmd_close(self, command: Command, _: bytes | None) -> list[bytes]:
        assert self.selected is not None
        selected, self.selected, self.state = self.selected, None, _A
        selected.expunge(silent=True)
        return []

    def _cmd_unselect(self, command: Command, _: bytes | None) -> list[bytes]:
        self.selected, self.state = None, _A
        return []

    def _cmd_expunge(self, command: Command, _: bytes | None) -> list[bytes]:
        assert self.selected is not None
        return self.selected.expunge()

    def _cmd_fetch(self, command: Command, _: bytes | None) -> Iterator[bytes]:
        assert self.selected is not None
        return self.selected.fetch(command)

    def _cmd_store(self, command: Command, _: bytes | None) -> list[bytes]:
        assert self.selected is not None
        return self.selected.store_flags(command)

    def _cmd_search(self, command: Command, _: bytes | None) -> list[bytes]:
        assert self.selected is not None
        return self.selected.search(command)


def _astring(token: Token) -> str:
    if isinstance(token, list):
        raise ParseError("expected a string")
    return token.decode("utf-8", "replace") if isinstance(token, bytes) else token
