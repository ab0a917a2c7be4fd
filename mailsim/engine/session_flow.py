"""What both fidelities' client sessions do around a transaction: the end (QUIT, or keep the connection for the
cache) and another transaction on a kept connection.

Why one place: ``wire`` (:mod:`mailsim.engine.client`) and ``fast`` (:mod:`mailsim.engine.fast`) must take the
same decisions at the same moments; each supplies only its primitives (the clock, one RSET, QUIT, closing).
smtp_proto.c's rules: a kept connection is probed with RSET before its next transaction (smtp_reuse.c), a
rejected transaction is ended with RSET before the connection is kept (the ABORT state), and a connection that
is not kept ends with QUIT when the dialogue allows it.

Postfix parameters read: none (smtp_rset_timeout comes in the plan).
"""

from __future__ import annotations

from dataclasses import replace

from mailsim.engine.plan import (
    Outcome,
    RecipientResult,
    SessionFailure,
    SessionPlan,
    SessionResult,
    Transaction,
    keepable,
)
from mailsim.mail.reply import Reply

QUIT_AFTER = (Outcome.COMPLETED, Outcome.REJECTED, Outcome.TLS_FAILED)  # the dialogue is still in order


class SessionFlow:
    """The end of a session and the next transaction on a kept one; subclasses supply the primitives below."""

    plan: SessionPlan
    results: list[RecipientResult | None]

    async def again(self, transaction: Transaction, cache_until: float | None) -> SessionResult | None:
        """One more transaction on this kept connection (None: the RSET probe failed, the connection is closed)."""
        started = self._clock()
        self.plan = replace(self.plan, transaction=transaction, cache_until=cache_until)
        self.results = [None] * len(transaction.recipients)
        if not await self._rset():
            self.close()
            return None
        outcome, stage, reply, detail = Outcome.COMPLETED, "done", None, ""
        try:
            reply = await self._send(transaction)
        except SessionFailure as failure:
            outcome, stage, reply, detail = failure.outcome, failure.stage, failure.reply, failure.detail
        return await self._end(outcome, stage, reply, detail, started)

    async def _end(
        self, outcome: Outcome, stage: str, reply: Reply | None, detail: str, started: float
    ) -> SessionResult:
        """QUIT and close, or keep the connection (a rejected transaction is ended with RSET first)."""
        kept = self._connected() and keepable(self.plan, outcome, stage, reply, self._clock())
        if kept and stage != "done":
            kept = await self._rset()
        if not kept:
            if self._connected() and outcome in QUIT_AFTER:
                await self._quit()
            self._disconnect()
        return self._result(outcome, stage, reply, detail, started, kept)

    async def _rset(self) -> bool:
        """RSET within smtp_rset_timeout: did the server answer 2xx and stay?"""
        try:
            reply = await self._rset_command()
        except SessionFailure:
            return False
        return reply.code // 100 == 2 and self._connected()

    # -- the primitives of each fidelity ---------------------------------------------------------------------

    def _clock(self) -> float:
        raise NotImplementedError

    def _connected(self) -> bool:
        raise NotImplementedError

    async def _rset_command(self) -> Reply:
        raise NotImplementedError

    async def _send(self, transaction: Transaction) -> Reply:
        raise NotImplementedError

    async def _quit(self) -> None:
        raise NotImplementedError

    def _disconnect(self) -> None:
        """Close the connection without QUIT."""
        raise NotImplementedError

    def close(self) -> None:
        """Close a kept connection without QUIT (the cache's time is up)."""
        self._disconnect()

    def _result(self, outcome: Outcome, stage: str, reply: Reply | None, detail: str, started: float,
                kept: bool = False) -> SessionResult:  # fmt: skip
        raise NotImplementedError
