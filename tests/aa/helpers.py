"""Shared by the POP3 and IMAP tests: a filled store, a server on real loopback, scripted clients, a virtual world."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailsim.da.stores import MailStores, Store
from mailsim.engine.simloop import spawn
from tests.net.worlds import SERVER_IP, World, two_link_world

USER, PASSWORD = "alice", "s3cret pw"
CREDENTIALS = {USER: PASSWORD}


def message(number: int, body: bytes = b"Hello.\r\n.a line with a dot\r\nbye\r\n") -> bytes:
    return (
        f"From: Bob <bob@example.net>\r\nTo: Alice <alice@example.org>\r\nSubject: note {number}\r\n"
        f"Date: Mon, 05 Jan 2026 09:0{number}:00 +0000\r\nMessage-ID: <{number}@example.net>\r\n\r\n"
    ).encode() + body


def filled_store(root: Path, kind: str = "mbox", count: int = 3) -> Store:
    """A mailbox with ``count`` messages delivered at 09:00, 09:01, ... virtual time."""
    stores = MailStores(root, hostname="mail.example.org")
    store = stores.mbox("/var/mail/alice") if kind == "mbox" else stores.maildir("/home/alice/Maildir/")
    for number in range(count):
        store.deliver(
            message(number),
            sender="bob@example.net",
            recipient="alice@example.org",
            when=datetime(2026, 1, 5, 9, number, 0, tzinfo=UTC),
        )
    return store


@contextmanager
def live_server(server: Any) -> Iterator[int]:
    """``server`` listening on 127.0.0.1 (a free port) on a stock asyncio loop in a thread; yields the port."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        state["stop"] = asyncio.Event()
        listening = await server.start("127.0.0.1", 0)
        state["port"] = listening.sockets[0].getsockname()[1]
        ready.set()
        await state["stop"].wait()
        listening.close()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:  # connections still open: end them while the loop runs
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield state["port"]
    finally:
        loop.call_soon_threadsafe(state["stop"].set)
        thread.join(10)
        loop.close()


# -- scripted clients: every byte the server sends, per command -------------------------------------------


async def read_pop3_reply(reader: asyncio.StreamReader, multiline: bool) -> list[bytes]:
    first = await reader.readline()
    lines = [first]
    if multiline and first.startswith(b"+OK"):
        while lines[-1] != b".\r\n":
            lines.append(await reader.readline())
    return lines


async def read_imap_reply(reader: asyncio.StreamReader, tag: bytes) -> list[bytes]:
    """Lines up to the tagged completion (or a continuation request), literals read whole."""
    lines: list[bytes] = []
    while True:
        line = await reader.readline()
        if not line:
            return lines
        if line.endswith(b"}\r\n") and b"{" in line:
            size = int(line[line.rindex(b"{") + 1 : -3])
            line += await reader.readexactly(size)
        lines.append(line)
        if line.startswith(tag + b" ") or line.startswith(b"+"):
            return lines


async def pop3_script(host: str, port: int, script: list[tuple[bytes, bool]]) -> list[bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    transcript = [await reader.readline()]
    for line, multiline in script:
        writer.write(line)
        await writer.drain()
        transcript += await read_pop3_reply(reader, multiline)
    writer.close()
    return transcript


async def imap_script(host: str, port: int, script: list[bytes]) -> list[bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    transcript = [await reader.readline()]
    tag = b""
    for line in script:
        writer.write(line)
        await writer.drain()
        if not transcript[-1].startswith(b"+"):  # after a continuation request the same command goes on
            tag = line.split(b" ", 1)[0]
        transcript += await read_imap_reply(reader, tag)
    writer.close()
    return transcript


def run_live(server: Any, client: Callable[[str, int], Any]) -> Any:
    """Run ``client(host, port)`` against ``server`` bound on 127.0.0.1."""
    with live_server(server) as port:
        return asyncio.run(asyncio.wait_for(client("127.0.0.1", port), 20))


def run_virtual(server: Any, client: Callable[[str, int], Any], port: int, world: World | None = None) -> Any:
    """Run the same ``client`` against the same kind of server on SimLoop: client and server hosts, two links."""
    world = world or two_link_world()
    spawn(world.loop, "server", server.start(None, port))
    return world.loop.run_until_complete(spawn(world.loop, "client", client(SERVER_IP, port)), limit=3600)


# -- fetchmail ----------------------------------------------------------------------------------------------

MDA = """import mailbox, sys
box = mailbox.mbox(sys.argv[1])
box.lock()
box.add(sys.stdin.buffer.read())
box.flush()
box.unlock()
"""


def fetchmail(program: str, protocol: str, port: int, folder: Path) -> tuple[int, str, Path]:
    """Run fetchmail once against 127.0.0.1:port; each message goes through an MDA into ``folder/fetched``."""
    import os
    import subprocess
    import sys

    out, mda, rc = folder / "fetched", folder / "mda.py", folder / "fetchmailrc"
    mda.write_text(MDA)
    rc.write_text(
        "set no syslog\n"
        f"poll 127.0.0.1 with proto {protocol} port {port} auth password\n"
        f'  user "{USER}" there with password "{PASSWORD}" is "{USER}" here\n'
        '  options no keep fetchall sslproto "" no sslcertck\n'
        f'  mda "{sys.executable} {mda} {out}"\n'
    )
    rc.chmod(0o600)
    result = subprocess.run(
        [program, "-f", str(rc), "-i", str(folder / "ids"), "-v", "--nodetach"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(folder)},
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr, out
