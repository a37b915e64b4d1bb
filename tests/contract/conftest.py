"""Fixtures shared by the port contract suites."""

from __future__ import annotations

import pytest

from tests.redis_support import real_redis_url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis that answered PING (see ``tests/redis_support.py`` for skip and fail rules)."""
    return real_redis_url()
