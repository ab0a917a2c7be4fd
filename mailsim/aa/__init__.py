"""Access agents (DESIGN.md §2, L4): POP3 (:mod:`.pop3`) and IMAP4rev1 (:mod:`.imap`) over the message stores.

Both are asyncio stream servers with their protocol logic in I/O-free session classes, so the same code serves
real clients on 127.0.0.1 and simulated ones on SimLoop; stores arrive by injection (:mod:`.access`).
Postfix parameters read: none.
"""
