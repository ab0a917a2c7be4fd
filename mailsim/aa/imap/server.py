"""The IMAP server's connection loop over asyncio streams: the same code on SimLoop and on 127.0.0.1.

It reads a command line; while the line ends in a literal ``{n}`` it answers ``+`` (not for ``{n+}``,
LITERAL+), reads ``n`` octets and the rest of the line. Lines longer than ``max_line`` (8192 octets, the
limit RFC 7162 §4 recommends) and literals over ``max_literal`` get ``BAD`` and are dropped. AUTHENTICATE reads
one continuation line; IDLE (RFC 2177) waits for ``DONE`` while the selected store's watcher (a delivery, another
session) or the optional ``idle_poll`` timer triggers untagged updates. A connection silent for ``timeout``
(30 minutes, RFC 3501 §5.4) gets ``* BYE``. The server writes one FETCH response at a time and waits for the
transport to drain, so a client that vanishes mid-FETCH stops the command and changes nothing more.
Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from mailsim.aa.access import Emit, LineTooLong, Mailboxes, no_emit, peer_of, read_line
from mailsim.aa.imap.parser import Command, ParseError, literal_size, parse_command
from mailsim.aa.imap.replies import ImapError, text, untagged
from mailsim.aa.imap.session import ImapSession

AUTOLOGOUT = 1800.0  # RFC 3501 §5.4: at least 30 minutes
MAX_LINE = 8192
MAX_LITERAL = 65536


class LiteralTooBig(Exception):
    """A command announced a literal larger than the server takes (no APPEND here)."""

    def __init__(self, head: bytes) -> None:
        super().__init__("literal too big")
        self.head = head


class ImapServer:
    """Makes an :class:`ImapSession` per connection and runs it over asyncio streams (any loop)."""

    def __init__(
        self,
        *,
        hostname: str,
        credentials: Mapping[str, str],
        mailboxes: Mailboxes,
        emit: Emit = no_emit,
        timeout: float = AUTOLOGOUT,
        idle_poll: float | None = None,
        max_line: int = MAX_LINE,
        max_literal: int = MAX_LITERAL,
        max_errors: int = 20,
    ) -> None:
        self.hostname, self.credentials, self.mailboxes, self.emit = hostname, credentials, mailboxes, emit
        self.timeout, self.idle_poll, self.max_errors = timeout, idle_poll, max_errors
        self.max_line, self.max_literal = max_line, max_literal

    async def start(self, host: str | None, port: int) -> asyncio.AbstractServer:
        """Listen on ``host:port`` of the running loop (SimLoop: the current simulated host)."""
        return await asyncio.start_server(self.handle, host, port)

    def session(self) -> ImapSession:
        """The one place a session is made."""
        return ImapSession(
            hostname=self.hostname,
            credentials=self.credentials,
            mailboxes=self.mailboxes,
            emit=self.emit,
            max_errors=self.max_errors,
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection until LOGOUT, end of input, a timeout or too many errors."""
        session = self.session()
        self.emit("connect", client=peer_of(writer))
        try:
            writer.write(session.greeting())
            while not session.closed:
                if not await self._one_command(session, reader, writer):
                    break
        except TimeoutError:
            writer.write(untagged(text("autologout")))
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:  # the server shuts down: end this connection quietly
            pass
        finally:
            session.abort()
            writer.close()

    async def _one_command(
        self, session: ImapSession, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Read, run and answer one command; False at end of input."""
        try:
            data = await self._read_command(reader, writer)
        except (LineTooLong, LiteralTooBig) as error:
            await _send(writer, session.bad(error.head, ImapError("too_long")))
            return True
        if data is None:
            return False
        try:
            command = parse_command(data)
        except ParseError as error:
            await _send(writer, session.bad(data, ImapError("syntax", name=_verb(data), why=str(error))))
            return True
        if command.name == "IDLE" and not command.uid:
            chunks = list(session.execute(command))
            await _send(writer, chunks)
            if chunks and chunks[0].startswith(b"+"):
                await self._idle(session, command, reader, writer)
            return True
        continuation = None
        if session.wants_continuation(command):
            await _send(writer, [text("continue").encode() + b"\r\n"])
            continuation = await self._line(reader)
        for chunk in session.execute(command, continuation):
            writer.write(chunk)
            await writer.drain()
        return True

    async def _line(self, reader: asyncio.StreamReader) -> bytes:
        async with asyncio.timeout(self.timeout):
            return await read_line(reader, self.max_line)

    async def _read_command(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes | None:
        """One whole command with its literals, or None at end of input."""
        line = await self._line(reader)
        data = bytearray(line)
        while line and (announced := literal_size(line)) is not None:
            size, non_synchronizing = announced
            if size > self.max_literal:
                if non_synchronizing:  # the client sends it anyway: read past it
                    await _skip(reader, size)
                    await self._line(reader)
                raise LiteralTooBig(bytes(data[:64]))
            if not non_synchronizing:
                await _send(writer, [text("literal").encode() + b"\r\n"])
            async with asyncio.timeout(self.timeout):
                data += await reader.readexactly(size)
            line = await self._line(reader)
            data += line
            if len(data) > self.max_line + self.max_literal:
                raise LiteralTooBig(bytes(data[:64]))
        return bytes(data) if line else None

    async def _idle(
        self, session: ImapSession, command: Command, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """RFC 2177: updates as they happen, and the tagged OK once the client says DONE."""
        changed = asyncio.Event()
        unwatch = session.watch(changed.set)
        reading = asyncio.ensure_future(read_line(reader, self.max_line))
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        try:
            while not reading.done():
                waiting = asyncio.ensure_future(changed.wait())
                wait = self.idle_poll or self.timeout
                done, _ = await asyncio.wait({reading, waiting}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                if reading in done:
                    break
                if not done and loop.time() - quiet_since >= self.timeout:
                    raise TimeoutError
                changed.clear()
                await _send(writer, session.idle_updates())
            line = reading.result()
        finally:
            unwatch()
            if not reading.done():
                reading.cancel()
        if not line:
            raise ConnectionResetError("client went away during IDLE")
        await _send(writer, session.idle_done(command, line))


async def _send(writer: asyncio.StreamWriter, chunks: list[bytes]) -> None:
    for chunk in chunks:
        writer.write(chunk)
    await writer.drain()


def _verb(data: bytes) -> str:
    """The command word of an unparsable command, for the BAD reply."""
    words = data.split(b" ", 2)
    return words[1].strip().decode("ascii", "replace").upper() if len(words) > 1 else ""


async def _skip(reader: asyncio.StreamReader, size: int) -> None:
    while size > 0:
        chunk = await reader.read(min(size, 65536))
        if not chunk:
            return
        size -= len(chunk)
