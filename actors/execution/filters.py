"""The symbols' trading rules (tick, step, minimum notional) as execution holds them for the step's portfolio
(sizing rounds to them), and the one owner of reading them again from the exchange: Binance changes a symbol's
rules now and then and then refuses orders made to the old ones. They are read again every `refresh_every_ms`
and at the step after an order was refused for them (the port only answers from what it read last)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from exchange.market import SymbolFilters
from exchange.port import FILTER_REJECTIONS, ExchangeError, ExchangePort, OrderRejected, UnknownSymbol

log = logging.getLogger("quantum_trader.execution")


class Filters:
    def __init__(self, exchange: ExchangePort, symbols: Iterable[str], *, refresh_every_ms: int, now: int) -> None:
        self.exchange, self.symbols, self.refresh_every_ms = exchange, tuple(symbols), refresh_every_ms
        self.by_symbol: dict[str, SymbolFilters] = {}
        self.view: tuple[tuple[str, SymbolFilters], ...] = ()  # the portfolio's, sorted by symbol
        self.stale = False  # an order was refused for the rules: read them again at the next step
        self.last_refresh = now  # the port read them at its start
        self.read()

    def refused(self, error: OrderRejected) -> None:
        """Every refusal of an order goes through here: one for the symbol's rules makes them stale."""
        if error.code in FILTER_REJECTIONS:
            self.stale = True

    def keep_fresh(self, now: int, symbols: Sequence[str] = ()) -> None:
        """At every step: the rules read again from the exchange when they are stale or due, and taken for a symbol
        that has none yet (`symbols`: the step's; a paper symbol has rules only once it has a price)."""
        wanted = symbols
        due = self.stale or now - self.last_refresh >= self.refresh_every_ms
        if due and not self.exchange.blocked():
            try:
                self.exchange.refresh_filters()
            except ExchangeError as error:
                log.warning("symbol filters not read again (%s); tried again at the next step", error)
            else:
                if self.stale:
                    log.info("symbol filters read again after an order was refused for them")
                self.stale, self.last_refresh = False, now
                self.read(wanted)
                return
        for symbol in wanted:
            if symbol not in self.by_symbol:
                self.read(wanted)
                return

    def read(self, symbols: Iterable[str] = ()) -> None:
        """The rules of every configured symbol (and of `symbols`) as the port has them now."""
        found = {}
        for symbol in sorted(set(self.symbols) | set(symbols)):
            try:
                found[symbol] = self.exchange.symbol_filters(symbol)
            except UnknownSymbol:  # a symbol without filters until its first price
                continue
            except ExchangeError as error:
                log.warning("symbol filters not read (%s); the last ones stand", error)
                return
        self.by_symbol, self.view = found, tuple(sorted(found.items()))
