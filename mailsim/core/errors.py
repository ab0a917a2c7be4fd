"""Errors a user can cause, each able to say where and what was expected.

A user's mistake (a scenario key, a main.cf line, a table file) must reach the user as one line
``FILE:LINE: key: expected X, found Y`` and exit code 2, never as a traceback; every such error
is a :class:`MailsimError`, which the CLI catches.
"""

from __future__ import annotations


class MailsimError(Exception):
    """Base of every error mailsim raises on purpose."""


class ScenarioError(MailsimError):
    """A scenario file (or anything it names) is wrong; carries the place and the expectation."""

    def __init__(
        self,
        message: str = "",
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        expected: str | None = None,
        found: object = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.expected = expected
        self.found = found
        self.detail = message
        super().__init__(self.render())

    def render(self) -> str:
        place = ""
        if self.file is not None:
            place = str(self.file)
            if self.line is not None:
                place += f":{self.line}"
            place += ": "
        what = f"{self.key}: " if self.key else ""
        if self.expected is not None:
            found = self.found if isinstance(self.found, str) else repr(self.found)
            body = f"expected {self.expected}, found {found}"
            if self.detail:
                body = f"{self.detail}: {body}"
        else:
            body = self.detail
        return f"{place}{what}{body}"

    def __str__(self) -> str:
        return self.render()


class ConfigError(ScenarioError):
    """A Postfix-style configuration file (main.cf, master.cf, table, aliases) is wrong."""


class SimulationError(MailsimError):
    """The simulation reached a state the model forbids (a bug, not a user mistake)."""
