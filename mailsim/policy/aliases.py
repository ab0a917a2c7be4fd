"""Alias and .forward expansion as Postfix's local(8) does it, as a pure function.

Theory of operation (local/alias.c, token.c, include.c, resolve.c, recipient.c, dotforward.c):

- A local recipient's lowercased local part (``user+ext``, then ``user``) is looked up in alias_maps, first
  table first. The right-hand side is a comma-separated list; each item is a ``/file`` (or ``~/file``), a
  ``|command``, an ``:include:/path`` or an address. An address is canonicalised and resolved; when it
  resolves to the local delivery agent it is expanded again in place (aliases first), otherwise it is
  *forwarded* (resubmitted to that address).
- An alias that names itself is delivered to the user of that name (aliases(5)); only the alias being
  expanded is checked, so a longer loop (``a: b``, ``b: a``) recurses until local(8)'s nesting level
  passes 100 and the recipient bounces with ``5.4.6 alias database loop for NAME``.
- Duplicates are suppressed per delivery the way local(8) does it: a recipient address once per nesting
  level, a file or a command once, an :include: file once.
- ``owner-NAME``: when it exists (owner_request_special), errors for NAME's expansion go to
  ``owner-NAME@$myorigin`` (or to its expansion with expand_owner_alias), and local users in the list are
  forwarded rather than delivered directly, as are all recipients of an :include: file.
- allow_mail_to_files / allow_mail_to_commands (default ``alias, forward``) say where ``/file`` and
  ``|command`` may appear; not in :include: files unless ``include`` is listed ("mail to file is
  restricted", 5.7.1).

The result lists final targets with the chain of aliases that led to each; a MAILBOX target is a local user
for whom the delivery agent still does .forward (:func:`expand_forward`), mailbox and unknown-user
handling (local(8) discards mail for a postmaster or MAILER-DAEMON that has neither alias nor account).

Parameters read: alias_maps, allow_mail_to_files, allow_mail_to_commands, owner_request_special,
expand_owner_alias, recipient_delimiter, propagate_unmatched_extensions.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from mailsim.config.maincf import MainCf
from mailsim.policy.lookup import Lookup, TableOpener, maps_find, open_all, opener_from, split_delim
from mailsim.policy.rewrite.address import split_address, unquote
from mailsim.policy.rewrite.resolve import resolve, rewrite_address
from mailsim.policy.rewrite.settings import RewriteSettings

MAX_LEVEL = 100  # alias.c: "if (state.level > 100)"
INCLUDE = ":include:"

AddressResolver = Callable[[str], tuple[str, bool, bool]]
"""address → (canonical recipient, delivered by this local agent?, syntax error?)"""
IncludeReader = Callable[[str], str]


class TargetKind(enum.Enum):
    MAILBOX = "mailbox"  # a local user: .forward, then the mailbox
    FORWARD = "forward"  # resubmit to this address
    FILE = "file"
    COMMAND = "command"
    BOUNCE = "bounce"
    DEFER = "defer"


class ExpandType(enum.Enum):
    """Where an item was found; decides whether /file and |command are allowed."""

    RECIPIENT = "recipient"
    ALIAS = "alias"
    FORWARD = "forward"
    INCLUDE = "include"


@dataclass(frozen=True, slots=True)
class AliasTarget:
    """One final target of an expansion; ``recipient`` is the address local(8) was handling when it arose."""

    kind: TargetKind
    value: str
    chain: tuple[str, ...] = ()
    source: ExpandType = ExpandType.RECIPIENT
    owner: str | None = None
    status: str | None = None
    recipient: str = ""

    @property
    def text(self) -> str:
        """``status text`` for BOUNCE/DEFER, else the value."""
        return f"{self.status} {self.value}" if self.status else self.value


@dataclass(frozen=True, slots=True)
class AliasExpansion:
    recipient: str
    targets: tuple[AliasTarget, ...]

    def of_kind(self, kind: TargetKind) -> tuple[AliasTarget, ...]:
        return tuple(target for target in self.targets if target.kind is kind)

    @property
    def values(self) -> tuple[tuple[str, str], ...]:
        """(kind, value) pairs: compact for tests and traces."""
        return tuple((target.kind.value, target.value) for target in self.targets)


@dataclass(frozen=True, slots=True)
class AliasSettings:
    """local(8)'s aliasing parameters."""

    alias_maps: tuple[Lookup, ...] = ()
    allow_mail_to_files: frozenset[str] = frozenset({"alias", "forward"})
    allow_mail_to_commands: frozenset[str] = frozenset({"alias", "forward"})
    owner_request_special: bool = True
    expand_owner_alias: bool = False
    recipient_delimiter: str = ""
    propagate_unmatched_extensions: frozenset[str] = frozenset({"canonical", "virtual"})

    @classmethod
    def from_main(cls, main: MainCf, tables: Mapping[str, Lookup] | TableOpener | None = None) -> AliasSettings:
        return cls(
            alias_maps=open_all(main.list("alias_maps"), opener_from(tables)),
            allow_mail_to_files=frozenset(main.list("allow_mail_to_files")),
            allow_mail_to_commands=frozenset(main.list("allow_mail_to_commands")),
            owner_request_special=main.bool("owner_request_special"),
            expand_owner_alias=main.bool("expand_owner_alias"),
            recipient_delimiter=main.get("recipient_delimiter"),
            propagate_unmatched_extensions=frozenset(main.list("propagate_unmatched_extensions")),
        )


