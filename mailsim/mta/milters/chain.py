"""A list of milters as Postfix runs them at the end of a message (smtpd_milters, non_smtpd_milters).

Theory of operation
-------------------
cleanup(8) hands the message to each milter of the list in turn; a milter sees the edits of the
milters before it (header insertions, a replaced body), as with Postfix's queue-file edits. The
first milter that rejects, tempfails or discards ends the list; ``accept`` skips the rest; a
quarantine puts the message on hold (Postfix's hold queue) and the list goes on. A milter that is
listed but has no daemon behind its socket gets ``milter_default_action`` (``tempfail`` by default:
``451 4.7.1 Service unavailable - try again later``), or the per-milter ``default_action`` of the
``{ inet:host:port, default_action=accept }`` form.

Each milter's answer is one ``milter`` trace record (service = the daemon's name) with its action,
the headers it added and what it found; a reject, discard or hold is also logged by cleanup in
Postfix's words (``milter-reject: END-OF-MESSAGE from ...``).

Postfix parameters read: smtpd_milters, non_smtpd_milters, milter_default_action (tempfail),
milter_macro_daemon_name ($myhostname).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mailsim.config.syntax import split_list
from mailsim.core.errors import ConfigError
from mailsim.mail.reply import Reply
from mailsim.mta.milters.base import Milter, MilterAction, MilterMessage, MilterVerdict, insert_headers, replace_body

DEFAULT_ACTIONS = ("accept", "reject", "tempfail", "quarantine")
MILTER_REJECT = Reply(550, "5.7.1", "Command rejected")  # Postfix's text for a bare SMFIS_REJECT
MILTER_TEMPFAIL = Reply(451, "4.7.1", "Service unavailable - try again later")


@dataclass(frozen=True, slots=True)
class MilterSpec:
    """One entry of a milter list: the socket and its per-milter default action."""

    socket: str
    default_action: str


@dataclass(slots=True)
class ChainResult:
    """The chain's outcome: the content with every edit, and what cleanup must do with it."""

    content: bytes
    reply: Reply | None = None  # a reject or tempfail: cleanup answers with it and queues nothing
    hold: str | None = None  # quarantine reason: the message goes to the hold queue
    discard: bool = False
    log: list[str] = field(default_factory=list)


def parse_milter_list(value: str, default_action: str, *, key: str) -> list[MilterSpec]:
    """``inet:localhost:8891, { unix:/run/x.sock, default_action=accept }`` into specs."""
    specs = []
    for item in split_list(value):
        if item.startswith("{"):
            if not item.endswith("}"):
                raise ConfigError(f"missing '}}' in {item!r}", key=key)
            parts = split_list(item[1:-1], ",")
            socket, options = parts[0].strip(), dict(p.strip().partition("=")[::2] for p in parts[1:])
            action = options.get("default_action", default_action).strip()
        else:
            socket, action = item, default_action
        if action not in DEFAULT_ACTIONS:
            raise ConfigError(key=key, expected="default_action " + " or ".join(DEFAULT_ACTIONS), found=action)
        specs.append(MilterSpec(socket, action))
    return specs


class MilterChain:
    """The milters of one list on one host, resolved to daemons (None where no daemon listens)."""

    def __init__(self, host: Any, entries: Sequence[tuple[MilterSpec, Milter | None]], what: str) -> None:
        self.host = host
        self.entries = list(entries)
        self.what = what  # "smtpd_milters" or "non_smtpd_milters" (for the log)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def cost(self, size: int) -> float:
        """Seconds the milters of the list work on a message of ``size`` bytes."""
        return sum(milter.cost(size) for _, milter in self.entries if milter is not None)

    def run(self, message: MilterMessage) -> ChainResult:
        """Every milter in turn on ``message`` (see the module docstring)."""
        result = ChainResult(message.content)
        for spec, milter in self.entries:
            if milter is None:
                verdict = _unavailable(spec)
                result.log.append(f"warning: connect to Milter service {spec.socket}: Connection refused")
                name = spec.socket
            else:
                verdict = milter.end_of_message(replace(message, content=result.content))
                name = milter.name
            self._trace(message, name, verdict)
            if _apply(result, verdict) or verdict.action is MilterAction.ACCEPT:
                break
        return result

    def _trace(self, message: MilterMessage, name: str, verdict: MilterVerdict) -> None:
        added = [line.split(":", 1)[0] for line in verdict.headers]
        fields: dict[str, Any] = {"action": verdict.action.value, "added": added, "list": self.what}
        if verdict.body is not None:
            fields["body"] = "replaced"
        if verdict.reply is not None:
            fields["reply"] = str(verdict.reply)
        if verdict.reason:
            fields["reason"] = verdict.reason
        fields.update(dict(verdict.results))
        self.host.sim.trace.emit(self.host.name, name, "milter", queue_id=message.queue_id,
                                 message_id=message.message_id, **fields)  # fmt: skip


def _unavailable(spec: MilterSpec) -> MilterVerdict:
    """milter_default_action for a milter nobody answers."""
    action = {
        "accept": MilterAction.CONTINUE,
        "reject": MilterAction.REJECT,
        "tempfail": MilterAction.TEMPFAIL,
        "quarantine": MilterAction.QUARANTINE,
    }[spec.default_action]
    return MilterVerdict(action, reason=f"no milter at {spec.socket} (default_action={spec.default_action})")


def _apply(result: ChainResult, verdict: MilterVerdict) -> bool:
    """Fold one verdict into the result; True when the list ends here."""
    if verdict.action is MilterAction.REJECT:
        result.reply = verdict.reply or MILTER_REJECT
        return True
    if verdict.action is MilterAction.TEMPFAIL:
        result.reply = verdict.reply or MILTER_TEMPFAIL
        return True
    if verdict.action is MilterAction.DISCARD:
        result.discard = True
        return True
    if verdict.headers:
        result.content = insert_headers(result.content, verdict.headers)
    if verdict.body is not None:
        result.content = replace_body(result.content, verdict.body)
    if verdict.action is MilterAction.QUARANTINE:
        result.hold = verdict.reason or "milter quarantine"
    return False


Resolver = Callable[[str], "Milter | None"]


def build_chain(host: Any, value: str, default_action: str, find: Resolver, *, what: str) -> MilterChain:
    """A chain for a milter list value, each socket resolved with ``find``."""
    specs = parse_milter_list(value, default_action, key=what)
    return MilterChain(host, [(spec, find(spec.socket)) for spec in specs], what)
