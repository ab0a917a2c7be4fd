"""A queue that fills up: mail.example.org sends to mx.example.net, which is down, so mail waits in deferred."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailsim.scenario.runner import run_scenario
from tests.mta.worlds import two_hosts

DEAD_MX = '\n[[faults]]\nkind = "host-down"\nhost = "mx.example.net"\nat = "0s"\n'


def message(at: str, sender: str, *recipients: str) -> str:
    """One scripted ``[[messages]]`` entry posted with sendmail on mail.example.org."""
    to = ", ".join(f"'{r}'" for r in recipients)
    return (
        f'\n[[messages]]\nat = "{at}"\nfrom = "{sender}"\nto = [{to}]\nvia = "sendmail"\nserver = "mail.example.org"\n'
    )


STANDARD = (
    message("10s", "alice@example.org", "bob@example.net", "carol@example.net"),
    message("20s", "", "dave@example.net"),
)


def dead_mx(tmp: Path, *messages: str, until: float = 120.0, back_at: str | None = None,
            extra: str = "") -> tuple[Any, Any]:  # fmt: skip
    """(world, mail.example.org) after ``until`` seconds; the MX is down from the start (until ``back_at``)."""
    fault = DEAD_MX + (f'until = "{back_at}"\n' if back_at else "")
    body = fault + "".join(messages or STANDARD)
    spec = two_hosts(tmp, body, until="1d", sender_extra=extra)
    world = run_scenario(spec, until=until).world
    return world, world.hosts["mail.example.org"]


def advance(world: Any, until: float) -> None:
    """Go on with the same run to virtual time ``until``."""
    world.sim.run(until=until)
