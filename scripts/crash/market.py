"""The fake Binance USD-M server (in this process) and the seeded price path pushed into it as closed 1m candles."""

from __future__ import annotations

import copy
import json
import math
import random
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from scripts.crash.scenario import (
    KEY,
    MAX_STEPS_PER_ROUND,
    MINUTE,
    SECRET,
    START_PRICES,
    SYMBOLS,
)
from scripts.fake_binance.server import EXCHANGE_INFO, FakeBinance

CLONES = ("BNBUSDT", "SOLUSDT", "LTCUSDT", "AVAXUSDT", "LINKUSDT", "DOTUSDT")
HISTORY_CANDLES = 305
# One volatility for the history and the trading: the service ranks each ATR% against the symbol's earlier ones, and
# a history calmer than the trading (it was a quarter of it) made every round EXTREME volatility, the gate paused.
SIGMA = 0.006


def exchange_info_with_more_symbols(path: Path) -> Path:
    """The real exchangeInfo sample, plus perpetuals cloned from ETHUSDT (the sample has two)."""
    info = json.loads(EXCHANGE_INFO.read_text())
    eth = next(s for s in info["symbols"] if s["symbol"] == "ETHUSDT")
    for symbol in CLONES:
        clone = copy.deepcopy(eth)
        clone.update(symbol=symbol, pair=symbol, baseAsset=symbol.removesuffix("USDT"))
        for f in clone["filters"]:
            if f["filterType"] == "PRICE_FILTER":
                f["minPrice"] = "0.01"
        info["symbols"].append(clone)
    path.write_text(json.dumps(info))
    return path


def start_fake_exchange(workdir: Path) -> FakeBinance:
    info = exchange_info_with_more_symbols(workdir / "exchange_info.json")
    fake = FakeBinance(api_key=KEY, api_secret=SECRET, exchange_info_path=info).start()
    for symbol, price in START_PRICES.items():
        fake.set_price(symbol, price)
    return fake


class Market:
    """Seeded random walks, one closed 1m candle per symbol per step, open times in the past."""

    def __init__(self, fake: FakeBinance, rng: random.Random, first_open: int) -> None:
        self.fake, self.rng = fake, rng
        self.next_open = first_open
        self.prices = dict(START_PRICES)
        self.drift = dict.fromkeys(SYMBOLS, 0.0)
        self.ticks = {s: fake.engine.filters[s]["tick"] for s in SYMBOLS}
        self.closes: dict[str, Decimal] = {}
        self.candles = 0

    @classmethod
    def with_history(cls, fake: FakeBinance, seed: int, kills: int) -> Market:
        """A market whose history is already pushed (the service's warm-up reads it)."""
        # Candle open times: far enough in the past for every step of the run to be closed already.
        budget = 300 + 5 + kills * (MAX_STEPS_PER_ROUND + 8) + 50
        first = (int(time.time() * 1000) // MINUTE - budget) * MINUTE
        market = cls(fake, random.Random(seed * 7919 + 1), first)
        for _ in range(HISTORY_CANDLES):
            market.step()
        return market

    def _round(self, symbol: str, value: float) -> Decimal:
        tick = self.ticks[symbol]
        return (Decimal(str(value)) / tick).quantize(Decimal(1), ROUND_HALF_UP) * tick

    def step(self) -> dict[str, Decimal]:
        """Push one candle per symbol; returns the closes."""
        closes = {}
        for symbol in SYMBOLS:
            if self.rng.random() < 0.05:
                self.drift[symbol] = self.rng.gauss(0, 0.0015)
            o = self.prices[symbol]
            pull = -0.02 * math.log(float(o) / float(START_PRICES[symbol]))  # back towards the start price
            c = self._round(symbol, float(o) * (1 + self.drift[symbol] + pull + self.rng.gauss(0, SIGMA)))
            if c == self.closes.get(symbol) or c <= 0:
                c = self.closes.get(symbol, o) + self.ticks[symbol]  # a close that differs: the step is recognisable
            h = self._round(symbol, float(max(o, c)) * (1 + abs(self.rng.gauss(0, SIGMA / 3))))
            low = self._round(symbol, float(min(o, c)) * (1 - abs(self.rng.gauss(0, SIGMA / 3))))
            self.fake.push_candle(
                symbol, open_time=self.next_open, open=o, high=max(h, o, c), low=min(low, o, c), close=c, volume="7"
            )
            self.prices[symbol] = closes[symbol] = c
        self.closes = closes
        self.next_open += MINUTE
        self.candles += 1
        return closes