def local_resolver(rewrite: RewriteSettings, local_transport: str | None = None) -> AddressResolver:
    """An :data:`AddressResolver` over trivial-rewrite: local when the transport is local(8)'s own."""
    own = (local_transport or rewrite.local_transport).partition(":")[0]

    def resolve_address(address: str) -> tuple[str, bool, bool]:
        result = resolve(rewrite_address(address, rewrite), rewrite)
        return result.recipient, result.transport == own and not result.error, result.error

    return resolve_address


@dataclass(frozen=True, slots=True)
class _State:
    """local(8)'s per-call state (passed by value, like LOCAL_STATE)."""

    level: int = 0
    exp_type: ExpandType = ExpandType.RECIPIENT
    exp_from: str | None = None
    owner: str | None = None
    errors_to: str | None = None
    unmatched: str | None = None
    address: str = ""
    local: str = ""
    chain: tuple[str, ...] = ()

    def down(self, **changes: object) -> _State:
        return replace(self, level=self.level + 1, **changes)  # type: ignore[arg-type]


@dataclass
class _Run:
    settings: AliasSettings
    resolve: AddressResolver
    read_include: IncludeReader | None
    targets: list[AliasTarget] = field(default_factory=list)
    seen: set[tuple[object, ...]] = field(default_factory=set)

    def been_here(self, *key: object) -> bool:
        if key in self.seen:
            return True
        self.seen.add(key)
        return False

    def emit(self, kind: TargetKind, value: str, state: _State, status: str | None = None) -> None:
        recipient = value if kind is TargetKind.FORWARD else state.address
        self.targets.append(AliasTarget(kind, value, state.chain, state.exp_type, state.errors_to, status, recipient))


def expand_aliases(
    recipient: str,
    settings: AliasSettings,
    resolve_address: AddressResolver,
    read_include: IncludeReader | None = None,
) -> AliasExpansion:
    """Expand a local recipient (``user@local-domain``) into its final targets, as local(8) would."""
    run = _Run(settings, resolve_address, read_include)
    _deliver_recipient(run, _State(), recipient)
    return AliasExpansion(recipient, tuple(run.targets))


