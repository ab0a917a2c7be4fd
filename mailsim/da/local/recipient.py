"""One request recipient through local(8): loop check, aliases, .forward, mailbox, unknown users, forwarding.

Theory of operation (local/recipient.c, alias.c, dotforward.c, mailbox.c, unknown.c, forward.c). The
recipient is first checked against the message's ``Delivered-To`` headers (a match bounces with
``5.4.6 mail forwarding loop for ADDR``). alias_maps are expanded by :func:`mailsim.policy.aliases.expand_aliases`
into final targets, each handled here in order:

- a local user (MAILBOX): the first existing file of forward_path in the user's home is expanded the same
  way (:func:`~mailsim.policy.aliases.expand_forward`); otherwise, in local(8)'s precedence,
  mailbox_transport_maps, mailbox_transport, then (only for users in the host's passwd) mailbox_command_maps,
  mailbox_command, ``home_mailbox`` (Maildir when it ends in ``/``) or ``mail_spool_directory/USER``; users
  without an account go to fallback_transport_maps, fallback_transport, luser_relay, are discarded when they
  are postmaster or MAILER-DAEMON ("required alias not found"), or bounce ``5.1.1 unknown user: "USER"``;
- ``/file`` (mbox format; ``/dev/null`` succeeds without writing; a trailing ``/`` means Maildir),
  ``|command`` (the host's program registry) and bounce/defer verdicts of the expansion;
- addresses that are not delivered here (FORWARD) are collected per (Delivered-To, sender) pair and posted
  as one new message each after the recipient is done, with Postfix's ``Received: by HOST (Postfix)`` and
  ``Delivered-To:`` on top, unless part of the expansion was deferred (then nothing is forwarded and the
  recipient is tried again later, as forward_finish() cancels).

A ``*_transport`` hand-off passes the recipient to ``host.agent(transport)`` (Postfix's deliver_pass()) and
takes that agent's status, which it logs itself. Duplicates are suppressed per recipient, as local(8)'s
dup_filter does: a mailbox, a file, a command, an address once.
Parameters read: see :mod:`mailsim.da.local.settings`.

Not modelled: owner- aliases redirecting *bounces* of expansion errors to the owner (the forwarded
members of such a list do carry the owner as sender, so their bounces reach it); DSN NOTIFY=SUCCESS
"expanded"/"relayed" notices; uid/gid rights; the "recipient nesting limit exceeded" path beyond the alias
loop limit. The Received line of forwarded mail has no ``id`` clause: the new queue id is only known when
cleanup has taken the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailsim.config.expand import expand
from mailsim.config.tables import TableFailure
from mailsim.core.errors import MailsimError
from mailsim.da.agent import Account, Attempt, header_lines, outcome, sleep, summarize, text
from mailsim.da.local.deliveries import (
    Command,
    Copy,
    Locking,
    Steps,
    copy_prefix,
    run_program,
    store_failure,
    write_store,
)
from mailsim.da.programs import ProgramContext, command_status
from mailsim.da.stores import to_crlf
from mailsim.mail.address import split_address
from mailsim.mail.delivery import DeliverRequest, DeliveryStatus, RecipientStatus
from mailsim.mail.message import postfix_date
from mailsim.mail.queuefile import QueueRecipient
from mailsim.policy.aliases import INCLUDE, AliasTarget, TargetKind, expand_aliases, expand_forward
from mailsim.policy.lookup import split_delim

if TYPE_CHECKING:
    from mailsim.da.local.agent import LocalAgent

REQUIRED_ALIASES = ("mailer-daemon", "postmaster")
ALIAS_LOOP = "alias database loop for "
_D = DeliveryStatus


class RecipientRun:
    """The state of one recipient's delivery (LOCAL_STATE, dup_filter and the forward table)."""

    def __init__(self, agent: LocalAgent, attempt: Attempt, content: bytes) -> None:
        self.agent = agent
        self.sim = agent.host.sim
        self.attempt = attempt
        self.content = content
        self.address = attempt.rcpt.address
        self.results: list[RecipientStatus] = []
        self.seen: set[tuple[str, ...]] = set()
        self.forwards: dict[tuple[str, str], list[str]] = {}
        self.looped: set[str] = set()
        self.luser_depth = 0

    # -- the whole recipient ------------------------------------------------------------------------
    def run(self) -> Steps:
        """Deliver, then forward, then the one summary status qmgr gets."""
        if self.attempt.facts.loops_for(self.address):
            self.fail(self.address, *text("loop", self.address))
        else:
            yield from self.expand(self.address)
            yield from self.finish_forwards()
        return summarize(self.attempt, self.results, self.agent.service)

    def expand(self, address: str) -> Steps:
        """Aliases first; every final target in order."""
        aliases, resolver = self.agent.policy()
        try:
            expansion = expand_aliases(address, aliases, resolver, self.agent.read_file)
        except TableFailure:
            self.fail(address, "4.3.0", "alias database unavailable")
            return
        for target in expansion.targets:
            yield from self.target(target, address, None)

    def target(self, target: AliasTarget, base: str, owner: Account | None) -> Steps:
        """One final target of an alias or .forward expansion that started at ``base``."""
        to = self.level_address(target, base, owner is not None)
        if self.loops_below(target, base):
            return
        kind = target.kind
        if kind is TargetKind.MAILBOX:
            yield from self.user(target.value, to, from_forward=owner is not None)
        elif kind is TargetKind.FORWARD:
            self.forward(target.value, target.owner, base)
        elif kind is TargetKind.FILE:
            yield from self.file(target.value, to, owner)
        elif kind is TargetKind.COMMAND:
            yield from self.command(target.value, to, owner)
        else:
            self.fail(to, target.status or "5.3.0", target.value)

    # -- addresses at each expansion level ------------------------------------------------------------
    def level_address(self, target: AliasTarget, base: str, in_forward: bool) -> str:
        """The address local(8) logs as ``to=``: the alias (or user) at the level that produced the target."""
        if target.kind is TargetKind.MAILBOX:
            return base if in_forward or not target.chain else self.resolve(target.value)
        if target.kind is TargetKind.BOUNCE and target.value.startswith(ALIAS_LOOP):
            return self.resolve(target.value[len(ALIAS_LOOP) :])  # alias.c logs the name it was looking up
        names = [name for name in target.chain if not name.startswith(INCLUDE) and name != ".forward"]
        return base if len(names) <= 1 else self.resolve(names[-1])

    def resolve(self, name: str) -> str:
        return self.agent.policy()[1](name)[0]

    def loops_below(self, target: AliasTarget, base: str) -> bool:
        """delivered.c at every nesting level: an expanded local address already in Delivered-To."""
        names = [name for name in target.chain[1:] if not name.startswith(INCLUDE) and name != ".forward"]
        if target.kind is TargetKind.MAILBOX and target.chain:
            names.append(target.value)
        for name in names:
            address = self.resolve(name)
            if address != base and self.attempt.facts.loops_for(address):
                if address.lower() not in self.looped:
                    self.looped.add(address.lower())
                    self.fail(address, *text("loop", address))
                return True
        return False

    # -- local users ----------------------------------------------------------------------------------
    def user(self, user: str, to: str, *, from_forward: bool) -> Steps:
        """deliver_switch() for a local user: .forward first (not again from one), then the mailbox."""
        account = self.account(user)
        if account is not None and not from_forward:
            found = yield from self.dotforward(account, user, to)
            if found:
                return
        yield from self.mailbox(user, account, to)

    def account(self, user: str) -> Account | None:
        passwd = self.agent.host.passwd
        return passwd.get(user) or passwd.get(user.lower())

    def dotforward(self, account: Account, user: str, to: str) -> Steps:
        """The first existing forward_path file, expanded with the user as owner; True when one was used."""
        for element in self.agent.settings.forward_path:
            path = self.local_expand(element, to, account)
            if path is None or not self.agent.read_file_exists(path):
                continue
            if self.been_here("forward", path):
                return True
            aliases, resolver = self.agent.policy()
            contents = self.agent.read_file(path)
            expansion = expand_forward(to, contents, aliases, resolver, self.agent.read_file)
            for target in expansion.targets:
                yield from self.target(target, to, account)
            return True
        return False

    def mailbox(self, user: str, account: Account | None, to: str) -> Steps:
        """deliver_mailbox(): transports, then (for real users) command, Maildir or mbox."""
        if self.been_here("mailbox", user):
            return
        settings = self.agent.settings
        transport = self.agent.find_in(settings.mailbox_transport_maps, user) or settings.mailbox_transport
        if transport:
            yield from self.pass_to(transport, to)
        elif account is None:
            yield from self.unknown(user, to)
        elif command := self.agent.find_in(settings.mailbox_command_maps, user) or settings.mailbox_command:
            yield from self.command(command, to, account)
        else:
            path = self.mailbox_path(user, account)
            yield from self.store(path, to, user=user)

    def mailbox_path(self, user: str, account: Account) -> str:
        """home_mailbox under the home, else mail_spool_directory/USER (``/`` at the end: Maildir)."""
        settings = self.agent.settings
        if settings.home_mailbox:
            return f"{account.home.rstrip('/')}/{settings.home_mailbox}"
        spool = settings.mail_spool_directory
        return f"{spool}{user}/" if spool.endswith("/") else f"{spool.rstrip('/')}/{user}"

    def unknown(self, user: str, to: str) -> Steps:
        """deliver_unknown(): fallback transports, luser_relay, the required aliases, else bounce."""
        if self.been_here("unknown", user):
            return
        settings = self.agent.settings
        transport = self.agent.find_in(settings.fallback_transport_maps, user) or settings.fallback_transport
        if transport:
            yield from self.pass_to(transport, to)
        elif settings.luser_relay and self.luser_depth == 0:
            yield from self.luser(to)
        elif user.lower() in REQUIRED_ALIASES:
            self.sim.emit(self.agent.host.name, self.agent.service, "warning", queue_id=self.attempt.request.queue_id,
                          text=f"required alias not found: {user}")  # fmt: skip
            self.succeed(to, *text("discarded"))
        else:
            self.fail(to, *text("unknown_user", user))

    def luser(self, to: str) -> Steps:
        """luser_relay: $name-expanded, then delivered (aliases again) or forwarded, extension dropped."""
        relay = self.local_expand(self.agent.settings.luser_relay, to, None) or ""
        recipient, local, error = self.agent.policy()[1](relay)
        if error or not relay:
            self.fail(to, "5.1.3", f"bad recipient address syntax: {relay}")
            return
        self.luser_depth += 1
        if local:
            yield from self.expand(recipient)
        else:
            self.forward(recipient, None, to)

    def local_expand(self, template: str, to: str, account: Account | None) -> str | None:
        """local_expand(): $user $home $domain $recipient $extension $recipient_delimiter $local $mailbox;
        None when the template uses one that is undefined (forward_path then skips the entry)."""
        local, domain = split_address(to)
        user, extension, delimiter = split_delim(local.lower(), self.agent.settings.recipient_delimiter)
        names: dict[str, str | None] = {
            "user": user, "home": account.home if account else None, "domain": domain.lower() or None,
            "recipient": to, "extension": extension, "recipient_delimiter": delimiter or None,
            "local": local.lower(), "mailbox": local.lower(), "shell": "/bin/sh" if account else None,
        }  # fmt: skip
        undefined: list[str] = []

        def lookup(name: str) -> str | None:
            value = names.get(name)
            if value is None:
                undefined.append(name)
                return None
            return value.replace("$", "$$")  # expand() expands found values again; an address is literal

        result = expand(template, lookup)
        return None if undefined else result

    # -- final deliveries -----------------------------------------------------------------------------
    def store(self, path: str, to: str, *, user: str | None = None) -> Steps:
        """An mbox or Maildir (mailbox delivery when ``user`` is given, else a ``/file`` of an alias)."""
        agent = self.agent
        try:
            store = agent.stores.open(path)
        except MailsimError as problem:
            self.fail(to, "5.3.5", f"mail system configuration error: {problem}")
            return
        error = yield from write_store(
            self.sim, store, self.content, self.copy(to), cost=agent.cost, size_limit=agent.settings.mailbox_size_limit,
            locking=Locking(agent.settings.deliver_lock_attempts, agent.settings.deliver_lock_delay),
            holder=f"{agent.host.name}/{agent.service}/{self.sim.counter('deliver-lock')}",
        )  # fmt: skip
        maildir = store.kind == "maildir"
        if error is None:
            key = "maildir" if maildir else ("mailbox" if user is not None else "file")
            self.succeed(to, *text(key, path))
            return
        dsn, detail = store_failure(error)
        if maildir:
            self.fail(to, dsn, text("maildir_error", detail)[1])
        elif user is not None:
            self.fail(to, dsn, text("mailbox_error", path, user, detail)[1])
        else:
            self.fail(to, dsn, text("file_error", path, detail)[1])

    def file(self, path: str, to: str, owner: Account | None) -> Steps:
        """deliver_file(): ``~/`` is the .forward owner's home; /dev/null is written to without a trace."""
        if path.startswith("~/") and owner is not None:
            path = f"{owner.home.rstrip('/')}{path[1:]}"
        if self.been_here("file", path):
            return
        if path == "/dev/null":
            yield sleep(self.sim, self.agent.cost.base)
            self.succeed(to, *text("file", path))
            return
        yield from self.store(path, to)

    def command(self, command: str, to: str, owner: Account | None) -> Steps:
        """deliver_command(): the message (with From_, Return-Path, X-Original-To, Delivered-To) on stdin."""
        if self.been_here("command", owner.name if owner else "", command):
            return
        agent = self.agent
        copy = self.copy(to)
        prefix = copy_prefix(copy, self.sim, from_=True, return_path=True,
                             delivered="command" in agent.settings.prepend_delivered_header)  # fmt: skip
        data = prefix + self.content.replace(b"\r\n", b"\n")
        job = Command(command, data, self.command_env(to, owner), agent.settings.command_time_limit)
        context = ProgramContext(agent.host.files, agent.host.name, self.sim.wallclock())
        result = yield from run_program(self.sim, agent.host.programs, context, job, agent.cost, agent.host.submit)
        failure = command_status(result, command)
        if failure is None:
            self.succeed(to, *text("command", command))
        else:
            self.fail(to, failure[1], failure[2])

    def command_env(self, to: str, owner: Account | None) -> dict[str, str]:
        """What local(8) exports to a command (command.c): HOME, LOGNAME, USER, SENDER, RECIPIENT, ..."""
        local, domain = split_address(to)
        user, extension, _ = split_delim(local.lower(), self.agent.settings.recipient_delimiter)
        name = owner.name if owner else user
        env = {"LOGNAME": name, "USER": name, "SENDER": self.attempt.request.sender, "RECIPIENT": to,
               "LOCAL": local.lower(), "DOMAIN": domain.lower(), "ORIGINAL_RECIPIENT": self.attempt.original}  # fmt: skip
        if owner is not None:
            env.update(HOME=owner.home, SHELL="/bin/sh")
        if extension is not None:
            env["EXTENSION"] = extension
        return env

    def pass_to(self, transport: str, to: str) -> Steps:
        """deliver_pass(): another agent delivers this recipient and logs it; its status is ours."""
        name, _, nexthop = transport.partition(":")
        request = self.attempt.request
        try:
            agent = self.agent.host.agent(name)
        except (KeyError, MailsimError):
            self.fail(to, *text("no_transport"))
            return
        rcpt = QueueRecipient(to, self.attempt.original, self.attempt.rcpt.dsn)
        handed = DeliverRequest(
            request.queue_id, request.queue_name, name, nexthop or request.nexthop, request.sender, (rcpt,),
            request.arrival_time, request.size, request.envid, request.ret, request.smtputf8, request.body,
            request.attributes,
        )  # fmt: skip
        report = yield agent.deliver(handed)
        self.results.append(report.statuses[0])

    # -- forwarding -----------------------------------------------------------------------------------
    def forward(self, address: str, owner: str | None, base: str) -> None:
        """forward_append(): one new message per (Delivered-To, sender); the owner- alias is the sender."""
        delivered = self.address if self.agent.settings.frozen_delivered_to else base
        sender = owner or self.attempt.request.sender
        rcpts = self.forwards.setdefault((delivered, sender), [])
        if address not in rcpts:
            rcpts.append(address)

    def finish_forwards(self) -> Steps:
        """forward_finish(): post the new messages, unless part of this recipient was deferred."""
        if any(result.status is _D.DEFERRED for result in self.results):
            return
        agent = self.agent
        for (delivered, sender), rcpts in self.forwards.items():
            received = (
                f"by {agent.settings.myhostname} ({agent.settings.mail_name}); {postfix_date(self.sim.wallclock())}"
            )
            headers = [("Received", received)]
            if "forward" in agent.settings.prepend_delivered_header:
                headers.append(("Delivered-To", delivered.lower()))
            content = header_lines(*headers) + to_crlf(self.content)
            try:
                queue_id = yield agent.host.submit(sender, tuple(rcpts), content, service=agent.service)
            except MailsimError:
                self.fail(self.address, *text("forward_failed"))
                continue
            self.succeed(self.address, *text("forwarded", queue_id))

    # -- bookkeeping ----------------------------------------------------------------------------------
    def copy(self, to: str) -> Copy:
        settings = self.agent.settings
        delivered = self.address if settings.frozen_delivered_to else to
        original = self.attempt.original if settings.enable_original_recipient else ""
        return Copy(self.attempt.request.sender, delivered, original)

    def been_here(self, *key: str) -> bool:
        """been_here(): True the second time a key is seen (case-folded, as BH_FLAG_FOLD does)."""
        folded = tuple(part.lower() for part in key)
        if folded in self.seen:
            return True
        self.seen.add(folded)
        return False

    def succeed(self, to: str, dsn: str, reason: str) -> None:
        self.record(to, _D.SENT, dsn, reason)

    def fail(self, to: str, dsn: str, reason: str) -> None:
        """A failure: 4.x.x defers, anything else bounces."""
        self.record(to, _D.DEFERRED if dsn.startswith("4") else _D.BOUNCED, dsn, reason)

    def record(self, to: str, status: DeliveryStatus, dsn: str, reason: str) -> None:
        agent = self.agent
        self.results.append(outcome(self.sim, agent.host.name, agent.service, self.attempt, to, status, dsn, reason))
