"""The fake Binance server against the real payload samples: every event and answer, key by key.

Needs ../shared/data/binance. The fake is driven by the real python-binance client
and read by a plain WebSocket client on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException
from websockets.sync.client import ClientConnection, connect

from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET, needs_shared_data
from scripts.fake_binance.server import SHARED_DATA, FakeBinance

pytestmark = needs_shared_data
SAMPLES = SHARED_DATA / "binance"


def sample(relative: str) -> Any:
    data = json.loads((SAMPLES / relative).read_text())
    return data["data"] if isinstance(data, dict) and "stream" in data else data


def assert_same_shape(actual: Any, expected: Any, where: str = "$") -> None:
    """Same keys at every level and the same JSON type per value (null stands in for an empty string)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert list(actual) == list(expected) or set(actual) == set(expected), (
            f"{where}: extra {set(actual) - set(expected)}, missing {set(expected) - set(actual)}"
        )
        for key in expected:
            assert_same_shape(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), where
        if expected and actual:
            assert_same_shape(actual[0], expected[0], f"{where}[0]")
    elif expected is None or actual is None:
        assert expected is None or actual is None or isinstance(actual, str) or isinstance(expected, str), where
    else:
        assert type(actual) is type(expected), f"{where}: {type(actual).__name__} != {type(expected).__name__}"


@pytest.fixture
def client(fake_binance: FakeBinance) -> Client:
    c = Client(TEST_KEY, TEST_SECRET, ping=False)
    c.FUTURES_URL = fake_binance.futures_url
    fake_binance.set_price("BTCUSDT", "40000")
    return c


@pytest.fixture
def user_ws(fake_binance: FakeBinance, client: Client) -> Iterator[ClientConnection]:
    key = client.futures_stream_get_listen_key()
    with connect(f"{fake_binance.ws_url}ws/{key}") as ws:
        assert fake_binance.wait_user_stream_connects(1)
        yield ws


def receive(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [json.loads(ws.recv(timeout=5)) for _ in range(count)]


def by_kind(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        status = e["o"]["x"] if e["e"] == "ORDER_TRADE_UPDATE" else e["o"]["X"] if e["e"] == "ALGO_UPDATE" else ""
        out.setdefault(f"{e['e']}:{status}", []).append(e)
    return out


def test_fake_order_trade_update_new_trade_and_account_update_match_samples(client: Client, user_ws) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="e1")
    events = by_kind(receive(user_ws, 3))
    assert_same_shape(
        events["ORDER_TRADE_UPDATE:NEW"][0], sample("user_stream/futures_order_update_new_reduce_only_qty.json")
    )
    trade = events["ORDER_TRADE_UPDATE:TRADE"][0]
    assert_same_shape(trade, sample("user_stream/futures_order_update_trade_reduce_only_qty.json"))
    assert (trade["o"]["c"], trade["o"]["X"], trade["o"]["l"], trade["o"]["L"]) == ("e1", "FILLED", "0.010", "40000.00")
    account = events["ACCOUNT_UPDATE:"][0]
    assert_same_shape(account, sample("user_stream/account_update.json"))
    assert account["a"]["P"][0]["pa"] == "0.01" and account["a"]["P"][0]["ps"] == "BOTH"


def test_fake_algo_update_lifecycle_matches_samples(fake_binance: FakeBinance, client: Client, user_ws) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="e1")
    receive(user_ws, 3)
    client.futures_create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_MARKET",
        quantity="0.010",
        clientAlgoId="sl1",
        stopPrice="39000",
        reduceOnly="true",
    )
    client.futures_create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="TAKE_PROFIT_MARKET",
        quantity="0.010",
        clientAlgoId="tp1",
        stopPrice="41000",
        reduceOnly="true",
    )
    new = receive(user_ws, 2)
    assert_same_shape(new[0], sample("user_stream/algo_update_new.json"))
    fake_binance.set_price("BTCUSDT", "38000")
    # TRIGGERING, TRIGGERED, NEW, TRADE, ACCOUNT_UPDATE, EXPIRED (the take-profit), FINISHED
    events = by_kind(receive(user_ws, 7))
    assert_same_shape(events["ALGO_UPDATE:TRIGGERING"][0], sample("user_stream/futures_algo_update_triggering.json"))
    assert_same_shape(events["ALGO_UPDATE:TRIGGERED"][0], sample("user_stream/futures_algo_update_triggered.json"))
    finished = events["ALGO_UPDATE:FINISHED"][0]
    assert_same_shape(finished, sample("user_stream/futures_algo_update_finished.json"))
    assert (finished["o"]["caid"], finished["o"]["aq"], finished["o"]["ap"]) == ("sl1", "0.01", "38000.00000")
    assert_same_shape(events["ALGO_UPDATE:EXPIRED"][0], sample("user_stream/algo_update_canceled.json"))
    trade = events["ORDER_TRADE_UPDATE:TRADE"][0]["o"]
    assert trade["i"] == int(finished["o"]["ai"]) and trade["ot"] == "STOP_MARKET" and trade["sp"] == "39000.00"


