"""A fake Binance USD-M futures server for tests and scripts (REST + WebSocket on 127.0.0.1).

Start it from a test with the `fake_binance` fixture (`scripts.fake_binance.fixtures`)
or as a process: `python -m scripts.fake_binance --port 0` prints the port when ready.
Market data comes only from the test: `server.set_price(...)`, `server.push_candle(...)`.
Faults: `server.faults.<name>(...)` (see `faults.py`).
"""

from scripts.fake_binance.errors import ApiError
from scripts.fake_binance.faults import Faults
from scripts.fake_binance.server import SHARED_DATA, FakeBinance

__all__ = ["SHARED_DATA", "ApiError", "FakeBinance", "Faults"]
