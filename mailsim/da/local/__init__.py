"""local(8) for simulated hosts: aliases, .forward, mbox/Maildir mailboxes, files and commands.

Start with :class:`LocalAgent`. Parameters read: see :mod:`mailsim.da.local.settings`.
"""

from mailsim.da.local.agent import LocalAgent
from mailsim.da.local.settings import LocalSettings

__all__ = ["LocalAgent", "LocalSettings"]
