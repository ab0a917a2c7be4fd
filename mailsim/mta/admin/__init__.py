"""Postfix's queue administration tools over a simulated host: postqueue/mailq, postsuper, postcat.

Each tool works on a :class:`mailsim.mta.master.MailHost` at the current virtual time (run the
simulation to the moment you want, then ask), offers a Python API for notebooks, and a
``run_*(host, argv)`` form that takes Postfix's own options and returns a
:class:`~mailsim.config.tools.ToolResult` with the exact text Postfix prints. ``qshape`` lives in
:mod:`mailsim.analysis.qshape`; the ``mailsim`` command-line forms in :mod:`mailsim.commands`.
"""

from __future__ import annotations

from mailsim.mta.admin.postcat import postcat_text, run_postcat
from mailsim.mta.admin.postqueue import (
    ShowqMessage,
    ShowqRecipient,
    format_json,
    format_mailq,
    mailq,
    postqueue_json,
    queue_frame,
    run_postqueue,
    showq,
)
from mailsim.mta.admin.postsuper import delete, hold, release, requeue, run_postsuper

__all__ = [
    "ShowqMessage",
    "ShowqRecipient",
    "delete",
    "format_json",
    "format_mailq",
    "hold",
    "mailq",
    "postcat_text",
    "run_postqueue",
    "postqueue_json",
    "queue_frame",
    "release",
    "requeue",
    "run_postcat",
    "run_postsuper",
    "showq",
]
