"""Drives the real actor system on virtual time with hand-made candles and inbox signals."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

from actors.clock import DAY_MS, VirtualClock
from actors.messages import Candle
from actors.runtime import Runtime, ThreadRuntime
from actors.system import TradingSystem
from config import DEFAULT_EXIT_MODES, ExitMode, Settings
from persistence.db import make_engine
from persistence.migrate import upgrade

MINUTE = 60_000
T0 = 1_700_000_000_000 // DAY_MS * DAY_MS + 8 * 3_600_000  # 08:00 UTC on some day
# Stops of about 10 ATR (FAST_TP's exactly, the other modes' in proportion; ~1% of price on the calm market here),
# so calm noise never stops a position out before a test does: `Harness(tmp_path, exit_modes=WIDE_STOPS)`.
_WIDEN = 10 / DEFAULT_EXIT_MODES[ExitMode.FAST_TP].atr_multiplier_sl
WIDE_STOPS = {str(mode): {"atr_multiplier_sl": p.atr_multiplier_sl * _WIDEN} for mode, p in DEFAULT_EXIT_MODES.items()}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


class Harness:
    def __init__(
        self,
        tmp_path: Path,
        *,
        symbols: tuple[str, ...] = ("BTCUSDT",),
        fault_hook: Callable[[str, Any], None] | None = None,
        exchange: Callable[[], Any] | None = None,
        durable_steps: bool = True,
        runtime: Callable[[], Runtime] = ThreadRuntime,
        **overrides: Any,
    ) -> None:
        """`exchange`: makes the exchange port for each start (e.g. a Binance port on the fake server); paper if
        None. `durable_steps`: each step's records durable as it goes, as the service runs (False: as a replay).
        `runtime`: makes the actors' runtime for each start."""
        self.inbox = tmp_path / "inbox.jsonl"
        self.inbox.touch()
        data = {
            "symbols": symbols,
            "database": {"url": f"sqlite:///{tmp_path / 'trader.db'}"},
            "signals": {"builtin": False, "inbox": str(self.inbox)},
        }
        self.settings = Settings(**_merge(data, overrides))
        self.engine = make_engine(self.settings.database.url)
        upgrade(self.engine)
        self.clock = VirtualClock(T0)
        self.fault_hook = fault_hook
        self.exchange = exchange
        self.durable_steps = durable_steps
        self.runtime = runtime
        self.rng = np.random.default_rng(11)
        self.prices = {symbol: 20_000.0 * (index + 1) for index, symbol in enumerate(symbols)}
        self.open_time = T0
        self.signals = 0
        self.system = self._start()

    def _start(self) -> TradingSystem:
        exchange = self.exchange() if self.exchange is not None else None
        system = TradingSystem(
            self.settings,
            self.clock,
            self.engine,
            exchange=exchange,
            fault_hook=self.fault_hook,
            durable_steps=self.durable_steps,
            runtime=self.runtime(),
        )
        system.start()
        return system

    def restart(self) -> None:
        """A clean stop and a new system on the same database (the paper account is checkpointed)."""
        exchange = self.system.ctx.exchange
        self.system.stop("restart")
        self.system = self._start()
        assert self.system.ctx.exchange is not exchange

    def while_down(self, change: Callable[[Any], None]) -> None:
        """Stop the service, let `change` act on the paper exchange as it stands meanwhile, then start again."""
        from actors.system import PAPER_STATE
        from exchange.paper.exchange import PaperExchange
        from persistence import records

        self.system.stop("down for the test")
        with self.engine.begin() as connection:
            exchange = PaperExchange.from_state(records.load_exchange_state(connection, PAPER_STATE))
            change(exchange)
            records.save_exchange_state(connection, PAPER_STATE, exchange.to_state(), self.clock.now_ms())
        self.system = self._start()

    def candle(self, symbol: str, change: float) -> Candle:
        """The next candle of one symbol moved by `change`, without handing it to the service."""
        price = self.prices[symbol]
        close = round(price * (1 + change), 1)
        candle = Candle(
            symbol=symbol,
            open_time=self.open_time,
            open=price,
            high=max(price, close),
            low=min(price, close),
            close=close,
            volume=1.0,
        )
        self.prices[symbol] = close
        self.open_time += MINUTE
        self.clock.advance_to(self.open_time)
        return candle

    def stop(self) -> None:
        self.system.stop("test done")
        self.engine.dispose()

    # --- market -----------------------------------------------------------------------

    def step(self, *, wicks: Mapping[str, float] | None = None, **moves: float) -> None:
        """One candle per symbol; `SYMBOL=fraction` moves that symbol's close by the fraction (wide candle);
        `wicks={SYMBOL: fraction}` stretches that symbol's high and low this much further (a wide range, whatever the
        close does)."""
        candles = []
        for symbol, price in self.prices.items():
            move = moves.get(symbol)
            change = move if move is not None else float(self.rng.normal(0, 0.0004))
            close = price * (1 + change)
            wick = abs(float(self.rng.normal(0, 0.0003))) + (wicks or {}).get(symbol, 0.0)
            high, low = max(price, close) * (1 + wick), min(price, close) * (1 - wick)
            candles.append(
                Candle(
                    symbol=symbol,
                    open_time=self.open_time,
                    open=round(price, 1),
                    high=round(high, 1),
                    low=round(low, 1),
                    close=round(close, 1),
                    volume=100.0,
                )
            )
            self.prices[symbol] = round(close, 1)
        at = self.open_time + MINUTE
        self.clock.advance_to(at)
        self.system.step(at, tuple(candles))
        self.open_time = at

    def calm(self, steps: int) -> None:
        for _ in range(steps):
            self.step()

    def until(self, condition: Callable[[], bool], *, limit: int, **moves: float) -> int:
        """Step calmly until the condition holds; the number of steps it took (fails past the limit)."""
        for count in range(1, limit + 1):
            self.step(**moves)
            if condition():
                return count
        raise AssertionError(f"condition not met within {limit} steps")

    def signal(self, symbol: str, side: str, confidence: float = 0.8) -> str:
        self.signals += 1
        signal_id = f"test-{self.signals}"
        with self.inbox.open("a") as handle:
            handle.write(json.dumps({"id": signal_id, "symbol": symbol, "side": side, "confidence": confidence}) + "\n")
        return signal_id

    # --- database -----------------------------------------------------------------------

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]

    def gate(self) -> tuple[str, str, int | None]:
        return self.rows("SELECT state, reason, locked_until FROM gate")[0]  # type: ignore[return-value]

    def gate_triggers(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT trigger FROM transitions WHERE machine = 'gate' ORDER BY id")]

    def decisions(self) -> list[tuple[str, str, str]]:
        return self.rows("SELECT signal_id, reason, detail FROM signal_decisions ORDER BY id")  # type: ignore[return-value]

    def positions(self) -> list[tuple[str, str, str | None]]:
        return self.rows("SELECT symbol, state, close_reason FROM positions ORDER BY created_at, id")  # type: ignore[return-value]
