"""The client-id salt: created with the database, so a new database never names an order as an old one did."""

from __future__ import annotations

import json
import re
from pathlib import Path

from actors.execution.loading import client_id_prefix
from config.sections import ExchangeSettings
from persistence.db import make_engine
from persistence.migrate import upgrade

BINANCE = ExchangeSettings(kind="binance")


def test_paper_account_ids_carry_no_salt(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'paper.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        assert client_id_prefix(connection, ExchangeSettings()) == "qt"  # a replay is the same run after run
    engine.dispose()


def _salt(path: Path) -> str:
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        value = connection.exec_driver_sql("SELECT value FROM service_state WHERE name = 'client-id-salt'").scalar()
    engine.dispose()
    return json.loads(value)


def test_new_database_gets_its_own_salt_in_every_client_id_prefix(tmp_path: Path) -> None:
    salts = []
    for name in ("a.db", "b.db"):
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        upgrade(engine)
        with engine.connect() as connection:
            prefix = client_id_prefix(connection, BINANCE)
        engine.dispose()
        assert re.fullmatch(r"qt[a-z0-9]{4}", prefix)
        salts.append(_salt(tmp_path / name))
    assert salts[0] != salts[1]


def test_database_that_sent_orders_before_the_salt_keeps_its_ids(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, "0002")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO positions (id, symbol, side, state, seq, client_order_id, quantity, filled_quantity, "
            "realized_pnl, fees, exit_mode, created_at, details) "
            "VALUES ('p-1', 'BTCUSDT', 'LONG', 'open', 1, 'qt-e-1-0', '1', '1', '0', '0', 'FAST_TP', 0, '{}')"
        )
        connection.exec_driver_sql(
            "INSERT INTO orders (position_id, client_order_id, purpose, side, type, quantity, reduce_only, status, "
            "filled_quantity, created_at, updated_at) "
            "VALUES ('p-1', 'qt-e-1-0', 'e', 'BUY', 'MARKET', '1', 0, 'FILLED', '1', 0, 0)"
        )
    upgrade(engine)
    with engine.connect() as connection:
        assert client_id_prefix(connection, BINANCE) == "qt"  # its orders may rest on the exchange under these ids
        assert client_id_prefix(connection, ExchangeSettings()) == "qt"
    engine.dispose()
