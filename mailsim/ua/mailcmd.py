"""``mailsim mail``: the seed's ``/bin/mail`` for a running ``mailsim serve``, "at a shell prompt".

Sending (``mail -s SUBJECT RCPT... < body``): the body is read from standard input and submitted as
mail(1) does on a real system, except that the way in is the served scenario's MSA: port 587 of the
submission service, STARTTLS (the certificate checked against the scenario's CA), AUTH. Date is set here;
Message-ID is left to the MSA's cleanup, as /bin/mail leaves it to the local MTA. Without ``-r``/``--user``
the sender is the scenario user of the host a live client stands for (``mailsim serve --client``, by
default the first host with role ua: alice on laptop.example.org in the default scenario), and passwords
come from the scenario's ``[[users]]`` table unless given.

Reading (``mail -u USER [N...]``): without N a header summary as mail(1) prints it - number, status
(``N`` new, ``O`` old and unread, ``R`` read), sender, date, size, subject - read over IMAP with
``BODY.PEEK`` so nothing is marked; with N the messages themselves, which marks them ``\\Seen``. ``--pop3``
reads over POP3 instead (POP3 knows no flags: every message shows as N).

The served services are found in the state file ``mailsim serve`` writes (:mod:`mailsim.ua.serve_state`), or
given with ``--server 127.0.0.1:PORT``. Every mistake - a wrong password, an unknown user, no running serve,
no such message - is one line on standard error and exit status 2.
Postfix parameters read: none.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import ssl
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any, NoReturn

from mailsim.core.errors import MailsimError
from mailsim.engine.client import Credentials, Outcome, SessionPlan, SessionResult, StartTls, Transaction, deliver
from mailsim.mail.message import as_bytes, build_message, format_date, parse_date
from mailsim.ua.dialogue import Unreachable
from mailsim.ua.imap_client import ImapClient
from mailsim.ua.pop3_client import Pop3Client
from mailsim.ua.reader import SEEN, Summary, summary_from_fetch, summary_of
from mailsim.ua.serve_state import BoundAt, ServeState, read_state

EXIT_USAGE = 2
PROG = "mailsim mail"


class UsageError(MailsimError):
    """A mistake on the command line or with what it names; one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{PROG} --help`)")


def build_parser() -> argparse.ArgumentParser:
    """mail(1)'s options that make sense here, plus where the served scenario is."""
    parser = _Parser(prog=PROG, allow_abbrev=False, description="Send mail through, or read a mailbox of, a "
                     "running `mailsim serve` (the seed's /bin/mail).",
                     epilog="Examples: `mailsim mail -s Hello bob@example.net < note.txt`, `mailsim mail -u bob`, "
                     "`mailsim mail -u bob 1`.")  # fmt: skip
    parser.add_argument("-s", dest="subject", default="", help="subject of the message to send")
    parser.add_argument("-c", dest="cc", action="append", default=[], help="carbon copy to ADDRESS (repeatable)")
    parser.add_argument("-r", dest="sender", help="sender address (default: --user, else the client host's user)")
    parser.add_argument("-u", dest="reader", metavar="USER", help="read USER's mailbox instead of sending")
    parser.add_argument("-p", "--password", help="password (default: the scenario's [[users]] table)")
    parser.add_argument("--user", dest="login", help="SASL login for sending (default: the sender)")
    parser.add_argument("--pop3", action="store_true", help="read over POP3 instead of IMAP")
    parser.add_argument("--server", help="HOST:PORT of the service to use (default: from the serve state file)")
    parser.add_argument("args", nargs="*", metavar="RCPT|N", help="recipients to send to, or message numbers to read")
    return parser


def run_mail_cli(argv: Sequence[str], *, stdin: IO[str] | None = None, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None) -> int:  # fmt: skip
    """``mailsim mail ...``: 0 on success, 2 with one line on stderr for any mistake."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    try:
        args = build_parser().parse_args(list(argv))
        text = asyncio.run(_read(args) if args.reader is not None else _send(args, stdin.read()))
    except (MailsimError, OSError) as error:
        stderr.write(f"{PROG}: {_one_line(str(error))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    stdout.write(text)
    stdout.flush()
    return 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- where to connect --------------------------------------------------------------------------------------


def _state(args: argparse.Namespace) -> ServeState | None:
    """The serve state; with --server it is optional (passwords and the CA then come from it when present)."""
    try:
        return read_state()
    except MailsimError:
        if args.server:
            return None
        raise


def _endpoint(args: argparse.Namespace, state: ServeState | None, service: str, address: str) -> BoundAt:
    """The service to use: --server, else the served host of that service in the address's domain."""
    if args.server:
        host, _, port = args.server.rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"--server: expected HOST:PORT like 127.0.0.1:2525, found {args.server!r}")
        known = [s for s in (state.services if state else ()) if s.port == int(port)]
        return BoundAt(known[0].host if known else host, service, host, int(port))
    assert state is not None
    offered = state.find(service)
    domain = address.rpartition("@")[2].lower()
    mine = [s for s in offered if domain and (s.host.lower() == domain or s.host.lower().endswith("." + domain))]
    if len(mine) == 1 or (not mine and len(offered) == 1):
        return (mine or offered)[0]
    if not offered:
        raise UsageError(f"the served scenario binds no {service} service (start `mailsim serve` with it)")
    hosts = ", ".join(f"{s.host} {s.address}:{s.port}" for s in offered)
    raise UsageError(f"several {service} services ({hosts}): choose one with --server")


def _user(state: ServeState | None, name: str) -> tuple[str, str | None]:
    """(login, password) of a scenario user given as an address or a local part."""
    for user in state.users if state else ():
        if name.lower() in (user.address.lower(), user.address.partition("@")[0].lower()):
            return user.address, user.password
    return name, None


def _password(args: argparse.Namespace, state: ServeState | None, name: str) -> tuple[str, str]:
    login, known = _user(state, name)
    password = args.password if args.password is not None else known
    if password is None:
        users = ", ".join(u.address for u in state.users) if state else "unknown"
        raise UsageError(f"no user {name!r} in the served scenario (users: {users}): give -p PASSWORD")
    return login, password


# -- sending ----------------------------------------------------------------------------------------------


async def _send(args: argparse.Namespace, body: str) -> str:
    recipients = tuple(args.args) + tuple(args.cc)
    if not args.args:
        raise UsageError("no recipients: mail -s SUBJECT RCPT... < body, or mail -u USER to read")
    bad = [r for r in recipients if "@" not in r or r.startswith("@") or r.endswith("@")]
    if bad:
        raise UsageError(f"{bad[0]!r} is not a mail address (expected user@domain)")
    state = _state(args)
    sender = args.sender or (args.login if args.login and "@" in args.login else None) or _default_sender(state)
    login, password = _password(args, state, args.login or sender)
    msa = _endpoint(args, state, "submission", sender)
    message = build_message(sender, list(args.args), args.subject, body, cc=list(args.cc),
                            date=format_date(datetime.now(UTC)), headers=[("User-Agent", "mailsim-mail/0.1")])  # fmt: skip
    plan = SessionPlan(msa.address, (state.client if state else None) or "localhost",
                       Transaction(sender, recipients, as_bytes(message)), port=msa.port,
                       starttls=StartTls.MAY, tls_context=_tls(state), server_name=msa.host,
                       credentials=Credentials(login, password))  # fmt: skip
    result = await deliver(plan, record=False)
    return _sent(result, msa, login)


def _default_sender(state: ServeState | None) -> str:
    users = state.users if state else ()
    found = next((u.address for u in users if state and u.host == state.client), None)
    if found is None:
        raise UsageError("no sender: give -r ADDRESS (or --user ADDRESS)")
    return found


def _tls(state: ServeState | None) -> ssl.SSLContext:
    """Verify the MSA against the scenario's CA when known, else accept its certificate (loopback only)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if state is not None and state.ca_pem:
        context.load_verify_locations(cadata=state.ca_pem)
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _sent(result: SessionResult, msa: BoundAt, login: str) -> str:
    """Nothing when all went well (as mail(1)); else the one line that says why."""
    where = f"{msa.host} ({msa.address}:{msa.port})"
    reply = result.reply.oneline() if result.reply is not None else result.detail
    if result.outcome in (Outcome.REFUSED, Outcome.UNREACHABLE):
        raise UsageError(f"cannot connect to {where}: {reply or result.outcome.value}: is `mailsim serve` running?")
    if result.outcome is not Outcome.COMPLETED:
        if result.stage == "auth":
            raise UsageError(f"login as {login} failed at {where}: {reply}")
        raise UsageError(f"{where} refused the message at {result.stage}: {reply or result.outcome.value}")
    refused = [r for r in result.recipients if r.reply is not None and r.reply.code >= 400]
    if refused:
        first = refused[0]
        raise UsageError(f"{first.address}: {first.reply.oneline() if first.reply else 'refused'}")
    return ""


# -- reading ----------------------------------------------------------------------------------------------


async def _read(args: argparse.Namespace) -> str:
    numbers = [_number(a) for a in args.args]
    state = _state(args)
    login, password = _password(args, state, args.reader)
    protocol = "pop3" if args.pop3 else "imap"
    server = _endpoint(args, state, protocol, login)
    opener = Pop3Client.open if args.pop3 else ImapClient.open
    try:
        client: Any = await opener(server.address, server.port)
    except Unreachable as error:
        raise UsageError(f"{error}: is `mailsim serve` running?") from None
    try:
        await client.login(login, password)
        summaries = await (_pop3_listing(client) if args.pop3 else _imap_listing(client))
        text = (
            await _show(client, summaries, numbers, args.reader)
            if numbers
            else header_summary(summaries, f"{protocol}://{login}@{server.host}", args.reader)
        )
        await (client.quit() if args.pop3 else client.logout())
    except BaseException:
        await client.abandon()
        raise
    return text


def _number(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"expected a message number (1, 2, ...) to read, found {text!r}")
    return int(text)


async def _imap_listing(client: ImapClient) -> list[Summary]:
    await client.select()
    return [summary_from_fetch(item) for item in await client.listing()]


async def _pop3_listing(client: Pop3Client) -> list[Summary]:
    sizes, uidls = await client.list(), await client.uidl()
    return [summary_of(n, await client.top(n, 0), uidl=uidls.get(n), size=sizes[n]) for n in sorted(sizes)]


async def _show(client: Any, summaries: list[Summary], numbers: list[int], user: str) -> str:
    """The messages asked for, as mail(1) prints them; IMAP marks each \\Seen, POP3 at QUIT."""
    out = []
    for number in numbers:
        if number > len(summaries):
            raise UsageError(f"no message {number}: {user} has {len(summaries)} message{_s(len(summaries))}")
        summary = summaries[number - 1]
        if isinstance(client, ImapClient):
            assert summary.uid is not None
            content = await client.body(summary.uid)
            await client.add_flags(summary.uid, SEEN)
        else:
            content = await client.retr(number)
        text = content.decode("utf-8", "replace").replace("\r\n", "\n")
        out.append(f"Message {number}:\n{text}" + ("" if text.endswith("\n") else "\n"))
    return "\n".join(out)


def header_summary(summaries: list[Summary], where: str, user: str) -> str:
    """mail(1)'s header summary: a heading, then one line per message, ``>`` at the first unread one."""
    if not summaries:
        return f"No mail for {user}\n"
    new = sum(1 for s in summaries if s.status == "N")
    unread = sum(1 for s in summaries if s.status == "O")
    heading = (
        f'"{where}": {len(summaries)} message{_s(len(summaries))}'
        + (f" {new} new" if new else "")
        + (f" {unread} unread" if unread else "")
    )
    current = next((s.number for s in summaries if s.status != "R"), summaries[0].number)
    lines = [heading]
    for s in summaries:
        name, address = email.utils.parseaddr(s.sender)
        mark = ">" if s.number == current else " "
        lines.append(f"{mark}{s.status} {s.number:>3} {(name or address)[:22]:<22} {_date(s.date):<16} "
                     f"{s.size:>7}  {s.subject}")  # fmt: skip
    return "\n".join(lines) + "\n"


def _date(text: str) -> str:
    moment = parse_date(text) if text else None
    if moment is None:
        return ""
    return f"{moment:%a %b} {moment.day:2d} {moment:%H:%M}"


def _s(count: int) -> str:
    return "" if count == 1 else "s"