def test_fake_algo_cancel_matches_sample(client: Client, user_ws) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="e1")
    receive(user_ws, 3)
    client.futures_create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_MARKET",
        quantity="0.010",
        clientAlgoId="sl1",
        stopPrice="39000",
        reduceOnly="true",
    )
    receive(user_ws, 1)
    assert client.futures_cancel_order(symbol="BTCUSDT", clientAlgoId="sl1")["msg"] == "success"
    canceled = receive(user_ws, 1)[0]
    assert_same_shape(canceled, sample("user_stream/algo_update_canceled.json"))
    assert canceled["o"]["X"] == "CANCELED"


def test_fake_liquidation_matches_sample(fake_binance: FakeBinance, client: Client, user_ws) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="e1")
    receive(user_ws, 3)
    fake_binance.faults.liquidate("BTCUSDT", Decimal("30000"))
    liquidation = receive(user_ws, 1)[0]
    assert_same_shape(liquidation, sample("user_stream/futures_order_update_liquidation.json"))
    assert liquidation["o"]["x"] == "CALCULATED" and liquidation["o"]["c"].startswith("autoclose-")


def test_fake_market_streams_kline_and_mark_price_match_samples(fake_binance: FakeBinance) -> None:
    url = f"{fake_binance.ws_url}stream?streams=btcusdt@kline_1m/btcusdt@markPrice@1s"
    with connect(url) as ws:
        fake_binance.set_price("BTCUSDT", "40000")
        mark = json.loads(ws.recv(timeout=5))
        assert mark["stream"] == "btcusdt@markPrice@1s"  # the name subscribed to, as Binance echoes it
        assert_same_shape(mark["data"], sample("market_stream/mark_price_stream.json"))
        fake_binance.push_candle(
            "BTCUSDT",
            open_time=1_700_000_000_000,
            open="40000",
            high="40100",
            low="39900",
            close="40050",
            volume="12.5",
        )
        messages = [json.loads(ws.recv(timeout=5)) for _ in range(2)]
    kline = next(m["data"] for m in messages if m["data"]["e"] == "kline")
    assert_same_shape(kline, sample("market_stream/kline_stream_closed.json"))
    assert kline["k"]["x"] is True and kline["k"]["c"] == "40050" and kline["k"]["T"] == 1_700_000_059_999


def test_fake_market_stream_book_ticker_matches_the_real_capture(fake_binance: FakeBinance) -> None:
    url = f"{fake_binance.ws_url}market/stream?streams=btcusdt@bookTicker"
    with connect(url) as ws:
        fake_binance.set_book("BTCUSDT", "61800.2", "61800.3", bid_qty="2.507", ask_qty="2.51")
        message = json.loads(ws.recv(timeout=5))
    assert message["stream"] == "btcusdt@bookTicker"
    # The real 2024 capture's keys (the documentation's sample adds "st" and "ps", which Binance no longer sends).
    first = (SAMPLES / "ws_capture_excerpts" / "excerpt_bookTicker.jsonl").read_text().splitlines()[0]
    real = json.loads(first[first.index("{") :])["data"]
    assert_same_shape(message["data"], real)
    assert (message["data"]["b"], message["data"]["a"], message["data"]["A"]) == ("61800.2", "61800.3", "2.51")


