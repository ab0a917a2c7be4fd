"""A bounded memo empties itself at its limit instead of growing with the run."""

from __future__ import annotations

from mailsim.core.memo import remember


def test_remember_stores_and_returns_until_the_limit_then_starts_over() -> None:
    memo: dict[str, int] = {}
    assert [remember(memo, k, n, limit=3) for n, k in enumerate("abc")] == [0, 1, 2]
    assert memo == {"a": 0, "b": 1, "c": 2}
    assert remember(memo, "d", 3, limit=3) == 3
    assert memo == {"d": 3}
