"""in_flow_delay: Postfix's global flow control between mail receivers and the queue manager.

Postfix's mechanism (mail_flow(3), the master's flow-control pipe; read in Postfix's source):

- cleanup is the receiving side. Each time a cleanup process accepts a client (smtpd opening a
  queue file at the first accepted RCPT, pickup, bounce) it tries to read one token from the
  pipe; when there is none it sleeps ``in_flow_delay`` (the whole delay, then goes on anyway: the
  sender is slowed down, never blocked). A message that cleanup places in ``hold`` rather than
  ``incoming`` gives its token back.
- qmgr is the producing side. After each pass that feeds the active queue, if fewer than
  ``default_process_limit`` tokens are in the pipe, it adds one when it took a message from
  ``incoming``, or tops the pipe up to ``default_process_limit`` when the incoming queue has
  nothing left for it; extra tokens above the limit are taken out again.

So tokens only run out when messages enter faster than qmgr moves them out of ``incoming`` (for
example with a full active queue): with Postfix's defaults a burst of up to 100 messages passes
unhindered, and small scenarios never pause. Here the pipe is a counter per host, filled at start
(qmgr tops it up on its first pass). Only smtpd's clients can be paused in the model (the wait is in
smtpd's RCPT hook, where smtpd waits for cleanup); the other cleanup clients (pickup after
sendmail(1), bounce, local forwarding) run synchronously here, so they take their token without
pausing.

Postfix parameters read: in_flow_delay (1s; 0 = off), default_process_limit (100).
"""

from __future__ import annotations

from typing import Any


class MailFlow:
    """The host's flow-control tokens (mail_flow_get / mail_flow_put / mail_flow_count)."""

    def __init__(self, main: Any) -> None:
        self.delay = float(main.time("in_flow_delay"))
        self.limit = int(main.int("default_process_limit"))
        self.tokens = self.limit

    def take(self) -> bool:
        """mail_flow_get(1): a receiver takes a token; False means it should pause ``delay`` seconds."""
        if self.delay <= 0:
            return True
        if self.tokens > 0:
            self.tokens -= 1
            return True
        return False

    def give_back(self) -> None:
        """mail_flow_put(1) by cleanup for a message that did not go to incoming (hold)."""
        if self.delay > 0:
            self.tokens += 1

    def after_feed(self, fed_incoming: int, incoming_idle: bool) -> None:
        """qmgr's pass over the queues is done: one token per message taken from incoming, or a top-up."""
        if self.delay <= 0:
            return
        if self.tokens < self.limit:
            if incoming_idle:
                self.tokens = self.limit
            elif fed_incoming:
                self.tokens = min(self.limit, self.tokens + fed_incoming)
        elif self.tokens > self.limit:
            self.tokens = self.limit