def test_fake_rest_answers_match_samples(fake_binance: FakeBinance, client: Client) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="e1")
    client.futures_create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_MARKET",
        quantity="0.010",
        clientAlgoId="sl1",
        stopPrice="39000",
        reduceOnly="true",
    )
    assert_same_shape(
        client.futures_get_order(symbol="BTCUSDT", origClientOrderId="e1"), sample("rest/order_response.json")
    )
    algo = client.futures_get_open_orders(symbol="BTCUSDT", conditional=True)[0]
    assert set(sample("rest/open_algo_orders.json")[0]) <= set(algo)
    assert_same_shape(
        {k: algo[k] for k in sample("rest/open_algo_orders.json")[0]}, sample("rest/open_algo_orders.json")[0]
    )
    assert_same_shape(client.futures_position_information(), sample("rest/position_risk.json"))
    assert_same_shape(client.futures_account_balance(), sample("rest/balance.json"))
    assert_same_shape(client.futures_mark_price(symbol="BTCUSDT"), sample("rest/futures_market_premium_index.json"))
    fake_binance.push_candle("BTCUSDT", open_time=1_700_000_000_000, open="1", high="2", low="1", close="2")
    assert_same_shape(client.futures_klines(symbol="BTCUSDT", interval="1m"), sample("rest/futures_market_klines.json"))
    info = client.futures_exchange_info()
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT", "BTCUSDT_220325"]


def test_fake_signature_key_and_timestamp_are_checked(fake_binance: FakeBinance, client: Client) -> None:
    wrong_secret = Client(TEST_KEY, "not-the-secret", ping=False)
    wrong_secret.FUTURES_URL = fake_binance.futures_url
    with pytest.raises(BinanceAPIException) as bad_sig:
        wrong_secret.futures_account_balance()
    assert (bad_sig.value.code, bad_sig.value.status_code) == (-1022, 400)
    wrong_key = Client("someone-else", TEST_SECRET, ping=False)
    wrong_key.FUTURES_URL = fake_binance.futures_url
    with pytest.raises(BinanceAPIException) as bad_key:
        wrong_key.futures_account_balance()
    assert (bad_key.value.code, bad_key.value.status_code) == (-2015, 401)
    no_key = requests.post(f"{fake_binance.futures_url}/v1/listenKey", timeout=5)
    assert (no_key.status_code, no_key.json()["code"]) == (401, -2014)
    client.timestamp_offset = -20_000  # 20 s behind: outside the 10 s recvWindow python-binance sends
    with pytest.raises(BinanceAPIException) as stale:
        client.futures_account_balance()
    assert stale.value.code == -1021
    client.timestamp_offset = 2_000  # ahead of the server by more than 1 s
    with pytest.raises(BinanceAPIException) as ahead:
        client.futures_account_balance()
    assert ahead.value.code == -1021
    client.timestamp_offset = 0
    assert client.futures_account_balance()[0]["asset"] == "USDT"


def test_fake_counts_every_client_order_id_received(fake_binance: FakeBinance, client: Client) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="e1")
    with pytest.raises(BinanceAPIException) as dup:
        client.futures_create_order(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="e1"
        )
    assert dup.value.code == -4116
    assert fake_binance.client_order_id_counts() == {"e1": 2}
    assert fake_binance.duplicate_client_order_ids() == {"e1": 2}


def test_fake_standalone_process_prints_port(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.fake_binance", "--port", "0", "--price", "BTCUSDT=40000"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        assert line[0] == "PORT"
        answer = requests.get(f"http://127.0.0.1:{line[1]}/fapi/v1/premiumIndex?symbol=BTCUSDT", timeout=5).json()
        assert answer["markPrice"] == "40000.00000000"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_fake_ban_refuses_every_request_until_it_ends_and_records_them(
    client: Client, fake_binance: FakeBinance
) -> None:
    fake_binance.faults.ban_next(60, path="/fapi/v3/positionRisk")
    with pytest.raises(BinanceAPIException) as first:
        client.futures_position_information()
    assert first.value.status_code == 418
    with pytest.raises(BinanceAPIException) as second:
        client.futures_account_balance()  # another endpoint: the ban is the IP's
    assert second.value.status_code == 418 and "banned until" in second.value.message
    assert [(method, path) for _, method, path in fake_binance.faults.during_ban] == [("GET", "/fapi/v3/balance")]
    fake_binance.faults.lift_ban()
    assert client.futures_account_balance()
