"""A user agent that reads mail over IMAP ("one message at a time") or POP3 ("all at once"), replies and forwards.

The seed's last hop: the access agent lets a user agent on another machine read the mailbox. A
:class:`MailReader` is that program; :meth:`MailReader.read` runs one session as a :class:`ReadPlan` says:

- **IMAP** (:mod:`mailsim.ua.imap_client`): LOGIN, SELECT INBOX, one FETCH for the listing (``UID FLAGS
  RFC822.SIZE BODY.PEEK[HEADER.FIELDS (...)]``, which leaves ``\\Seen`` alone), then for each *unseen* message
  its ``BODY.PEEK[]`` and, with ``mark_read``, ``UID STORE +FLAGS (\\Seen)`` - one message at a time, as a
  MUA opens them; with ``delete``, ``\\Deleted`` and EXPUNGE; LOGOUT.
- **POP3** (:mod:`mailsim.ua.pop3_client`): USER/PASS, STAT, LIST, UIDL, RETR of every message, DELE of every
  message with ``delete`` (download-and-delete), QUIT (the server marks what was retrieved ``\\Seen``).

The same code runs on ``SimLoop`` and on a stock loop: in a run, ``sim`` is given and every round trip, every
message fetched, every flag change and the session's summary are ``ua`` trace records on the client host
(``round_trip``; ``fetch`` with message_id, protocol and bytes; ``flags`` with before and after; ``read``);
a live client passes its own ``observe`` or none.
:func:`compose_reply` and :func:`compose_forward` turn a fetched message into a
:class:`~mailsim.ua.submit.Submission` (``Re:``/``Fwd:`` subject, In-Reply-To and References of RFC 5322
§3.6.4, the original quoted or inlined); replies are not sent to automatic mail (RFC 3834 §2).
Postfix parameters read: none.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from email.message import EmailMessage
from typing import Any

from mailsim.engine.simloop import host_context
from mailsim.mail.message import parse_message
from mailsim.ua.dialogue import AccessError, Observe, no_observe
from mailsim.ua.imap_client import IMAP_PORT, FetchData, ImapClient
from mailsim.ua.pop3_client import POP3_PORT, Pop3Client
from mailsim.ua.submit import Submission

SEEN, DELETED, RECENT = "\\Seen", "\\Deleted", "\\Recent"
PORTS = {"imap": IMAP_PORT, "pop3": POP3_PORT}


@dataclass(frozen=True, slots=True)
class Summary:
    """One line of a mailbox listing; ``flags`` is None over POP3, which has none."""

    number: int
    uid: int | None
    uidl: str | None
    size: int
    flags: frozenset[str] | None
    sender: str
    to: str
    subject: str
    date: str
    message_id: str | None

    @property
    def status(self) -> str:
        """/bin/mail's status letter: N new, O old and unread, R read."""
        if self.flags is None:
            return "N"
        if SEEN in self.flags:
            return "R"
        return "N" if RECENT in self.flags else "O"


@dataclass(frozen=True, slots=True)
class Fetched:
    """A message the reader downloaded: its listing line and its bytes."""

    summary: Summary
    content: bytes


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """What one reading session does (see the module docstring)."""

    protocol: str
    server: str
    login: str
    password: str
    port: int | None = None
    mark_read: bool = True
    delete: bool = False
    fetch: bool = True


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What a session saw: the listing at login, what it fetched, and the mailbox as it left it."""

    protocol: str
    user: str
    listing: tuple[Summary, ...]
    fetched: tuple[Fetched, ...]
    after: tuple[Summary, ...]
    deleted: int
    received: int
    round_trips: int


def summary_of(number: int, header: bytes, *, uid: int | None = None, uidl: str | None = None,
               size: int = 0, flags: frozenset[str] | None = None) -> Summary:  # fmt: skip
    """A listing line from a message's header block (or the whole message)."""
    msg = parse_message(header)
    message_id = (msg.get("Message-ID") or "").strip().strip("<>") or None
    return Summary(number, uid, uidl, size or len(header), flags, _clean(msg.get("From")), _clean(msg.get("To")),
                   _clean(msg.get("Subject")), _clean(msg.get("Date")), message_id)  # fmt: skip


