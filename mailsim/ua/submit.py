"""A user agent that sends mail: composes an RFC 5322 message and submits it to its MSA.

Submission follows RFC 6409 and the seed: port 587, EHLO, STARTTLS when the server offers it (or
the scenario requires it), AUTH with the user's credentials, one transaction, QUIT. The agent
records what it was told (``ua``/``submit`` in the trace: the reply, the queue id the MSA gave,
per-recipient refusals), so a class can see the submission succeed or be refused. Mail can also
enter by plain SMTP on port 25 (no AUTH: what a foreign MTA or a spammer does) or by the local
``sendmail`` command on the server host (pickup).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailsim.engine.client import Credentials, SessionPlan, SessionResult, StartTls, Transaction
from mailsim.engine.fidelity import session  # fidelity
from mailsim.engine.simloop import host_context
from mailsim.mail.message import as_bytes, build_message, format_date, make_message_id

SUBMISSION_PORT = 587  # RFC 6409 (the seed's "597" is a typo)
SMTP_PORT = 25


@dataclass(frozen=True, slots=True)
class Submission:
    """One message to send and how."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    via: str = "submission"  # submission | smtp
    login: str | None = None
    password: str | None = None
    bare: bool = False
    """Leave Date and Message-ID out and write From unqualified, as a sloppy MUA does (the MSA grooms)."""
    headers: tuple[tuple[str, str], ...] = ()
    """More header fields, e.g. a reply's In-Reply-To and References (mailsim.ua.reader)."""


class UserAgent:
    """The mail program of one user on one machine (the UA of the seed)."""

    def __init__(self, sim: Any, host: str, address: str, *, tls_context: Any = None, transcripts: Any = None) -> None:
        self.sim = sim
        self.host = host
        self.address = address
        self.tls_context = tls_context
        self.transcripts = transcripts
        self.sent: list[SessionResult] = []

    def compose(self, submission: Submission, *, domain: str) -> bytes:
        """A real message with Date and Message-ID, as a careful MUA writes it (or bare: see Submission)."""
        if submission.bare:
            local = submission.sender.partition("@")[0]
            msg = build_message(local, list(submission.recipients), submission.subject, submission.body)
            return as_bytes(msg)
        message_id = make_message_id(self.sim, domain)
        date = format_date(self.sim.wallclock())
        msg = build_message(submission.sender, list(submission.recipients), submission.subject, submission.body,
                            date=date, message_id=message_id,
                            headers=[*submission.headers, ("User-Agent", "mailsim-ua/0.1")])  # fmt: skip
        return as_bytes(msg)

    async def send(self, submission: Submission, server: str, *, server_name: str | None = None) -> SessionResult:
        """Submit ``submission`` to ``server`` (an IP address) and record the outcome."""
        domain = submission.sender.rpartition("@")[2] or self.host
        content = self.compose(submission, domain=domain)
        message_id = _header(content, b"message-id")
        submitting = submission.via == "submission"
        credentials = (Credentials(submission.login or submission.sender, submission.password or "")
                       if submitting and submission.password else None)  # fmt: skip
        plan = SessionPlan(
            server, self.host, Transaction(submission.sender, submission.recipients, content),
            port=SUBMISSION_PORT if submitting else SMTP_PORT,
            starttls=StartTls.MAY if self.tls_context is not None else StartTls.NONE,
            tls_context=self.tls_context, server_name=server_name, credentials=credentials,
        )  # fmt: skip
        with host_context(self.host):
            result = await session(plan, record=False, transcripts=self.transcripts, host=self.host, service="ua")  # fidelity
        self.sent.append(result)
        self.sim.trace.emit(
            self.host, "ua", "submit", message_id=message_id, sender=submission.sender,
            recipients=list(submission.recipients), via=submission.via, server=server, outcome=result.outcome.value,
            stage=result.stage, reply=result.reply.oneline() if result.reply else None,
            refused=[r.address for r in result.recipients if r.reply is not None and r.reply.code >= 400],
        )  # fmt: skip
        return result


def _header(content: bytes, name: bytes) -> str | None:
    for line in content.split(b"\r\n"):
        if not line:
            return None
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.decode("utf-8", "replace").strip().strip("<>")
    return None
