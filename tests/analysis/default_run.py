"""One run of ``scenarios/default`` shared by the analysis view tests (once per test process)."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
MAIL_DATA = ROOT / "tests" / "data" / "mail"


def _run(fidelity: str) -> dict[str, pd.DataFrame]:
    from mailsim.api import run

    return run(ROOT / "scenarios" / "default", fidelity=fidelity).frames()


def _run_without_local(fidelity: str) -> dict[str, pd.DataFrame]:
    """The same run with local(8) replaced by discard(8), for while local(8) is unfinished."""
    import mailsim.scenario.roles as roles
    from mailsim.mta.error import DiscardAgent

    original = roles.delivery_commands

    def commands() -> dict:
        found = original()
        found["local"] = lambda host, service: DiscardAgent(host, service.name)
        return found

    roles.delivery_commands = commands
    try:
        return _run(fidelity)
    finally:
        roles.delivery_commands = original


@functools.cache
def default_frames(fidelity: str = "wire") -> dict[str, pd.DataFrame]:
    """Frames of the default scenario; views are pure, so every test may share them (do not mutate)."""
    try:
        return _run(fidelity)
    except Exception:  # local(8) is being finished elsewhere; the views under test do not depend on it
        return _run_without_local(fidelity)


def first_submitted(frames: dict[str, pd.DataFrame]) -> str:
    """The Message-ID of the first message a user agent submitted and that reached a mailbox elsewhere."""
    messages = frames["messages"]
    relayed = messages[(messages.status == "sent") & (messages.hops >= 2)]
    return str(relayed.sort_values("submitted").message_id.iloc[0])


def bounced(frames: dict[str, pd.DataFrame]) -> str:
    """The Message-ID of a message with a bounced recipient."""
    messages = frames["messages"]
    return str(messages[messages.status == "bounced"].message_id.iloc[0])