def _clean(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


class MailReader:
    """The reading side of one user's mail program, on ``host`` (None: a live client on this machine)."""

    def __init__(
        self, address: str, *, host: str | None = None, sim: Any = None, observe: Observe | None = None
    ) -> None:
        self.address, self.host, self.sim = address, host, sim
        self._observe = observe if observe is not None else self._trace if sim is not None else no_observe
        self._server = ""

    def _trace(self, event: str, **fields: Any) -> None:
        assert self.sim is not None and self.host is not None
        self.sim.emit(self.host, "ua", event, user=self.address, server=self._server, **fields)

    def observe(self, event: str, **fields: Any) -> None:
        """Hand one observation to the observer (the trace in a run)."""
        self._observe(event, **fields)

    async def read(self, plan: ReadPlan) -> ReadResult:
        """Run one session; AccessError (also recorded as a failed ``read``) when it cannot be completed."""
        self._server = plan.server
        with self._on_host():
            try:
                result = await (self._imap(plan) if plan.protocol == "imap" else self._pop3(plan))
            except AccessError as error:
                self.observe("read", protocol=plan.protocol, outcome="failed", error=str(error))
                raise
        self.observe("read", protocol=plan.protocol, outcome="ok", messages=len(result.listing),
                     fetched=len(result.fetched), deleted=result.deleted, bytes=result.received,
                     round_trips=result.round_trips)  # fmt: skip
        return result

    def _on_host(self) -> Any:
        return host_context(self.host) if self.host is not None else nullcontext()

    def _fetched(self, protocol: str, summary: Summary, content: bytes) -> Fetched:
        self.observe("fetch", protocol=protocol, message_id=summary.message_id, number=summary.number,
                     uid=summary.uid if summary.uid is not None else summary.uidl, bytes=len(content))  # fmt: skip
        return Fetched(summary, content)

    async def _imap(self, plan: ReadPlan) -> ReadResult:
        client = await ImapClient.open(plan.server, plan.port or IMAP_PORT, observe=self.observe)
        with _abandon_on_error(client):
            await client.login(plan.login, plan.password)
            await client.select()
            listing = [summary_from_fetch(item) for item in await client.listing()]
            after = {s.uid: s for s in listing}
            fetched = []
            for summary in listing:
                if not plan.fetch or SEEN in (summary.flags or ()) or summary.uid is None:
                    continue
                fetched.append(self._fetched("imap", summary, await client.body(summary.uid)))
                if plan.mark_read:
                    flags = await client.add_flags(summary.uid, SEEN) or (summary.flags or frozenset()) | {SEEN}
                    after[summary.uid] = replace(summary, flags=flags)
                    self.observe("flags", protocol="imap", message_id=summary.message_id, uid=summary.uid,
                                 before=sorted(summary.flags or ()), after=sorted(flags))  # fmt: skip
                if plan.delete:
                    await client.add_flags(summary.uid, DELETED)
            deleted = await client.expunge() if plan.delete and fetched else 0
            await client.logout()
        gone = {f.summary.uid for f in fetched} if plan.delete else set()
        kept = [s for s in after.values() if s.uid not in gone]
        return ReadResult("imap", plan.login, tuple(listing), tuple(fetched), tuple(kept), deleted,
                          client.dialogue.received, client.dialogue.round_trips)  # fmt: skip

    async def _pop3(self, plan: ReadPlan) -> ReadResult:
        client = await Pop3Client.open(plan.server, plan.port or POP3_PORT, observe=self.observe)
        with _abandon_on_error(client):
            await client.login(plan.login, plan.password)
            await client.stat()
            sizes, uidls = await client.list(), await client.uidl()
            listing, fetched = [], []
            for number in sorted(sizes):
                content = await (client.retr(number) if plan.fetch else client.top(number, 0))
                summary = summary_of(number, content, uidl=uidls.get(number), size=sizes[number])
                listing.append(summary)
                if plan.fetch:
                    fetched.append(self._fetched("pop3", summary, content))
            if plan.delete:
                for summary in listing:
                    await client.dele(summary.number)
            await client.quit()
        kept = () if plan.delete else tuple(listing)
        return ReadResult("pop3", plan.login, tuple(listing), tuple(fetched), kept,
                          len(listing) if plan.delete else 0, client.dialogue.received,
                          client.dialogue.round_trips)  # fmt: skip


@contextmanager
def _abandon_on_error(client: ImapClient | Pop3Client) -> Iterator[None]:
    """Close the connection when the session fails half-way (nothing more is asked of the server)."""
    try:
        yield
    except BaseException:
        client.dialogue.writer.close()
        raise


def summary_from_fetch(item: FetchData) -> Summary:
    """A listing line from the FETCH response of :meth:`ImapClient.listing`."""
    size = item.items.get("RFC822.SIZE")
    return summary_of(item.number, item.body() or b"", uid=item.uid, size=int(size) if isinstance(size, str) else 0,
                      flags=item.flags or frozenset())  # fmt: skip


# -- replying and forwarding ------------------------------------------------------------------------------


def is_automatic(original: bytes) -> bool:
    """Mail that must not be answered automatically (RFC 3834 §2): bounces, auto-replies, lists, bulk."""
    msg = parse_message(original)
    sender = email.utils.parseaddr(str(msg.get("From", "")))[1].lower()
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(msg.get("Precedence", "")).strip().lower()
    return (
        sender.startswith("mailer-daemon@")
        or auto != "no"
        or precedence in ("bulk", "list", "junk")
        or (str(msg.get("Return-Path", "")).strip() == "<>")
    )


def compose_reply(original: bytes, sender: str, text: str, *, login: str | None = None,
                  password: str | None = None) -> Submission:  # fmt: skip
    """A reply: to Reply-To (else From), ``Re:`` subject, In-Reply-To and References, the original quoted."""
    msg = parse_message(original)
    to = [a for _, a in email.utils.getaddresses([str(msg.get("Reply-To") or msg.get("From") or "")]) if a]
    subject = _clean(msg.get("Subject"))
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    headers: list[tuple[str, str]] = []
    message_id = _clean(msg.get("Message-ID"))
    if message_id:
        earlier = _clean(msg.get("References")) or _clean(msg.get("In-Reply-To"))
        headers = [("In-Reply-To", message_id), ("References", f"{earlier} {message_id}".strip())]
    quoted = "".join(f"> {line}\n" if line else ">\n" for line in _text_body(msg).splitlines())
    body = f"{text.rstrip()}\n\nOn {_clean(msg.get('Date'))}, {_clean(msg.get('From'))} wrote:\n{quoted}"
    return Submission(sender, tuple(to), subject, body, login=login or sender, password=password,
                      headers=tuple(headers))  # fmt: skip


def compose_forward(original: bytes, sender: str, to: tuple[str, ...], text: str = "", *,
                    login: str | None = None, password: str | None = None) -> Submission:  # fmt: skip
    """A forward inline: ``Fwd:`` subject, the original's main headers and text below a separator."""
    msg = parse_message(original)
    subject = _clean(msg.get("Subject"))
    if not subject.lower().startswith("fwd:"):
        subject = f"Fwd: {subject}"
    shown = "".join(f"{name}: {_clean(msg.get(name))}\n" for name in ("From", "Date", "Subject", "To") if msg.get(name))
    body = f"{text.rstrip()}\n\n---------- Forwarded message ----------\n{shown}\n{_text_body(msg)}".lstrip("\n")
    message_id = _clean(msg.get("Message-ID"))
    headers = (("References", message_id),) if message_id else ()
    return Submission(sender, to, subject, body, login=login or sender, password=password, headers=headers)


def _text_body(msg: EmailMessage) -> str:
    """The first text/plain part (what a text MUA shows), or nothing."""
    part = msg.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, ValueError):
        return part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
