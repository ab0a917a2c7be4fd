"""A small asyncio POP3 client (RFC 1939): what a user agent says to download a maildrop "all at once".

Python's ``poplib`` blocks on a socket, so it cannot run on ``SimLoop``; this client speaks the same commands
over asyncio streams: USER/PASS, STAT, LIST, UIDL, TOP, RETR, DELE, QUIT. Each command is one round trip
(:class:`~mailsim.ua.dialogue.Dialogue`); multi-line replies are read to the lone ``.`` and un-stuffed
(RFC 1939 §3). ``-ERR`` raises :class:`~mailsim.ua.dialogue.AccessError` (:class:`LoginFailed` for PASS).
Postfix parameters read: none.
"""

from __future__ import annotations

from mailsim.ua.dialogue import MASK, AccessError, Dialogue, LoginFailed, Observe, no_observe

POP3_PORT = 110  # RFC 1939 §3
CRLF = b"\r\n"


class Pop3Client:
    """One POP3 session; make it with :meth:`open`, end it with :meth:`quit`."""

    def __init__(self, dialogue: Dialogue) -> None:
        self.dialogue = dialogue
        self.greeting = b""

    @classmethod
    async def open(cls, address: str, port: int = POP3_PORT, *, observe: Observe = no_observe) -> Pop3Client:
        """Connect and read the ``+OK`` greeting (the greeting is the first round trip)."""
        dialogue = await Dialogue.open(address, port, "pop3", observe)
        client = cls(dialogue)
        client.greeting = await dialogue.greeting()
        if not client.greeting.startswith(b"+OK"):
            await dialogue.close()
            raise AccessError("pop3: the server refused the connection", reply=_text(client.greeting))
        return client

    async def command(self, text: str, *, multiline: bool = False, shown: str | None = None) -> tuple[bytes, bytes]:
        """Send one command; the status line and, for a multi-line reply, its un-stuffed content."""
        self.dialogue.write(text.encode("utf-8") + CRLF)
        status = await self.dialogue.line()
        content = b""
        if multiline and status.startswith(b"+OK"):
            content = await self._multiline()
        self.dialogue.done(shown or text, status)
        if not status.startswith(b"+OK"):
            raise AccessError(f"pop3: {_text(status)}", reply=_text(status), command=(shown or text).split()[0])
        return status, content

    async def _multiline(self) -> bytes:
        lines: list[bytes] = []
        while True:
            line = await self.dialogue.line()
            if line in (b".\r\n", b".\n"):
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b"..") else line)

    async def login(self, user: str, password: str) -> None:
        """USER and PASS (LoginFailed when the server refuses either)."""
        try:
            await self.command(f"USER {user}")
            await self.command(f"PASS {password}", shown=f"PASS {MASK}")
        except AccessError as error:
            raise LoginFailed(f"pop3: login as {user} failed: {error.reply}", reply=error.reply) from None

    async def stat(self) -> tuple[int, int]:
        """(messages, octets) of the maildrop."""
        status, _ = await self.command("STAT")
        words = status.split()
        return int(words[1]), int(words[2])

    async def list(self) -> dict[int, int]:
        """Message number -> size in octets."""
        _, content = await self.command("LIST", multiline=True)
        return {int(n): int(size) for n, size in _pairs(content)}

    async def uidl(self) -> dict[int, str]:
        """Message number -> unique id (stable across sessions)."""
        _, content = await self.command("UIDL", multiline=True)
        return {int(n): uid for n, uid in _pairs(content)}

    async def top(self, number: int, lines: int = 0) -> bytes:
        """The header and the first ``lines`` body lines of message ``number`` (RFC 1939 §7)."""
        _, content = await self.command(f"TOP {number} {lines}", multiline=True)
        return content

    async def retr(self, number: int) -> bytes:
        """The whole message ``number`` (CRLF lines, as stored)."""
        _, content = await self.command(f"RETR {number}", multiline=True)
        return content

    async def dele(self, number: int) -> None:
        """Mark message ``number`` deleted; it goes at QUIT (RFC 1939 §6)."""
        await self.command(f"DELE {number}")

    async def quit(self) -> bytes:
        """QUIT: the UPDATE state removes what was deleted; then close."""
        try:
            status, _ = await self.command("QUIT")
        finally:
            await self.dialogue.close()
        return status

    async def abandon(self) -> None:
        """Drop the connection without QUIT: nothing is deleted (RFC 1939 §6)."""
        await self.dialogue.close()


def _pairs(content: bytes) -> list[tuple[str, str]]:
    pairs = []
    for line in content.decode("utf-8", "replace").splitlines():
        words = line.split()
        if len(words) >= 2:
            pairs.append((words[0], words[1]))
    return pairs


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r\n")
