"""IMAP4rev1 access agent (RFC 3501, with IDLE, LITERAL+, SASL-IR, UNSELECT): "one message at a time".

Engine choice
-------------
DESIGN.md §1 asks for a real IMAP engine where one fits; ``pymap`` 0.36.7 (PyPI, MIT, ~21 k lines, deps
``pysasl`` and ``proxy-protocol``) was evaluated and not used:

- Non-determinism inside the engine: ``MailboxSnapshot.new_uid_validity()`` takes ``time.time()`` and the
  module-level ``random``; message and thread ids (``ObjectId.random_*``) and the maildir backend's uidlist
  use ``random`` and ``uuid4``; APPEND defaults to ``datetime.now()``. A virtual run would not repeat, and the
  virtual and live transcripts could not be compared (UIDVALIDITY differs), against DESIGN.md principle 11.
- Its backends are ``dict`` (memory), ``maildir`` (its own uidlist format, a ``ThreadPoolExecutor``) and
  ``redis``; there is no mbox backend, so serving Postfix's ``/var/mail`` files means writing a backend against
  its session/mailbox/message interfaces (several hundred lines) on top of our own store anyway.
- It can run on a custom loop (``IMAPServer(login, config)`` is an ``asyncio.start_server`` callback wrapped by
  ``proxy-protocol``'s reader, which only needs ``get_extra_info('peername'|'sockname')``), so SimLoop itself was
  not the obstacle; but its maildir backend hands file work to a thread pool and expires its file locks by
  ``time.time()``, and its configuration objects are built from ``argparse.Namespace`` for its own CLI.
- It is marked "Development Status :: 3 - Alpha".

So the server is ours, compact and typed: :mod:`.parser` (command syntax, literals, sequence sets, FETCH
items), :mod:`.mime` (byte-exact sections, ENVELOPE, BODYSTRUCTURE), :mod:`.search`, :mod:`.session` (the
state table and non-selected commands), :mod:`.selected` (FETCH, STORE, SEARCH, EXPUNGE and untagged
updates) and :mod:`.server` (the stream loop: literals both ways, AUTHENTICATE continuation, IDLE, timeouts).
The same :class:`ImapServer` runs on a stock loop over 127.0.0.1 and on ``SimLoop`` in virtual time.

Implemented: CAPABILITY, NOOP, LOGOUT, LOGIN, AUTHENTICATE PLAIN (with SASL-IR), SELECT, EXAMINE, LIST, LSUB
(INBOX only, delimiter "/"), STATUS, SUBSCRIBE/UNSUBSCRIBE INBOX, CHECK, CLOSE, UNSELECT, EXPUNGE, FETCH (FLAGS,
UID, RFC822.SIZE, INTERNALDATE, ENVELOPE, BODY, BODYSTRUCTURE, RFC822, RFC822.HEADER, RFC822.TEXT, BODY[...]
and BODY.PEEK[...] with HEADER, TEXT, HEADER.FIELDS[.NOT], MIME, part numbers and partial ranges, the ALL/FAST/
FULL macros), STORE (FLAGS, +FLAGS, -FLAGS, .SILENT), SEARCH, UID FETCH/STORE/SEARCH, IDLE. Not implemented:
STARTTLS, other mailboxes (CREATE, DELETE, RENAME, APPEND, COPY and MOVE answer ``NO [CANNOT]``), keywords
(only the system flags are stored), UID EXPUNGE, NAMESPACE, ID, ENABLE, CONDSTORE.
Postfix parameters read: none (IMAP is Dovecot's job next to Postfix).
"""

from mailsim.aa.imap.server import AUTOLOGOUT, MAX_LINE, MAX_LITERAL, ImapServer
from mailsim.aa.imap.session import ALLOWED, ImapSession, State

__all__ = ["ALLOWED", "AUTOLOGOUT", "MAX_LINE", "MAX_LITERAL", "ImapServer", "ImapSession", "State"]