def expand_forward(
    recipient: str,
    contents: str,
    settings: AliasSettings,
    resolve_address: AddressResolver,
    read_include: IncludeReader | None = None,
) -> AliasExpansion:
    """A user's .forward file (dotforward.c): the user is the owner, naming oneself means the mailbox."""
    run = _Run(settings, resolve_address, read_include)
    local = split_address(recipient)[0].lower()
    user = split_delim(local, settings.recipient_delimiter)[0]
    state = _State(3, ExpandType.FORWARD, local, user, None, None, recipient, local, (local, ".forward"))
    count = _deliver_lines(run, state, contents)
    if count == 0:
        run.emit(TargetKind.MAILBOX, user, replace(state, chain=(local,)))
    return AliasExpansion(recipient, tuple(run.targets))


def _deliver_recipient(run: _Run, state: _State, address: str) -> None:
    """recipient.c: duplicate filter per level, split off the extension, then the delivery switch."""
    state = state.down(address=address)
    if run.been_here("recipient", state.level, address):
        return
    local = split_address(address)[0].lower()
    user, ext, _ = split_delim(local, run.settings.recipient_delimiter)
    if not user:
        run.emit(TargetKind.BOUNCE, f'null username in "{address}"', state, "5.1.3")
        return
    _deliver_switch(run, replace(state, local=local, unmatched=ext), user, ext)


def _deliver_switch(run: _Run, state: _State, user: str, ext: str | None) -> None:
    """Aliases first (full local part, then bare user), then forward or deliver to the user."""
    state = state.down(unmatched=None)
    if _deliver_alias(run, state, state.local):
        return
    if ext is not None:
        keep = ext if "alias" in run.settings.propagate_unmatched_extensions else None
        if _deliver_alias(run, replace(state, unmatched=keep), user):
            return
        state = replace(state, unmatched=ext)
    forwarder = state.owner is not None and state.owner.lower() != user
    if forwarder or state.exp_type is ExpandType.INCLUDE:
        run.emit(TargetKind.FORWARD, state.address, state)
    else:
        run.emit(TargetKind.MAILBOX, user, state)


def _deliver_alias(run: _Run, state: _State, name: str) -> bool:
    """alias.c: True when the name was an alias (and has been expanded or bounced)."""
    state = state.down()
    if state.exp_from is not None and state.exp_from.lower() == name:
        return False
    if state.level > MAX_LEVEL:
        run.emit(TargetKind.BOUNCE, f"alias database loop for {name}", state, "5.4.6")
        return True
    value = maps_find(run.settings.alias_maps, name)
    if value is None:
        return False
    owner = _owner_of(run, name)
    state = replace(
        state,
        exp_type=ExpandType.ALIAS,
        exp_from=name,
        owner=owner,
        errors_to=owner or state.errors_to,
        chain=(*state.chain, name),
    )
    if _deliver_items(run, state, value) == 0:
        run.emit(TargetKind.DEFER, "alias database unavailable", state, "4.3.0")
    return True


def _owner_of(run: _Run, name: str) -> str | None:
    """The owner-NAME alias: errors go there (its address, or its expansion with expand_owner_alias)."""
    if not run.settings.owner_request_special:
        return None
    owner = f"owner-{name}"
    value = maps_find(run.settings.alias_maps, owner)
    if value is None:
        return None
    target = _items(value)[0] if run.settings.expand_owner_alias and _items(value) else owner
    return run.resolve(target)[0]


def _items(text: str) -> list[str]:
    """An RFC 822 address list: split on commas outside quotes and angle brackets, internal form."""
    items: list[str] = []
    current: list[str] = []
    quoted = angle = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "<>":
            angle = char == "<"
        if char == "," and not quoted and not angle:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [_internal(item) for item in items if item.strip()]


def _internal(item: str) -> str:
    text = item.strip()
    if "<" in text and text.endswith(">") and not text.startswith('"'):
        text = text[text.rindex("<") + 1 : -1]
    return unquote(text).strip()


