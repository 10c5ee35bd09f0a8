"""An exchange as unkind as Binance: faults injected at random between the steps of trading, along with the kills.

Before each step a seeded draw may inject one fault (`Faults.step`); a stream fault lasts a few steps and is
undone after them, or at the end of the round (a ban is never undone: it may outlive the kill and the restart,
which must then send nothing until it ends). What each fault is, as the fake server does it:

* ``trades``        the next market orders fill in several trades at different prices;
* ``late_entry``    an order request times out without reaching the engine; lookups do not find it for a while,
                    then it appears and executes (``late_stop``: the same for a protective order);
* ``timeout``       an order or protective order's answer is held past the client's timeout, executed or not;
* ``rate_limit``    a protective order is refused with a 429;
* ``filters``       a symbol's tick size changes (ten times coarser, or back): orders off it are refused;
* ``user_frame`` /  ``market_frame``  a frame that cannot be read (not JSON, missing fields, an unknown event);
* ``stream_gap``    the user-data stream drops and cannot reconnect for a few steps (fills happen in the gap);
* ``user_mute``     the user-data stream stays connected but silent for a few steps;
* ``liquidation`` / ``adl`` / ``close_by_hand``  a position of ours is closed (in part, for the last two) behind the
                    service's back;
* ``ban``           the next request gets a 418 banning the IP for a few seconds;
* ``bnb_fees``      fees are paid in BNB from now on, or in USDT again.
"""

from __future__ import annotations

import random
from decimal import ROUND_DOWN, Decimal
from typing import Any

from scripts.crash.market import Market
from scripts.crash.scenario import PREFIX, SYMBOLS
from scripts.crash.tally import Tally
from scripts.fake_binance.server import FakeBinance

ORDER, ALGO = "/fapi/v1/order", "/fapi/v1/algoOrder"
RATE = 0.12  # chance of a fault before a step
WEIGHTS = {
    "trades": 14,
    "late_entry": 6,
    "late_stop": 6,
    "timeout": 6,
    "rate_limit": 6,
    "filters": 5,
    "user_frame": 8,
    "market_frame": 8,
    "stream_gap": 5,
    "user_mute": 4,
    "liquidation": 4,
    "adl": 4,
    "close_by_hand": 5,
    "ban": 4,
    "bnb_fees": 3,
}
USER_FRAMES: tuple[str | dict[str, Any], ...] = (
    "this is not JSON {",
    {"e": "ORDER_TRADE_UPDATE", "E": 1, "T": 1, "o": {"s": "BTCUSDT"}},  # an order update without its fields
    {"e": "ACCOUNT_UPDATE", "E": 1, "T": 1, "a": "not an object"},
    {"e": "STRATEGY_UPDATE", "E": 1, "T": 1, "su": {"si": 1}},  # an event the service does not know
    {"e": "ORDER_TRADE_UPDATE", "E": 1, "T": 1, "o": {"s": "BTCUSDT", "c": PREFIX + "x", "X": "FILLED", "l": "abc"}},
    "[]",  # JSON, but not an event
)
MARKET_FRAMES: tuple[str | dict[str, Any], ...] = (
    "\x00\x01 binary garbage",
    {"e": "kline", "E": 1, "s": "BTCUSDT", "k": {"t": "soon", "x": True}},
    {"e": "markPriceUpdate", "E": 1, "s": "ETHUSDT", "p": None},
    {"e": "forceOrder", "E": 1, "o": {"s": "BTCUSDT"}},
    {"stream": "btcusdt@kline_1m", "data": {"e": "kline"}},
    {"result": None, "id": 7},
)


