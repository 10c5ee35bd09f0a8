"""Closed-trade records: per-symbol performance over the last week (at most 50 trades) and the losing streak."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.execution.book import PERFORMANCE_MAX_TRADES, PERFORMANCE_WINDOW_MS, TradeRecords

DAY = 86_400_000


def test_trade_records_count_wins_r_and_pnl_per_symbol() -> None:
    records = TradeRecords()
    records.add("BTCUSDT", Decimal("10"), 1.5, at=1_000)
    records.add("BTCUSDT", Decimal("-4"), -1.0, at=2_000)
    records.add("ETHUSDT", Decimal("3"), 0.5, at=3_000)
    btc, eth = records.records(now=4_000)
    assert (btc.symbol, btc.closed_trades, btc.wins, btc.sum_r, btc.pnl) == ("BTCUSDT", 2, 1, 0.5, Decimal("6"))
    assert (eth.symbol, eth.closed_trades, eth.wins, eth.pnl) == ("ETHUSDT", 1, 1, Decimal("3"))


def test_trade_records_losing_streak_counts_losses_and_breakevens_until_a_win() -> None:
    records = TradeRecords()
    for pnl in ("-1", "0", "-2"):
        records.add("BTCUSDT", Decimal(pnl), -1.0, at=1)
    assert records.losing_streak == 3
    records.add("BTCUSDT", Decimal("0.01"), 0.1, at=2)
    assert records.losing_streak == 0


def test_trade_records_forget_trades_older_than_the_window() -> None:
    records = TradeRecords()
    records.add("BTCUSDT", Decimal("1"), 1.0, at=0)
    records.add("BTCUSDT", Decimal("2"), 1.0, at=3 * DAY)
    (only,) = records.records(now=PERFORMANCE_WINDOW_MS + DAY)
    assert only.closed_trades == 1 and only.pnl == Decimal("2")
    assert records.records(now=3 * DAY + PERFORMANCE_WINDOW_MS + 1) == ()


def test_trade_records_cache_is_dropped_when_a_trade_closes() -> None:
    records = TradeRecords()
    records.add("BTCUSDT", Decimal("1"), 1.0, at=0)
    assert records.records(now=10)[0].closed_trades == 1
    records.add("BTCUSDT", Decimal("1"), 1.0, at=5)
    assert records.records(now=10)[0].closed_trades == 2


def test_trade_records_keep_at_most_the_last_trades_per_symbol() -> None:
    records = TradeRecords()
    for i in range(PERFORMANCE_MAX_TRADES + 10):
        records.add("BTCUSDT", Decimal("-1") if i < 10 else Decimal("1"), 1.0, at=i)
    (btc,) = records.records(now=1_000)
    assert btc.closed_trades == PERFORMANCE_MAX_TRADES and btc.wins == PERFORMANCE_MAX_TRADES


def naive_records(trades: list[tuple[str, Decimal, float, int]], now: int) -> tuple[tuple[object, ...], ...]:
    """Every symbol's record counted afresh from every trade: the last `PERFORMANCE_MAX_TRADES` of each symbol,
    those within the window."""
    out = []
    for symbol in sorted({t[0] for t in trades}):
        last = [t for t in trades if t[0] == symbol][-PERFORMANCE_MAX_TRADES:]
        kept = [t for t in last if t[3] >= now - PERFORMANCE_WINDOW_MS]
        if kept:
            wins = sum(1 for t in kept if t[1] > 0)
            out.append((symbol, len(kept), wins, sum(t[2] for t in kept), sum((t[1] for t in kept), Decimal(0))))
    return tuple(out)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT"]),
            st.integers(-5, 5),
            st.integers(0, 3 * DAY),  # time to the next event
            st.booleans(),  # a trade closes (else the step only asks)
        ),
        max_size=120,
    )
)
def test_trade_records_match_a_count_from_scratch_at_every_step(events: list[tuple[str, int, int, bool]]) -> None:
    """Only the symbol a trade closed for, or whose oldest trade left the window, is counted again: the records
    stay those a count from scratch gives, whatever the order of closes and asks."""
    records, trades, now = TradeRecords(), [], 0
    for symbol, pnl, gap, closes in events:
        now += gap
        if closes:
            records.add(symbol, Decimal(pnl), float(pnl) / 2, at=now)
            trades.append((symbol, Decimal(pnl), float(pnl) / 2, now))
        got = tuple((r.symbol, r.closed_trades, r.wins, r.sum_r, r.pnl) for r in records.records(now))
        assert got == naive_records(trades, now)
