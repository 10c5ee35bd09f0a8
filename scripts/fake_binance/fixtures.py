"""Pytest fixtures for the fake server (tests/conftest.py registers them as a plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.fake_binance.server import EXCHANGE_INFO, FakeBinance

TEST_KEY = "qt-test-key-7f3a9c"
TEST_SECRET = "qt-test-secret-e1b5d2"

needs_shared_data = pytest.mark.skipif(
    not EXCHANGE_INFO.exists(),
    reason="needs ../shared/data (the Binance payload samples)",
)


@pytest.fixture
def fake_binance() -> Iterator[FakeBinance]:
    server = FakeBinance(api_key=TEST_KEY, api_secret=TEST_SECRET).start()
    try:
        yield server
    finally:
        server.stop()
