"""Account endpoints of the fake: leverage, position mode, positionRisk v3, balance v3, account v2.

Shapes follow rest/position_risk.json, rest/balance.json and rest/account_info_v2.json.
"""

from __future__ import annotations

from typing import Any

from scripts.fake_binance.engine import Engine
from scripts.fake_binance.errors import ApiError
from scripts.fake_binance.shapes import fmt


def change_leverage(e: Engine, params: dict[str, str]) -> dict[str, Any]:
    symbol = e._symbol(params)
    leverage = int(params.get("leverage", "0"))
    if not 1 <= leverage <= 125:
        raise ApiError(400, -4028, f"Leverage {leverage} is not valid")
    e.leverage[symbol] = leverage
    return {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}


def change_position_mode(e: Engine, params: dict[str, str]) -> dict[str, Any]:
    dual = params.get("dualSidePosition") == "true"
    if dual == e.dual_side:
        raise ApiError(400, -4059, "No need to change position side.")
    e.dual_side = dual
    return {"code": 200, "msg": "success"}


def position_risk(e: Engine, params: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for symbol, (qty, entry) in sorted(e.positions.items()):
        if params.get("symbol") not in (None, symbol):
            continue
        mark = e.prices.get(symbol, entry)
        rows.append(
            {
                "symbol": symbol,
                "positionAmt": fmt(qty),
                "entryPrice": fmt(entry),
                "markPrice": fmt(mark),
                "unRealizedProfit": fmt(e.upnl(symbol), 8),
                "liquidationPrice": "0",
                "leverage": str(e.leverage.get(symbol, e.default_leverage)),
                "maxNotionalValue": "1000000",
                "marginType": "cross",
                "isolatedMargin": "0.00000000",
                "isAutoAddMargin": "false",
                "positionSide": "BOTH",
                "notional": fmt(qty * mark),
                "isolatedWallet": "0",
                "updateTime": e.now(),
                "breakEvenPrice": fmt(entry),
            }
        )
    return rows


def balance(e: Engine) -> list[dict[str, Any]]:
    return [
        {
            "accountAlias": "FkTr",
            "asset": "USDT",
            "balance": fmt(e.wallet, 8),
            "crossWalletBalance": fmt(e.wallet, 8),
            "crossUnPnl": fmt(e.total_upnl(), 8),
            "availableBalance": fmt(e.available(), 8),
            "maxWithdrawAmount": fmt(e.available(), 8),
            "marginAvailable": True,
            "updateTime": e.now(),
        }
    ]


def account(e: Engine) -> dict[str, Any]:
    wallet, upnl = e.wallet, e.total_upnl()
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
        "totalWalletBalance": fmt(wallet, 8),
        "totalUnrealizedProfit": fmt(upnl, 8),
        "totalMarginBalance": fmt(wallet + upnl, 8),
        "availableBalance": fmt(e.available(), 8),
        "maxWithdrawAmount": fmt(e.available(), 8),
        "assets": [
            {
                "asset": "USDT",
                "walletBalance": fmt(wallet, 8),
                "unrealizedProfit": fmt(upnl, 8),
                "marginBalance": fmt(wallet + upnl, 8),
                "availableBalance": fmt(e.available(), 8),
                "marginAvailable": True,
                "updateTime": e.now(),
            }
        ],
        "positions": position_risk(e, {}),
    }
