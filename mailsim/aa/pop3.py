"""POP3 access agent (RFC 1939, CAPA and response codes of RFC 2449): "all at once", as the seed says.

Theory of operation
-------------------
:class:`Pop3Session` is the protocol without I/O: ``handle(line)`` returns the reply chunks for one command
line. Its states are one table (:data:`ALLOWED`: which command is valid in AUTHORIZATION and TRANSACTION) with
one place that refuses a command (``-ERR`` and the session goes on). :class:`Pop3Server` owns nothing but
the per-connection loop over asyncio streams, so the same code serves on a stock loop over 127.0.0.1 and on
``SimLoop`` in virtual time (``await server.start(host, 110)`` or ``asyncio.start_server(server.handle, ...)``).

- The maildrop is listed once at login: message numbers, sizes (octets with CRLF) and UIDLs (Dovecot's
  ``%08Xu%08Xv``) hold for the session. DELE only marks; QUIT in TRANSACTION enters UPDATE, which marks the
  retrieved messages ``\\Seen`` (Dovecot's default) and expunges the deleted ones. A client that vanishes or
  times out (10 minutes, RFC 1939 §3) changes nothing; a second session for the same user gets ``[IN-USE]``.
- Lines go out with "." byte-stuffed and end with ".". A command line longer than 255 octets (RFC 2449 §4)
  gets ``-ERR`` and is dropped; after ``max_errors`` errors the server says goodbye and closes.
- USER/PASS and APOP (when ``apop=True``, with a greeting time stamp made from the session counter and the
  loop's clock); no SASL and no STLS are advertised.
- ``emit(event, **fields)`` observes: connect, login, retr, top, dele, quit, lost, error (with byte counts).

Postfix parameters read: none (POP3 is Dovecot's job next to Postfix).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable, Mapping
from enum import Enum
from itertools import count

from mailsim.aa.access import Emit, LineTooLong, Mailboxes, MessageInfo, MessageStore, no_emit, peer_of, read_line
from mailsim.core.errors import MailsimError

MAX_LINE = 255  # RFC 2449 §4, including CRLF
AUTOLOGOUT = 600.0  # RFC 1939 §3: at least 10 minutes
CRLF = b"\r\n"


class State(Enum):
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    UPDATE = "update"


_A, _T = State.AUTHORIZATION, State.TRANSACTION
ALLOWED: dict[str, frozenset[State]] = {
    "CAPA": frozenset({_A, _T}),
    "QUIT": frozenset({_A, _T}),
    "USER": frozenset({_A}),
    "PASS": frozenset({_A}),
    "APOP": frozenset({_A}),
    **{verb: frozenset({_T}) for verb in ("STAT", "LIST", "UIDL", "RETR", "DELE", "TOP", "RSET", "NOOP")},
}

REPLIES = {
    "greeting": "+OK {host} POP3 server ready{stamp}",
    "capa": "+OK Capability list follows",
    "user": "+OK",
    "logged_in": "+OK Logged in.",
    "no_user": "-ERR No username given.",
    "auth_failed": "-ERR [AUTH] Authentication failed.",
    "in_use": "-ERR [IN-USE] Mailbox is locked by another POP3 session.",
    "unavailable": "-ERR [SYS/TEMP] Mailbox unavailable: {why}",
    "no_apop": "-ERR APOP is not enabled.",
    "unknown": "-ERR Unknown command.",
    "wrong_state": "-ERR Command not valid in this state.",
    "too_long": "-ERR Line too long.",
    "args": "-ERR Invalid arguments.",
    "bad_number": "-ERR Invalid message number: {arg}",
    "no_message": "-ERR There's no message {number}.",
    "deleted_already": "-ERR Message {number} is deleted.",
    "gone": "-ERR [SYS/TEMP] Message {number} no longer exists.",
    "stat": "+OK {count} {size}",
    "list_all": "+OK {count} messages:",
    "one": "+OK {number} {value}",
    "uidl_all": "+OK",
    "retr": "+OK {size} octets",
    "top": "+OK",
    "dele": "+OK Marked to be deleted.",
    "rset": "+OK",
    "noop": "+OK",
    "bye": "+OK Logging out.",
    "bye_deleted": "+OK Logging out, messages deleted.",
    "update_failed": "-ERR [SYS/TEMP] Some deleted messages were not removed.",
    "too_many_errors": "-ERR Too many bad commands, closing connection.",
    "autologout": "-ERR Disconnected for inactivity.",
}
CAPABILITIES = ("TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION mailsim")


def reply(name: str, **values: object) -> bytes:
    """One status line from the catalogue."""
    return REPLIES[name].format(**values).encode() + CRLF


def stuffed(content: bytes) -> bytes:
    """RFC 1939 §3 multi-line body: CRLF lines, a leading "." doubled, ended by ".", CRLF."""
    if content and not content.endswith(CRLF):
        content += CRLF
    lines = content.split(CRLF)[:-1] if content else []
    return b"".join((b"." + line if line.startswith(b".") else line) + CRLF for line in lines) + b"." + CRLF


class Pop3Session:
    """One POP3 conversation without I/O: feed command lines, get reply chunks; see the module docstring."""

    def __init__(
        self,
        *,
        hostname: str,
        credentials: Mapping[str, str],
        mailboxes: Mailboxes,
        emit: Emit = no_emit,
        stamp: str = "",
        in_use: set[str] | None = None,
        max_errors: int = 20,
    ) -> None:
        self.hostname, self.credentials, self.mailboxes, self.emit = hostname, credentials, mailboxes, emit
        self.stamp, self.in_use, self.max_errors = stamp, in_use if in_use is not None else set(), max_errors
        self.state = State.AUTHORIZATION
        self.closed = False
        self.errors = 0
        self.user: str | None = None
        self.store: MessageStore | None = None
        self.messages: list[MessageInfo] = []
        self.deleted: set[int] = set()
        self.retrieved: set[int] = set()
        self.sent = 0

    def greeting(self) -> bytes:
        """The +OK banner (with the APOP time stamp when APOP is on)."""
        return reply("greeting", host=self.hostname, stamp=f" {self.stamp}" if self.stamp else "")

    def handle(self, line: bytes) -> list[bytes]:
        """The reply to one command line (with its CRLF or LF)."""
        text = line.rstrip(b"\r\n").decode("utf-8", "replace")
        verb, _, rest = text.partition(" ")
        verb = verb.upper()
        if verb not in ALLOWED:
            return self._error(verb, "unknown")
        if self.state not in ALLOWED[verb]:
            return self._error(verb, "wrong_state")
        chunks = getattr(self, f"_do_{verb.lower()}")(rest.split() if verb != "PASS" else [rest])
        self.sent += sum(map(len, chunks))
        return chunks

    def too_long(self) -> list[bytes]:
        """The reply to a line over 255 octets, which was read and dropped."""
        return self._error("", "too_long")

    def abort(self, why: str = "lost") -> None:
        """The connection ended without QUIT: nothing is deleted or marked (RFC 1939 §6)."""
        if self.user is not None and self.state is State.TRANSACTION:
            self.emit(why, user=self.user, deleted=0, kept=len(self.messages), bytes=self.sent)
            self.in_use.discard(self.user)
        self.state, self.closed = State.UPDATE, True

    # -- helpers ----------------------------------------------------------------------------------------

    def _error(self, command: str, name: str, **values: object) -> list[bytes]:
        self.errors += 1
        line = reply(name, **values)
        self.emit("error", command=command, reply=line.decode().rstrip(), user=self.user)
        if self.errors >= self.max_errors:
            self.abort("lost")
            return [line, reply("too_many_errors")]
        return [line]

    def _number(self, verb: str, arg: str) -> int | list[bytes]:
        """A message number that exists and is not deleted, or the error reply."""
        if not arg.isdigit():
            return self._error(verb, "bad_number", arg=arg)
        number = int(arg)
        if not 1 <= number <= len(self.messages):
            return self._error(verb, "no_message", number=number)
        if number in self.deleted:
            return self._error(verb, "deleted_already", number=number)
        return number

    def _live(self) -> list[tuple[int, MessageInfo]]:
        return [(n, m) for n, m in enumerate(self.messages, start=1) if n not in self.deleted]

    # -- AUTHORIZATION ----------------------------------------------------------------------------------

    def _do_capa(self, args: list[str]) -> list[bytes]:
        return [reply("capa") + b"".join(c.encode() + CRLF for c in CAPABILITIES) + b"." + CRLF]

    def _do_user(self, args: list[str]) -> list[bytes]:
        if len(args) != 1:
            return self._error("USER", "args")
        self.user = args[0]
        return [reply("user")]

    def _do_pass(self, args: list[str]) -> list[bytes]:
        if self.user is None:
            return self._error("PASS", "no_user")
        expected = self.credentials.get(self.user)
        if expected is None or not hmac.compare_digest(expected.encode(), args[0].encode()):
            return self._failed()
        return self._login()

    def _do_apop(self, args: list[str]) -> list[bytes]:
        if not self.stamp:
            return self._error("APOP", "no_apop")
        if len(args) != 2:
            return self._error("APOP", "args")
        self.user, digest = args
        expected = self.credentials.get(self.user)
        wanted = hashlib.md5((self.stamp + (expected or "")).encode()).hexdigest()
        if expected is None or not hmac.compare_digest(wanted, digest.lower()):
            return self._failed()
        return self._login()

    def _failed(self) -> list[bytes]:
        self.emit("login", user=self.user, ok=False)
        chunks = self._error("PASS", "auth_failed")
        self.user = None
        return chunks

    def _login(self) -> list[bytes]:
        assert self.user is not None
        if self.user in self.in_use:
            self.emit("login", user=self.user, ok=False, reason="in-use")
            return self._error("PASS", "in_use")
        try:
            store = self.mailboxes(self.user)
            listing = store.listing()
        except (MailsimError, OSError) as error:
            self.emit("login", user=self.user, ok=False, reason=str(error))
            return self._error("PASS", "unavailable", why=type(error).__name__)
        self.store, self.messages = store, list(listing.messages)
        self.in_use.add(self.user)
        self.state = State.TRANSACTION
        self.emit("login", user=self.user, ok=True, messages=len(self.messages))
        return [reply("logged_in")]

    # -- TRANSACTION ------------------------------------------------------------------------------------

    def _do_stat(self, args: list[str]) -> list[bytes]:
        live = self._live()
        return [reply("stat", count=len(live), size=sum(m.size for _, m in live))]

    def _do_list(self, args: list[str]) -> list[bytes]:
        return self._scan_listing("LIST", args, lambda m: str(m.size), "list_all")

    def _do_uidl(self, args: list[str]) -> list[bytes]:
        return self._scan_listing("UIDL", args, lambda m: m.uidl, "uidl_all")

    def _scan_listing(self, verb: str, args: list[str], show: Callable[[MessageInfo], str], head: str) -> list[bytes]:
        if len(args) > 1:
            return self._error(verb, "args")
        if args:
            number = self._number(verb, args[0])
            if isinstance(number, list):
                return number
            return [reply("one", number=number, value=show(self.messages[number - 1]))]
        live = self._live()
        lines = b"".join(f"{n} {show(m)}".encode() + CRLF for n, m in live)
        return [reply(head, count=len(live)) + lines + b"." + CRLF]

    def _do_retr(self, args: list[str]) -> list[bytes]:
        return self._send("RETR", args, 1, None)

    def _do_top(self, args: list[str]) -> list[bytes]:
        if len(args) != 2 or not args[1].isdigit():
            return self._error("TOP", "args")
        return self._send("TOP", args, 2, int(args[1]))

    def _send(self, verb: str, args: list[str], wanted: int, lines: int | None) -> list[bytes]:
        if len(args) != wanted:
            return self._error(verb, "args")
        number = self._number(verb, args[0])
        if isinstance(number, list):
            return number
        message = self.messages[number - 1]
        assert self.store is not None
        try:
            content = self.store.fetch(message.uid)
        except (KeyError, MailsimError, OSError):
            return self._error(verb, "gone", number=number)
        if lines is None:
            self.retrieved.add(number)
            head = reply("retr", size=message.size)
        else:
            content, head = _top(content, lines), reply("top")
        body = stuffed(content)
        self.emit(verb.lower(), user=self.user, number=number, uid=message.uid, bytes=len(head) + len(body))
        return [head, body]

    def _do_dele(self, args: list[str]) -> list[bytes]:
        if len(args) != 1:
            return self._error("DELE", "args")
        number = self._number("DELE", args[0])
        if isinstance(number, list):
            return number
        self.deleted.add(number)
        self.emit("dele", user=self.user, number=number, uid=self.messages[number - 1].uid)
        return [reply("dele")]

    def _do_rset(self, args: list[str]) -> list[bytes]:
        self.deleted.clear()
        return [reply("rset")]

    def _do_noop(self, args: list[str]) -> list[bytes]:
        return [reply("noop")]

    def _do_quit(self, args: list[str]) -> list[bytes]:
        if self.state is State.AUTHORIZATION:
            self.state, self.closed = State.UPDATE, True
            return [reply("bye")]
        return self._update()

    def _update(self) -> list[bytes]:
        """RFC 1939 §6: the UPDATE state, entered only by QUIT from TRANSACTION."""
        assert self.store is not None and self.user is not None
        self.state, self.closed = State.UPDATE, True
        self.in_use.discard(self.user)
        gone = [self.messages[n - 1] for n in sorted(self.deleted)]
        seen = [self.messages[n - 1] for n in sorted(self.retrieved - self.deleted)]
        try:
            self.store.set_flags({m.uid: m.flags | {"\\Seen"} for m in seen if "\\Seen" not in m.flags})
            removed = self.store.expunge([m.uid for m in gone])
        except (MailsimError, OSError):
            self.emit("quit", user=self.user, deleted=0, kept=len(self.messages), bytes=self.sent, ok=False)
            return [reply("update_failed")]
        self.emit("quit", user=self.user, deleted=len(removed), kept=len(self.messages) - len(removed), bytes=self.sent)
        return [reply("bye_deleted" if removed else "bye")]


def _top(content: bytes, lines: int) -> bytes:
    """The header, the empty line and the first ``lines`` body lines (RFC 1939 §7 TOP)."""
    head, separator, body = content.partition(CRLF + CRLF)
    if not separator:
        return content
    body_lines = body.split(CRLF)
    if body.endswith(CRLF) or not body:
        body_lines.pop()
    return head + separator + b"".join(line + CRLF for line in body_lines[:lines])


class Pop3Server:
    """Makes a :class:`Pop3Session` per connection and runs it over asyncio streams (any loop)."""

    def __init__(
        self,
        *,
        hostname: str,
        credentials: Mapping[str, str],
        mailboxes: Mailboxes,
        emit: Emit = no_emit,
        apop: bool = False,
        timeout: float = AUTOLOGOUT,
        max_errors: int = 20,
    ) -> None:
        self.hostname, self.credentials, self.mailboxes, self.emit = hostname, credentials, mailboxes, emit
        self.apop, self.timeout, self.max_errors = apop, timeout, max_errors
        self.in_use: set[str] = set()
        self._sessions = count(1)

    async def start(self, host: str | None, port: int) -> asyncio.AbstractServer:
        """Listen on ``host:port`` of the running loop (SimLoop: the current simulated host)."""
        return await asyncio.start_server(self.handle, host, port)

    def session(self) -> Pop3Session:
        """The one place a session is made (with its APOP time stamp when enabled)."""
        number = next(self._sessions)
        stamp = f"<{number}.{int(asyncio.get_running_loop().time())}@{self.hostname}>" if self.apop else ""
        return Pop3Session(
            hostname=self.hostname,
            credentials=self.credentials,
            mailboxes=self.mailboxes,
            emit=self.emit,
            stamp=stamp,
            in_use=self.in_use,
            max_errors=self.max_errors,
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection until QUIT, end of input, a timeout or too many errors."""
        session = self.session()
        self.emit("connect", client=peer_of(writer))
        try:
            writer.write(session.greeting())
            while not session.closed:
                try:
                    async with asyncio.timeout(self.timeout):
                        line = await read_line(reader, MAX_LINE)
                except LineTooLong:
                    chunks = session.too_long()
                except TimeoutError:
                    writer.write(reply("autologout"))
                    break
                else:
                    if not line:
                        break
                    chunks = session.handle(line)
                for chunk in chunks:
                    writer.write(chunk)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:  # the server shuts down: end this connection quietly (RFC 1939 §6)
            pass
        finally:
            session.abort()
            writer.close()