def _deliver_items(run: _Run, state: _State, text: str) -> int:
    """deliver_token_string(): every item of one list; returns how many there were."""
    items = _items(text)
    for item in items:
        _deliver_token(run, state, item)
    return len(items)


def _deliver_lines(run: _Run, state: _State, contents: str) -> int:
    """deliver_token_stream(): an :include: or .forward file, one list per line, ``#`` lines skipped."""
    return sum(_deliver_items(run, state, line) for line in contents.splitlines() if not line.startswith("#"))


def _deliver_token(run: _Run, state: _State, item: str) -> None:
    """token.c: dispatch on the item's form."""
    if item.startswith("/") or item.startswith("~"):
        _deliver_file(run, state, item)
    elif item.startswith("|"):
        _deliver_command(run, state, item[1:])
    elif item.lower().startswith(INCLUDE):
        _deliver_include(run, state, item[len(INCLUDE) :])
    else:
        _deliver_address(run, state, item)


def _deliver_file(run: _Run, state: _State, path: str) -> None:
    if path.startswith("~") and (not path.startswith("~/") or state.exp_type is not ExpandType.FORWARD):
        run.emit(TargetKind.BOUNCE, "mail system configuration error", state, "5.3.5")
        return
    if run.been_here("file", state.owner if state.exp_type is ExpandType.FORWARD else None, path):
        return
    if state.exp_type.value not in run.settings.allow_mail_to_files:
        run.emit(TargetKind.BOUNCE, "mail to file is restricted", state, "5.7.1")
        return
    run.emit(TargetKind.FILE, path, state)


def _deliver_command(run: _Run, state: _State, command: str) -> None:
    if state.exp_type.value not in run.settings.allow_mail_to_commands:
        run.emit(TargetKind.BOUNCE, "mail to command is restricted", state, "5.7.1")
        return
    if run.been_here("command", state.local, command):
        return
    run.emit(TargetKind.COMMAND, command, state)


def _deliver_include(run: _Run, state: _State, path: str) -> None:
    """include.c: an absolute path, read once; its recipients are always forwarded."""
    state = state.down()
    if run.been_here("include", path):
        return
    state = replace(
        state,
        exp_from=state.local,
        exp_type=ExpandType.INCLUDE,
        owner=state.owner if state.owner is not None else state.address,
        chain=(*state.chain, f"{INCLUDE}{path}"),
    )
    if "include" not in run.settings.propagate_unmatched_extensions:
        state = replace(state, unmatched=None)
    contents = _read(run, path)
    if contents is None:
        run.emit(TargetKind.BOUNCE, "mail system configuration error", state, "5.3.5")
        return
    _deliver_lines(run, state, contents)


def _read(run: _Run, path: str) -> str | None:
    if not path.startswith("/") or run.read_include is None:
        return None
    try:
        return run.read_include(path)
    except (OSError, KeyError):
        return None


def _deliver_address(run: _Run, state: _State, item: str) -> None:
    """resolve.c: canonicalise and resolve; local recipients recurse, others are forwarded."""
    state = state.down()
    recipient, local, error = run.resolve(item)
    if error:
        run.emit(TargetKind.BOUNCE, f"bad recipient address syntax: {recipient}", state, "5.1.3")
        return
    recipient = _with_extension(recipient, state.unmatched, run.settings.recipient_delimiter)
    if local:
        _deliver_recipient(run, state, recipient)
    else:
        run.emit(TargetKind.FORWARD, recipient, state)


def _with_extension(recipient: str, unmatched: str | None, delimiters: str) -> str:
    """Splice an unmatched extension back in (only when propagate_unmatched_extensions allows it)."""
    if not unmatched or not delimiters:
        return recipient
    local, at, domain = recipient.rpartition("@")
    return f"{local}{delimiters[0]}{unmatched}@{domain}" if at else f"{recipient}{delimiters[0]}{unmatched}"
