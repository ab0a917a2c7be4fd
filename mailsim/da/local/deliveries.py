"""The final steps of a local delivery: appending to an mbox or file, a Maildir file, piping into a command.

Each step is a simpy generator that spends the delivery's virtual time (:class:`~mailsim.da.agent.DeliveryCost`)
and reports ``None`` or why it failed. An mbox (or a ``/file``) is locked the way local(8) locks it: one
non-blocking attempt every ``deliver_lock_delay``, at most ``deliver_lock_attempts`` times, then the
recipient is deferred with 4.2.0; the lock is held while the write takes virtual time, so concurrent
deliveries to one mailbox queue up as they do on a real host. Maildir needs no lock. virtual(8) uses the
same steps. Parameters read: none (the callers pass deliver_lock_attempts, deliver_lock_delay and the size
limit).
"""

from __future__ import annotations

import errno
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

import simpy

from mailsim.core.errors import MailsimError
from mailsim.core.simulation import Simulation
from mailsim.da.agent import DeliveryCost, sleep, text
from mailsim.da.programs import ProgramContext, ProgramRegistry, ProgramResult, Resubmission
from mailsim.da.stores import MailboxBusy, MailboxFull, StoreError, from_line
from mailsim.da.stores.registry import Store
from mailsim.mail.address import quote_address

Steps = Generator[simpy.Event, Any, Any]


@dataclass(frozen=True, slots=True)
class Copy:
    """What goes into a store besides the message: envelope sender and the two delivery headers."""

    sender: str
    delivered: str  # Delivered-To
    original: str  # X-Original-To ("" to omit)


@dataclass(frozen=True, slots=True)
class Locking:
    """local(8)'s lock retry policy (deliver_lock_attempts, deliver_lock_delay)."""

    attempts: int = 20
    delay: float = 1.0


def write_store(
    sim: Simulation,
    store: Store,
    message: bytes,
    copy: Copy,
    *,
    cost: DeliveryCost,
    locking: Locking,
    size_limit: int,
    holder: str,
) -> Steps:
    """Lock (mbox only), spend the write time, write, unlock; the generator's value is None or the error."""
    locked = store.kind == "mbox"
    if locked:
        for attempt in range(max(1, locking.attempts)):
            if store.lock.acquire(holder, sim.now):
                break
            if attempt + 1 < locking.attempts:
                yield sleep(sim, locking.delay)
        else:
            return MailboxBusy(store.path, "unable to lock for exclusive access")
    try:
        yield sleep(sim, cost.write(len(message)))
        store.deliver(
            message, sender=copy.sender, recipient=copy.delivered, when=sim.wallclock(),
            original_recipient=copy.original, holder=holder if locked else None, size_limit=size_limit,
        )  # fmt: skip
    except (StoreError, OSError) as error:
        return error
    finally:
        if locked:
            store.lock.release(holder)
    return None


def store_failure(error: BaseException) -> tuple[str, str]:
    """(dsn, detail) for a failed write, in mail_copy()'s and mbox_open()'s words."""
    if isinstance(error, MailboxFull):
        return text("too_large")
    if isinstance(error, MailboxBusy):
        return text("locked")
    if isinstance(error, StoreError):
        return error.status, error.text
    if isinstance(error, OSError):
        transient = error.errno in (errno.ENOSPC, errno.EAGAIN, errno.ESTALE)
        return ("4.3.0" if transient else "5.2.0"), f"error writing message: {error.strerror or error}"
    raise error


def copy_prefix(copy: Copy, sim: Simulation, *, from_: bool, return_path: bool, delivered: bool) -> bytes:
    """The lines mail_copy() writes before a message piped to a command (MAIL_COPY_FROM, _RETURN_PATH, ...)."""
    out = from_line(copy.sender, sim.wallclock()) if from_ else b""
    lines = []
    if return_path:
        lines.append(f"Return-Path: <{quote_address(copy.sender) if copy.sender else ''}>")
    if copy.original:
        lines.append(f"X-Original-To: {quote_address(copy.original)}")
    if delivered:
        lines.append(f"Delivered-To: {quote_address(copy.delivered)}")
    return out + "".join(f"{line}\n" for line in lines).encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Command:
    """One program run: the command line or argv, its input, environment and where it runs."""

    command: str | tuple[str, ...]
    data: bytes
    env: Mapping[str, str]
    time_limit: float
    procname: str = "local"


def run_program(
    sim: Simulation,
    programs: ProgramRegistry,
    context: ProgramContext,
    job: Command,
    cost: DeliveryCost,
    submit: Any,
) -> Steps:
    """Run a command in virtual time and post the mail it sends; the value is its :class:`ProgramResult`."""
    if isinstance(job.command, str):
        result = programs.run_command(
            job.command, job.data, job.env, context, procname=job.procname, time_limit=job.time_limit
        )
    else:
        result = programs.run_argv(job.command, job.data, job.env, context, time_limit=job.time_limit)
    yield sleep(sim, cost.run(len(job.data), result.duration))
    for message in result.resubmit:
        ok = yield from post(submit, message)
        if not ok:
            return ProgramResult(75, "sendmail: fatal: queue file write error\n")
    return result


def post(submit: Any, message: Resubmission) -> Steps:
    """sendmail(1) for a program: True when the message was queued."""
    try:
        yield submit(message.sender, message.recipients, message.content, service=message.service)
    except MailsimError:  # cleanup refused it: the program's sendmail fails, the program exits EX_TEMPFAIL
        return False
    return True
