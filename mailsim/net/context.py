"""Which host the running code is on: a context variable, so tasks inherit it as a process inherits its host.

Simulated agents are plain asyncio code; when one calls ``loop.create_connection`` or ``loop.create_server`` the
loop needs to know the host it speaks for. Callbacks of a simulated connection run with ``current_host`` set to
the endpoint's host, and tasks spawned from them copy it (asyncio copies the context into every task).
The variable is a module constant, but its value lives in each context, so runs never share it.

Postfix parameters read: none.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

current_host: contextvars.ContextVar[str | None] = contextvars.ContextVar("mailsim_current_host", default=None)


@contextmanager
def host_context(name: str) -> Iterator[str]:
    """Run the enclosed code (and every task it creates) as host ``name``."""
    token = current_host.set(name)
    try:
        yield name
    finally:
        try:
            current_host.reset(token)
        except ValueError:  # a coroutine closed after its run ended, in another context: nothing to undo
            pass


def context_for(host: str) -> contextvars.Context:
    """A copy of the current context with ``current_host`` set to ``host`` (for connection callbacks)."""
    ctx = contextvars.copy_context()
    ctx.run(current_host.set, host)
    return ctx
