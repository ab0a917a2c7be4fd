"""Bounded memos: remembered answers that are dropped all at once when there are too many.

Why: several daemons remember per-client or per-text answers for speed (PTR names, mynetworks matches, parsed
replies); a long run meets unboundedly many clients, so each memo is emptied at a limit instead of growing
with the messages simulated.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(memo: dict[K, V], key: K, value: V, limit: int) -> V:
    """Store ``value`` under ``key`` (emptying ``memo`` first when it holds ``limit`` entries) and return it."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value
