"""Fixtures for sender-authentication tests: one KeyRing per session, a fresh seed world per test."""

from __future__ import annotations

import pytest

from mailsim.policy.auth.keys import KeyRing
from tests.policy.auth.seedworld import World, build_world


@pytest.fixture(scope="session")
def ring() -> KeyRing:
    return KeyRing()


@pytest.fixture
def world(ring: KeyRing) -> World:
    return build_world(ring)
