"""Small builders shared by the policy tests: tables, main.cf, restrictions and a session runner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mailsim.config.hostfacts import HostFacts
from mailsim.config.maincf import parse_main_cf
from mailsim.policy.restrictions import PolicyWorld, SmtpdContext, SmtpdRestrictions, Stage, Verdict
from mailsim.policy.rewrite import RewriteSettings

HOST = HostFacts("mx.example.com", ("192.0.2.10/24",))
BASE = {
    "compatibility_level": "3.6",
    "myhostname": "mx.example.com",
    "mydomain": "example.com",
    "alias_maps": "",
}
USERS = frozenset({"root", "alice", "bob", "abdou"})


class Table(dict):
    """A fixed-string lookup table (hash-like): keys are matched lowercased."""

    pattern = False

    def __init__(self, entries: Mapping[str, str] | str = ()) -> None:
        if isinstance(entries, str):
            entries = dict(_pairs(entries))
        super().__init__({key.lower(): value for key, value in dict(entries).items()})

    def lookup(self, key: str) -> str | None:
        return self.get(key)


class Static:
    """static:VALUE — every key matches."""

    pattern = False

    def __init__(self, value: str) -> None:
        self.value = value

    def lookup(self, key: str) -> str | None:
        return self.value


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            pairs.append((key, value.strip()))
    return pairs


def main_cf(host: HostFacts = HOST, **params: str):  # type: ignore[no-untyped-def]
    """A MainCf from BASE plus keyword parameters."""
    text = "".join(f"{name} = {value}\n" for name, value in {**BASE, **params}.items())
    return parse_main_cf(text, host=host)


def rewrite_settings(tables: Mapping[str, object] | None = None, **params: str) -> RewriteSettings:
    return RewriteSettings.from_main(main_cf(**params), tables)  # type: ignore[arg-type]


def restrictions(
    tables: Mapping[str, object] | None = None, world: PolicyWorld | None = None, **params: str
) -> SmtpdRestrictions:
    world = world or PolicyWorld(local_users=lambda user: user in USERS)
    return SmtpdRestrictions.from_main(main_cf(**params), tables, world)  # type: ignore[arg-type]


def context(
    recipient: str | None = None,
    sender: str | None = "someone@example.net",
    helo: str | None = "client.example.net",
    client: str = "203.0.113.5",
    name: str = "client.example.net",
    **fields: object,
) -> SmtpdContext:
    return SmtpdContext(client, name, helo_name=helo, sender=sender, recipient=recipient, **fields)  # type: ignore[arg-type]


def rcpt(policy: SmtpdRestrictions, recipient: str, **fields: object) -> Verdict:
    """The RCPT TO verdict for one recipient."""
    return policy.check(Stage.RCPT, context(recipient, **fields))  # type: ignore[arg-type]


def line(verdict: Verdict) -> str:
    """The reply as the client sees it: the refusal, or Postfix's 250 for an accepted RCPT."""
    return str(verdict.reply) if verdict.reply is not None else "250 2.1.5 Ok"


def session_lines(policy: SmtpdRestrictions, ctx: SmtpdContext, recipients: Sequence[str]) -> list[str]:
    """What a client sees for each RCPT when smtpd checks every stage in order (first refusal wins)."""
    carried = None
    for stage in (Stage.CONNECT, Stage.HELO, Stage.MAIL):
        verdict = policy.check(stage, _with(ctx, defer_if_permit=carried))
        if verdict.reply is not None:
            return [str(verdict.reply)] * len(recipients)
        carried = verdict.defer_if_permit or carried
    return [line(policy.check(Stage.RCPT, _with(ctx, recipient=r, defer_if_permit=carried))) for r in recipients]


def _with(ctx: SmtpdContext, **changes: object) -> SmtpdContext:
    from dataclasses import replace

    return replace(ctx, **changes)  # type: ignore[arg-type]
