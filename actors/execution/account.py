"""The account as the execution engine sees it: balance, the day's starting equity, closed-trade records, what
trading each symbol costs, and equity snapshots; what it publishes as the step's `Portfolio` (with the symbols'
filters, `filters.py`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal

from actors.clock import utc_day
from actors.execution.book import Book, TradeRecords
from actors.execution.filters import Filters
from actors.execution.journal import Journal
from actors.execution.slippage import SlippageRecords
from actors.messages import Portfolio, SymbolCosts
from exchange.port import Balance, ExchangePort, OutcomeUnknown, RateLimited
from persistence import records

log = logging.getLogger("quantum_trader.execution")
HOUR_MS = 3_600_000


class Account:
    def __init__(
        self,
        exchange: ExchangePort,
        journal: Journal,
        book: Book,
        trades: TradeRecords,
        filters: Filters,
        *,
        day: int,
        day_start_equity: Decimal | None,
        slippage: SlippageRecords,
        last_equity: Decimal | None = None,
        book_spreads: Callable[[], Mapping[str, float]] = dict,
    ) -> None:
        """`book_spreads`: the market feed's best bid/ask spread of each symbol (bps), for an exchange that does not
        simulate its own (`configured_spread_bps`)."""
        self.exchange, self.journal, self.book, self.trades, self.filters = exchange, journal, book, trades, filters
        self.slippage = slippage
        self.book_spreads = book_spreads
        # Until the exchange answers (it may be unreachable, or ban us, at start), the last equity recorded here.
        self.last_balance = Balance(asset="USDT", wallet_balance=last_equity or Decimal(0), unrealized_pnl=Decimal(0))
        self.balance()
        self.day = day
        self.day_start_equity = day_start_equity if day_start_equity is not None else self.last_balance.equity
        self.last_snapshot_hour = -1
        self._figures: list[tuple[str, float | None, float | None, int]] = []  # what `costs` last said, as figures
        self._costs: tuple[SymbolCosts, ...] = ()
        # The configured symbols with the spread their exchange simulates (fixed for its life), or None: the book's.
        self._configured_spreads = tuple((s, exchange.configured_spread_bps(s)) for s in filters.symbols)
        self._symbols = tuple(symbol for symbol, _ in self._configured_spreads)
        self._reads_book = any(spread is None for _, spread in self._configured_spreads)
        self._slippage_seen: object = None  # the slippage figures `costs` last worked from
        self._portfolio_fields: tuple[object, ...] = ()  # what the last portfolio was made of
        self._portfolio = Portfolio(equity=Decimal(0), day_start_equity=Decimal(0))

    def balance(self) -> Balance:
        """The account's balance, or the last one read while the exchange refuses requests (the portfolio says so)."""
        if not self.exchange.blocked():
            try:
                self.last_balance = self.exchange.balance()
            except (RateLimited, OutcomeUnknown) as error:
                log.warning("balance not read (%s); the last one stands", error)
        return self.last_balance

    def portfolio(self, at: int, *, execution_hold: str = "") -> Portfolio:
        """The step's portfolio; the last step's own object when nothing in it changed (most steps of a flat
        account): its fields compare in a fraction of what building a frozen dataclass of them costs."""
        equity = self.balance().equity
        day = utc_day(at)
        if day != self.day:
            self.day, self.day_start_equity = day, equity
        fields = (
            equity,
            self.day_start_equity,
            tuple(p.view() for p in self.book) if self.book.live else (),
            self.trades.losing_streak,
            self.trades.records(at),
            self.filters.view,
            self.exchange.blocked(),
            execution_hold,
            self.costs(at),
        )
        if fields != self._portfolio_fields:
            self._portfolio_fields = fields
            equity, start, positions, streak, trade_records, filters, blocked, hold, costs = fields
            self._portfolio = Portfolio(
                equity=equity,
                day_start_equity=start,
                positions=positions,
                losing_streak=streak,
                records=trade_records,
                filters=filters,
                exchange_blocked=blocked,
                execution_hold=hold,
                costs=costs,
            )
        return self._portfolio

    def costs(self, at: int) -> tuple[SymbolCosts, ...]:
        """Each configured symbol's spread (the exchange's own when it simulates one, else the feed's book) and
        realised slippage over its recent fills."""
        measured = self.slippage.measure_all(self._symbols, at)
        if measured is self._slippage_seen and not self._reads_book:
            return self._costs  # most steps: no fill measured since, and spreads fixed by the exchange
        self._slippage_seen = measured
        book = self.book_spreads() if self._reads_book else {}
        figures = [
            (symbol, spread if spread is not None else book.get(symbol), slippage, fills)
            for (symbol, spread), (slippage, fills) in zip(self._configured_spreads, measured, strict=True)
        ]
        if figures != self._figures:  # most steps repeat the last ones: the same tuple is handed on (cheap to compare)
            self._figures = figures
            self._costs = tuple(
                SymbolCosts(symbol=symbol, spread_bps=spread, slippage_bps=slippage, slippage_fills=fills)
                for symbol, spread, slippage, fills in figures
            )
        return self._costs

    def snapshot_equity(self, at: int, portfolio: Portfolio) -> None:
        """At most one equity snapshot an hour (deferred to the next commit)."""
        hour = at // HOUR_MS
        if hour == self.last_snapshot_hour:
            return
        self.last_snapshot_hour = hour
        balance = self.balance()
        self.journal.record(
            lambda c: records.insert_equity_snapshot(
                c,
                at=at,
                equity=balance.equity,
                wallet=balance.wallet_balance,
                unrealized_pnl=balance.unrealized_pnl,
                day_start_equity=portfolio.day_start_equity,
                daily_drawdown_pct=portfolio.daily_drawdown_pct,
            )
        )

    def trade_closed(self, symbol: str, net_pnl: Decimal, r_multiple: float, at: int) -> None:
        """A closed trade counts in the records and takes an equity snapshot now."""
        self.trades.add(symbol, net_pnl, r_multiple, at)
        self.last_snapshot_hour = -1
        self.snapshot_equity(at, self.portfolio(at))