class Faults:
    """Draws and injects the faults; counts each kind into the tally (`faults`)."""

    def __init__(self, fake: FakeBinance, rng: random.Random, tally: Tally, market: Market, hold_s: float) -> None:
        self.fake, self.rng, self.tally, self.market = fake, rng, tally, market
        self.hold_s = hold_s  # past the service's request timeout: an answer it gives up on
        self.original_ticks = dict(market.ticks)
        self._undo: list[tuple[int, str]] = []  # (steps left, what) of the stream faults in force
        self._bnb = False

    def step(self) -> str | None:
        """Before a step of trading: undo what has run its course, then perhaps inject a fault; its label."""
        self._tick()
        if self.rng.random() >= RATE:
            return None
        kind = self.rng.choices(tuple(WEIGHTS), weights=tuple(WEIGHTS.values()))[0]
        label = getattr(self, f"_{kind}")()
        if label is None:  # nothing to do it to (no position held, a stream fault already in force)
            return None
        self.tally.faults[kind] += 1
        return f"{kind}: {label}"

    def end_round(self) -> None:
        """Before the restart: the stream faults end (a ban goes on until its time)."""
        for _, what in self._undo:
            self._end(what)
        self._undo.clear()

    # --- the faults --------------------------------------------------------------------------------------------------

    def _trades(self) -> str:
        parts = self.rng.choice((("0.3", "0.7"), ("0.5", "0.25", "0.25"), ("0.1", "0.2", "0.3", "0.4")))
        orders = self.rng.randint(1, 3)
        self.fake.faults.fill_in_trades(parts, orders=orders)
        return f"the next {orders} market orders fill in {len(parts)} trades"

    def _late_entry(self) -> str:
        lookups = self.rng.randint(1, 3)
        self.fake.faults.late_order(path=ORDER, lookups=lookups, hold_s=self.hold_s)
        return f"the next order appears after {lookups} lookups"

    def _late_stop(self) -> str:
        lookups = self.rng.randint(1, 2)
        self.fake.faults.late_order(path=ALGO, lookups=lookups, hold_s=self.hold_s)
        return f"the next protective order appears after {lookups} lookups"

    def _timeout(self) -> str:
        path, execute = self.rng.choice((ORDER, ALGO)), self.rng.random() < 0.5
        self.fake.faults.timeout_next(path=path, execute=execute, hold_s=self.hold_s)
        return f"the next {path} times out ({'executed' if execute else 'not executed'})"

    def _rate_limit(self) -> str:
        count = self.rng.randint(1, 2)
        self.fake.faults.rate_limit_next(1, path=ALGO, count=count)
        return f"the next {count} protective orders get a 429"

    def _filters(self) -> str:
        symbol = self.rng.choice(SYMBOLS)
        original, now = self.original_ticks[symbol], self.market.ticks[symbol]
        tick = original * 10 if now == original else original
        self.fake.faults.change_filters(symbol, tick_size=tick)
        self.market.ticks[symbol] = tick
        return f"{symbol} tick size {now} -> {tick}"

    def _user_frame(self) -> str:
        frame = self.rng.choice(USER_FRAMES)
        self.fake.faults.send_user_frame(frame)
        return repr(frame)[:60]

    def _market_frame(self) -> str:
        frame = self.rng.choice(MARKET_FRAMES)
        self.fake.faults.send_market_frame(frame)
        return repr(frame)[:60]

    def _stream_gap(self) -> str | None:
        if self._undo:
            return None
        steps = self.rng.randint(2, 8)
        self.fake.faults.block_user_streams()
        self._undo.append((steps, "unblock"))
        return f"user-data stream down for {steps} steps"

    def _user_mute(self) -> str | None:
        if self._undo:
            return None
        steps = self.rng.randint(2, 6)
        self.fake.faults.mute_streams(user=True)
        self._undo.append((steps, "unmute"))
        return f"user-data stream silent for {steps} steps"

    def _liquidation(self) -> str | None:
        held = self._held()
        if held is None:
            return None
        symbol, _ = held
        self.fake.faults.liquidate(symbol)
        return f"{symbol} liquidated"

    def _adl(self) -> str | None:
        held = self._held()
        if held is None:
            return None
        symbol, quantity = held
        self.fake.faults.auto_deleverage(symbol, quantity=quantity)
        return f"{symbol} auto-deleveraged ({quantity or 'all'})"

    def _close_by_hand(self) -> str | None:
        held = self._held()
        if held is None:
            return None
        symbol, quantity = held
        self.fake.faults.close_by_hand(symbol, quantity=quantity)
        return f"{symbol} closed by hand ({quantity or 'all'})"

    def _ban(self) -> str:
        seconds = self.rng.randint(2, 6)
        self.fake.faults.ban_next(seconds)
        return f"the next request bans the IP for {seconds} s"

    def _bnb_fees(self) -> str:
        self._bnb = not self._bnb
        if self._bnb:
            self.fake.faults.pay_fees_in("BNB", "600")
            return "fees in BNB from now on"
        self.fake.faults.pay_fees_in("USDT", "1")
        return "fees in USDT again"

    # --- helpers -----------------------------------------------------------------------------------------------------

    def _held(self) -> tuple[str, Decimal | None] | None:
        """A position held on the exchange, and a part of it to close (None: all of it)."""
        engine = self.fake.engine
        with engine.lock:
            held = sorted((s, q) for s, (q, _) in engine.positions.items() if q != 0)
            steps = {s: engine.filters[s]["step"] for s, _ in held}
        if not held:
            return None
        symbol, quantity = self.rng.choice(held)
        if self.rng.random() < 0.5:
            return symbol, None
        part = (abs(quantity) / 2 / steps[symbol]).quantize(Decimal(1), ROUND_DOWN) * steps[symbol]
        return symbol, part if part > 0 else None

    def _tick(self) -> None:
        still = []
        for left, what in self._undo:
            if left <= 1:
                self._end(what)
            else:
                still.append((left - 1, what))
        self._undo = still

    def _end(self, what: str) -> None:
        if what == "unblock":
            self.fake.faults.unblock_user_streams()
        else:
            self.fake.faults.unmute_streams()
