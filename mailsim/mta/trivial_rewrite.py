"""trivial-rewrite(8): the host's address rewriting and resolving service, over the pure policy.

Other daemons ask it to canonicalise an address (rewrite) or to resolve a recipient to
(transport, nexthop, recipient); the decisions are :mod:`mailsim.policy.rewrite`'s, the settings
come from this host's main.cf once, and answers are cached as Postfix's clients cache them.

Parameters: see :mod:`mailsim.policy.rewrite.settings`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from mailsim.policy.rewrite.resolve import Resolution, resolve, rewrite_address
from mailsim.policy.rewrite.settings import RewriteSettings


class TrivialRewrite:
    """One host's rewrite/resolve service with a small answer cache."""

    def __init__(self, settings: RewriteSettings) -> None:
        self.settings = settings
        self._resolved = lru_cache(maxsize=4096)(self._resolve)
        self.rewrite = lru_cache(maxsize=4096)(self._rewrite)  # type: ignore[method-assign]

    @classmethod
    def for_host(cls, host: Any) -> TrivialRewrite:
        return cls(RewriteSettings.from_main(host.main, host.table))

    def resolve(self, address: str, sender: str = "") -> Resolution:
        """The answer for ``address``; cached per address, since no sender-dependent routing is modelled."""
        return self._resolved(address)

    def _resolve(self, address: str) -> Resolution:
        return resolve(address, self.settings)

    def _rewrite(self, address: str) -> str:
        return rewrite_address(address, self.settings)
