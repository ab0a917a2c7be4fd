"""What the POP3 and IMAP clients share: a line-oriented conversation that counts bytes and times round trips.

A user agent reading mail is a client of an access agent; each command it sends and the reply it waits for is
one round trip, and a class should see them (how many, how long, how many bytes) the way it sees SMTP's.
:class:`Dialogue` wraps a pair of asyncio streams, so the clients run unchanged on ``SimLoop`` (virtual time:
``loop.time()`` is ``env.now``) and on a stock loop over 127.0.0.1. Every round trip is handed to
``observe("round_trip", ...)`` with the command (a password masked), the reply's first line, the bytes each way
and the elapsed time; in a run the observer writes ``ua`` trace records, in a live run it may do nothing.

Failures are :class:`AccessError` (the server said no: ``-ERR``, ``NO``, ``BAD``) and its subclasses
:class:`LoginFailed` and :class:`Unreachable` (no connection, the connection broke, a timeout): one line each,
never a traceback. Postfix parameters read: none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mailsim.core.errors import MailsimError

Observe = Callable[..., Any]
CONNECT_TIMEOUT = 30.0
REPLY_TIMEOUT = 300.0  # a client gives up on a silent server after 5 minutes (as Postfix's smtp client does)
MASK = "********"


def no_observe(event: str, **fields: Any) -> None:
    """The default observer: a live client with nobody watching."""


class AccessError(MailsimError):
    """The access agent refused a command, or the conversation could not go on; ``reply`` is what it said."""

    def __init__(self, message: str, *, reply: str = "", command: str = "") -> None:
        super().__init__(message)
        self.reply = reply
        self.command = command


class LoginFailed(AccessError):
    """Wrong user name or password (POP3 ``-ERR [AUTH]``, IMAP ``NO [AUTHENTICATIONFAILED]``)."""


class Unreachable(AccessError):
    """No connection to the server, or it went away in the middle."""


async def connect(address: str, port: int, *, timeout: float = CONNECT_TIMEOUT) -> Any:
    """Open a TCP connection on the running loop (simulated or real); Unreachable when it cannot be made."""
    try:
        async with asyncio.timeout(timeout):
            return await asyncio.open_connection(address, port)
    except TimeoutError:
        raise Unreachable(f"cannot connect to {address}:{port}: timed out") from None
    except OSError as error:
        raise Unreachable(f"cannot connect to {address}:{port}: {error.strerror or error}") from None


class Dialogue:
    """One client connection: write command lines, read reply lines and literals, report round trips."""

    def __init__(
        self,
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        protocol: str,
        observe: Observe = no_observe,
        *,
        timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self.reader, self.writer = streams
        self.protocol, self.observe, self.timeout = protocol, observe, timeout
        self.sent = 0
        self.received = 0
        self.round_trips = 0
        self._mark: tuple[float, int, int] | None = None

    @classmethod
    async def open(cls, address: str, port: int, protocol: str, observe: Observe = no_observe) -> Dialogue:
        """Connect; the first round trip (TCP handshake and the server's greeting) is timed from here."""
        started = asyncio.get_running_loop().time()
        dialogue = cls(await connect(address, port), protocol, observe)
        dialogue._mark = (started, 0, 0)
        return dialogue

    async def greeting(self) -> bytes:
        """The server's first line, closing the connect round trip."""
        line = await self.line()
        self.done("(connect)", line)
        return line

    def now(self) -> float:
        """The loop's clock: virtual seconds on SimLoop, monotonic seconds on a stock loop."""
        return asyncio.get_running_loop().time()

    def write(self, data: bytes) -> None:
        """Send bytes and start timing a round trip (unless one is already open)."""
        if self._mark is None:
            self._mark = (self.now(), self.sent, self.received)
        self.sent += len(data)
        self.writer.write(data)

    async def line(self) -> bytes:
        """One reply line with its CRLF; Unreachable when the server closes or stays silent."""
        try:
            async with asyncio.timeout(self.timeout):
                data = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            raise Unreachable(f"{self.protocol}: the server closed the connection") from None
        except asyncio.LimitOverrunError:
            raise AccessError(f"{self.protocol}: a reply line too long to read") from None
        except TimeoutError:
            raise Unreachable(f"{self.protocol}: no reply within {self.timeout:g}s") from None
        except OSError as error:
            raise Unreachable(f"{self.protocol}: connection lost: {error.strerror or error}") from None
        self.received += len(data)
        return data

    async def exactly(self, size: int) -> bytes:
        """A literal of ``size`` octets (IMAP)."""
        try:
            async with asyncio.timeout(self.timeout):
                data = await self.reader.readexactly(size)
        except (asyncio.IncompleteReadError, TimeoutError, OSError):
            raise Unreachable(f"{self.protocol}: connection lost in the middle of a literal") from None
        self.received += len(data)
        return data

    def done(self, command: str, reply: bytes) -> None:
        """Close the open round trip: one ``round_trip`` observation."""
        started, sent, received = self._mark or (self.now(), self.sent, self.received)
        self._mark = None
        self.round_trips += 1
        self.observe(
            "round_trip",
            protocol=self.protocol,
            command=command,
            reply=reply.decode("utf-8", "replace").rstrip("\r\n")[:120],
            sent=self.sent - sent,
            received=self.received - received,
            rtt=self.now() - started,
        )

    async def close(self) -> None:
        """Close the connection without waiting long for the peer."""
        self.writer.close()
        try:
            async with asyncio.timeout(5.0):
                await self.writer.wait_closed()
        except (OSError, TimeoutError):
            pass
