"""Shared helpers for the mail vocabulary tests: the Postfix 3.7 fixtures and sample messages."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "mail"
POSTFIX = DATA / "postfix-3.7"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def postfix_dir() -> Path:
    """Artifacts captured from a real Postfix 3.7.11 on this machine (see the README in the folder)."""
    return POSTFIX
