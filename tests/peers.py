"""Finding real peer programs (Debian packages) for interop tests: skip locally when absent, fail in CI."""

from __future__ import annotations

import os
import shutil

import pytest


def require(program: str) -> str:
    """Path of ``program``; skips the test when absent unless MAILSIM_REQUIRE_PEERS=1 (CI), where it fails."""
    for folder in ("", "/usr/sbin/", "/usr/bin/", "/usr/lib/postfix/sbin/"):
        path = shutil.which(program) if not folder else (folder + program if os.path.exists(folder + program) else None)
        if path:
            return path
    if os.environ.get("MAILSIM_REQUIRE_PEERS") == "1":
        pytest.fail(f"peer program {program!r} is required in CI but not installed")
    pytest.skip(f"peer program {program!r} not installed")
