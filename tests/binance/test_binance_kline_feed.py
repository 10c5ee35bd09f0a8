"""The Binance kline feed against the fake server on 127.0.0.1: REST warm-up, live closed klines, gaps."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from exchange.binance.market_stream import BinanceKlineFeed, FeedError
from exchange.market import Candle
from scripts.fake_binance.fixtures import needs_shared_data
from scripts.fake_binance.server import FakeBinance

pytestmark = needs_shared_data
MINUTE = 60_000
SYMBOLS = ("BTCUSDT", "ETHUSDT")
BASE = {"BTCUSDT": Decimal(40000), "ETHUSDT": Decimal(2500)}
T0 = 1_700_000_040_000 - 1_700_000_040_000 % MINUTE  # long closed: the fake's klines are all in the past


def push(server: FakeBinance, symbol: str, index: int) -> None:
    price = BASE[symbol] + index
    server.push_candle(
        symbol, open_time=T0 + index * MINUTE, open=price, high=price + 5, low=price - 5, close=price + 1, volume="3"
    )


class Reader:
    """Pulls the feed's batches on a thread; the test waits on the queue of non-empty ones."""

    def __init__(self, feed: BinanceKlineFeed) -> None:
        self.feed = feed
        self.batches: list[tuple[Candle, ...]] = []
        self.changed = threading.Condition()
        self.idle = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        gen = self.feed.batches()
        try:
            for batch in gen:
                with self.changed:
                    if batch:
                        self.batches.append(batch)
                    else:
                        self.idle += 1
                    self.changed.notify_all()
                if self._stop.is_set():
                    return
        except BaseException as e:
            with self.changed:
                self.error = e
                self.changed.notify_all()
        finally:
            gen.close()

    def wait(self, predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
        with self.changed:
            assert self.changed.wait_for(lambda: self.error is not None or predicate(self), timeout), self.batches
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def reader(fake_binance: FakeBinance) -> Iterator[Reader]:
    for index in range(5):
        for symbol in SYMBOLS:
            push(fake_binance, symbol, index)
    feed = BinanceKlineFeed(
        SYMBOLS,
        base_url=fake_binance.base_url,
        ws_url=fake_binance.ws_url,
        warmup=3,
        idle_s=0.05,
        grace_s=30,
        reconnect_delay_s=0.2,
    )
    r = Reader(feed)
    yield r
    r.stop()


def opens(batches: list[tuple[Candle, ...]]) -> list[tuple[int, tuple[str, ...]]]:
    return [((b[0].open_time - T0) // MINUTE, tuple(c.symbol for c in b)) for b in batches]


def test_binance_feed_warmup_then_live_one_batch_per_closed_step(reader: Reader, fake_binance: FakeBinance) -> None:
    reader.wait(lambda r: len(r.batches) == 3 and r.idle > 0)  # the warm-up: the newest 3 steps
    assert opens(reader.batches) == [(2, SYMBOLS), (3, SYMBOLS), (4, SYMBOLS)]
    warm = reader.batches[-1][0]
    assert (warm.open, warm.close, warm.high, warm.low, warm.interval_ms) == (
        40004.0,
        40005.0,
        40009.0,
        39999.0,
        MINUTE,
    )

    push(fake_binance, "BTCUSDT", 5)
    push(fake_binance, "ETHUSDT", 5)
    reader.wait(lambda r: len(r.batches) == 4)
    assert opens(reader.batches)[3] == (5, SYMBOLS)  # both symbols in one step
    assert reader.batches[3][1].close == 2506.0

    # One symbol's kline of the next step: delivered once a later step begins (here) or after the grace.
    push(fake_binance, "ETHUSDT", 6)
    push(fake_binance, "BTCUSDT", 7)
    push(fake_binance, "ETHUSDT", 7)
    reader.wait(lambda r: len(r.batches) == 6)
    assert opens(reader.batches)[4:] == [(6, ("ETHUSDT",)), (7, SYMBOLS)]


def test_binance_feed_after_a_dropped_stream_backfills_through_rest_without_duplicates(
    reader: Reader, fake_binance: FakeBinance
) -> None:
    reader.wait(lambda r: len(r.batches) == 3 and r.idle > 0)
    stream = reader.feed.stream
    stream.drop()
    # Whether this candle arrives on the old socket, through the REST backfill or on the new socket,
    # it is delivered exactly once.
    push(fake_binance, "BTCUSDT", 5)
    push(fake_binance, "ETHUSDT", 5)
    reader.wait(lambda r: len(r.batches) == 4 and r.feed.stream.connections >= 2)
    push(fake_binance, "BTCUSDT", 6)
    push(fake_binance, "ETHUSDT", 6)
    reader.wait(lambda r: len(r.batches) == 5)
    assert opens(reader.batches) == [(i, SYMBOLS) for i in range(2, 7)]
    klines = [r for r in fake_binance.requests if r == ("GET", "/fapi/v1/klines")]
    assert len(klines) == 2 * len(SYMBOLS)  # the warm-up, then the backfill after the gap


def test_binance_feed_unknown_interval_refused() -> None:
    with pytest.raises(FeedError, match="not a Binance kline interval"):
        BinanceKlineFeed(SYMBOLS, base_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9", interval="7m")


def test_binance_feed_unreachable_server_raises_feed_error() -> None:
    feed = BinanceKlineFeed(
        SYMBOLS, base_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9", open_timeout_s=0.5, reconnect_delay_s=0.05
    )
    with pytest.raises(FeedError, match="did not connect"):
        next(feed.batches())
    assert not feed.stream.is_alive()


def test_binance_feed_marks_follow_the_mark_price_stream_and_never_make_a_step(
    reader: Reader, fake_binance: FakeBinance
) -> None:
    reader.wait(lambda r: len(r.batches) == 3 and r.idle > 0)
    feed = reader.feed
    fake_binance.set_price("BTCUSDT", "40100.5")
    fake_binance.set_price("ETHUSDT", "2510.25")
    want = {"BTCUSDT": Decimal("40100.5"), "ETHUSDT": Decimal("2510.25")}
    assert feed.wait_marks(lambda marks: marks == want, timeout=10), feed.marks()
    assert feed.stream.connections == 1  # the klines' connection carries the marks
    idle = reader.idle
    reader.wait(lambda r: r.idle >= idle + 2)  # the live loop went round after the marks: still no step
    assert len(reader.batches) == 3

    marks = feed.marks()
    marks["BTCUSDT"] = Decimal(1)  # a copy: the feed's own stays
    assert feed.marks() == want

    # A closed kline makes a step; its mark (the fake marks at the close) only moves the mark.
    push(fake_binance, "BTCUSDT", 5)
    push(fake_binance, "ETHUSDT", 5)
    reader.wait(lambda r: len(r.batches) == 4)
    assert feed.wait_marks(lambda m: m == {"BTCUSDT": Decimal(40006), "ETHUSDT": Decimal(2506)}, timeout=10)
    idle = reader.idle
    reader.wait(lambda r: r.idle >= idle + 2)
    assert opens(reader.batches) == [(2, SYMBOLS), (3, SYMBOLS), (4, SYMBOLS), (5, SYMBOLS)]


def test_binance_feed_book_tickers_give_each_symbols_spread_and_never_make_a_step(
    reader: Reader, fake_binance: FakeBinance
) -> None:
    reader.wait(lambda r: len(r.batches) == 3 and r.idle > 0)
    feed = reader.feed
    assert feed.spreads() == {}  # nothing heard yet: no spread is known, none is made up
    fake_binance.set_book("BTCUSDT", "40000.0", "40000.1")
    fake_binance.set_book("ETHUSDT", "2500.00", "2500.50")
    fake_binance.set_book("ETHUSDT", "2500.00", "2500.25")  # the newest ticker stands
    want = {"BTCUSDT": (Decimal("40000.0"), Decimal("40000.1")), "ETHUSDT": (Decimal("2500.00"), Decimal("2500.25"))}
    assert feed.wait_books(lambda books: books == want, timeout=10), feed.books()
    spreads = feed.spreads()
    assert spreads["BTCUSDT"] == pytest.approx(0.025, abs=1e-6)  # one 0.1 tick on 40000
    assert spreads["ETHUSDT"] == pytest.approx(0.99995, abs=1e-5)
    assert feed.stream.connections == 1  # the klines' connection carries the book tickers

    # A one-sided or crossed ticker says nothing of the spread: counted, skipped, the last good one stands.
    fake_binance.faults.send_market_frame({"e": "bookTicker", "u": 9, "E": 1, "s": "BTCUSDT", "b": "0", "a": "1"})
    fake_binance.set_book("BTCUSDT", "40000.0", "40000.5")
    assert feed.wait_books(lambda books: books["BTCUSDT"][1] == Decimal("40000.5"), timeout=10)
    assert feed.skipped == {"bad value": 1}
    idle = reader.idle
    reader.wait(lambda r: r.idle >= idle + 2)
    assert len(reader.batches) == 3  # still the warm-up's steps only


def test_binance_feed_unreadable_frames_are_counted_skipped_and_the_next_kline_delivered(
    reader: Reader, fake_binance: FakeBinance
) -> None:
    reader.wait(lambda r: len(r.batches) == 3 and r.idle > 0)
    kline = {"e": "kline", "E": 1, "s": "BTCUSDT"}
    for frame in (
        "<html>502 Bad Gateway</html>",
        {**kline, "k": {"i": "1m", "T": 1}},  # no open time
        {**kline, "k": "closed"},
        {"e": "markPriceUpdate", "E": 1, "s": "BTCUSDT", "p": "NaN"},
        {"e": "markPriceUpdate", "E": 1, "s": 42, "p": "1"},
        {"e": "aggTrade", "E": 1, "s": "BTCUSDT"},
    ):
        fake_binance.faults.send_market_frame(frame)
    push(fake_binance, "BTCUSDT", 5)
    push(fake_binance, "ETHUSDT", 5)
    reader.wait(lambda r: len(r.batches) == 4)
    assert opens(reader.batches)[3] == (5, SYMBOLS)
    feed = reader.feed
    assert feed.skipped == {"not JSON": 1, "missing field": 1, "wrong type": 2, "bad value": 1, "unknown event": 1}
    assert feed.stream.connections == 1 and feed.health() == ""


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_binance_feed_health_silent_without_klines_or_marks_and_disconnected_when_the_server_goes(
    fake_binance: FakeBinance,
) -> None:
    clock = ManualClock()
    feed = BinanceKlineFeed(
        ("BTCUSDT",),
        base_url=fake_binance.base_url,
        ws_url=fake_binance.ws_url,
        warmup=0,
        idle_s=0.05,
        reconnect_delay_s=0.05,
        silence_s=10,
        monotonic=clock,
        wall_ms=lambda: 1_700_000_000_000,
    )
    assert feed.health() == "market stream not running"
    r = Reader(feed)
    try:
        r.wait(lambda r: r.idle > 0)  # warmed up (nothing to warm up with) and live
        assert feed.health() == ""
        clock.now += 11
        assert feed.health() == "market stream silent for 11 s"
        fake_binance.set_price("BTCUSDT", "40000")  # a mark price: heard
        assert feed.stream.wait(lambda: feed.health() == "", 10)
        fake_binance.faults.mute_streams(user=False, market=True)
        fake_binance.set_price("BTCUSDT", "40001")  # lost on the muted connection
        clock.now += 11
        assert feed.health() == "market stream silent for 11 s"
        fake_binance.stop()
        assert feed.stream.wait(lambda: not feed.stream.connected.is_set(), 10)
        assert feed.health().startswith("market stream disconnected since 2023-11-14 22:13:20 UTC")
    finally:
        r.stop()
        feed.close()


def feed_with_block(fake: FakeBinance, kept: list[tuple[int, str]]) -> BinanceKlineFeed:
    return BinanceKlineFeed(
        SYMBOLS,
        base_url=fake.base_url,
        ws_url=fake.ws_url,
        warmup=3,
        idle_s=0.05,
        grace_s=30,
        reconnect_delay_s=0.2,
        load_block=lambda: kept[-1] if kept else None,
        save_block=lambda until_ms, why: kept.append((until_ms, why)),
    )


class Said(logging.Handler):
    """Sets `heard` when a log line containing `text` is emitted."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.heard, self.lines = text, threading.Event(), []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if self.text in record.getMessage():
            self.heard.set()


def test_binance_feed_sends_nothing_during_a_kept_ban_and_stops_cleanly(fake_binance: FakeBinance) -> None:
    kept = [(int(time.time() * 1000) + 120_000, "IP banned by the exchange (HTTP 418)")]  # the port kept it
    said = Said("no request until")
    feed_log = logging.getLogger("quantum_trader")
    feed_log.addHandler(said)
    reader = Reader(feed_with_block(fake_binance, kept))
    try:
        assert said.heard.wait(10), said.lines  # the feed says why it waits (its stream is open: not a REST request)
        assert any("IP banned by the exchange (HTTP 418); no request until" in line for line in said.lines)
        assert fake_binance.requests == []
    finally:
        feed_log.removeHandler(said)
        reader.feed.close()
        reader.stop()
    assert isinstance(reader.error, FeedError) and "stopped while waiting" in str(reader.error)


def test_binance_feed_keeps_a_ban_it_meets_and_waits_it_out(fake_binance: FakeBinance) -> None:
    for index in range(5):
        for symbol in SYMBOLS:
            push(fake_binance, symbol, index)
    kept: list[tuple[int, str]] = []
    fake_binance.faults.ban_next(1, path="/fapi/v1/klines")
    reader = Reader(feed_with_block(fake_binance, kept))
    try:
        reader.wait(lambda r: len(r.batches) == 3)  # the warm-up, once the ban is over
    finally:
        reader.stop()
    assert [why for _, why in kept] == ["IP banned by the exchange (HTTP 418)"]  # for the account's port too
    assert fake_binance.faults.during_ban == []  # nothing sent while it lasted
