"""A disclaimer milter: the footer (or "external sender" banner) a gateway writes into the body.

Such an edit is what breaks DKIM at a forwarder (the body hash no longer matches, with simple and
relaxed canonicalisation alike, unless the signer used ``l=``). ``disclaimer-milter.conf``::

    Socket     inet:10040@localhost
    Text       --
    Text       atrust.com - this message was forwarded by mail-relay.atrust.com
    Position   bottom               # or top (a banner)
    Direction  all                  # all, inbound (not originating here) or outbound

Only single-part ``text/plain`` messages (and messages without a Content-Type) are changed; a MIME
multipart message is left alone and the trace says so.

Postfix parameters read: none. Options read: Socket, Text, Position, Direction, InternalHosts,
ProcessingTime (1ms).
"""

from __future__ import annotations

from mailsim.mta.filters.rules import originating
from mailsim.mta.milters.base import Cost, DaemonContext, MilterMessage, MilterVerdict, split_content
from mailsim.mta.milters.conf import DaemonConf

OPTIONS = ("Socket", "Text", "Position", "Direction", "InternalHosts", "ProcessingTime")


class DisclaimerMilter:
    """The footer daemon (see the module docstring)."""

    name = "disclaimer-milter"

    def __init__(self, context: DaemonContext, conf: DaemonConf) -> None:
        conf.check(OPTIONS)
        lines = conf.all("Text")
        if not lines:
            raise conf.error("Text", "at least one line of text", "nothing")
        self.text = "".join(line + "\r\n" for line in lines).encode("utf-8")
        self.position = conf.choice("Position", "bottom", ("bottom", "top"))
        self.direction = conf.choice("Direction", "all", ("all", "inbound", "outbound"))
        self.internal = conf.list("InternalHosts", "127.0.0.1, ::1")
        self.timing = Cost(conf.duration("ProcessingTime", 0.001))

    def cost(self, size: int) -> float:
        return self.timing.of(size)

    def end_of_message(self, message: MilterMessage) -> MilterVerdict:
        outbound = originating(message, self.internal)
        if self.direction != "all" and outbound != (self.direction == "outbound"):
            return MilterVerdict(results=(("disclaimer", "skipped"),))
        headers, body = split_content(message.content)
        kinds = [h.split(b":", 1)[1].strip().lower() for h in headers if h.lower().startswith(b"content-type:")]
        if kinds and not kinds[0].startswith(b"text/plain"):
            return MilterVerdict(results=(("disclaimer", "not text/plain: left alone"),))
        if body and not body.endswith(b"\r\n"):
            body += b"\r\n"
        new_body = self.text + body if self.position == "top" else body + self.text
        return MilterVerdict(body=new_body, results=(("disclaimer", f"added at the {self.position}"),))
