"""Shared fixtures: real SQLite files in a temporary directory, migrated to head; a fresh PostgreSQL schema."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import Store
from scripts.pg_schema import LOCAL_URL, create_schema, drop_schema, in_schema
from scripts.service_process import command

pytest_plugins = ["scripts.fake_binance.fixtures"]  # the fake Binance server as a fixture, `fake_binance`

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "qt.db"


@pytest.fixture
def engine(db_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> Iterator[Store]:
    store = Store(engine)
    yield store
    store.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a new, empty schema on the local PostgreSQL server; dropped with all it holds after the test."""
    try:
        schema = create_schema(LOCAL_URL)
    except OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 (scripts/test.sh starts it): {error.orig}")
    yield in_schema(LOCAL_URL, schema)
    drop_schema(LOCAL_URL, schema)


FTX_MONTH = SHARED_DATA / "candles" / "ftx_BTCPERP_1m_20211231-20220201.csv"


@pytest.fixture(scope="session")
def ftx_comparison(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`quantum-trader replay --compare-baseline` over the FTX month, once for the whole run (two replays of 45,031
    candles): its output directory (`enabled/`, `baseline/`, `orchestrator.db`, ...)."""
    # A process of its own: the command configures logging as a command does, which in this process would take the
    # log records away from the tests that read them (caplog).
    out = tmp_path_factory.mktemp("ftx")
    args = ("replay", "--data", str(FTX_MONTH), "--compare-baseline", "--out", str(out))
    result = subprocess.run(command(*args), capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database on each backend in turn: a SQLite file, then a PostgreSQL schema (`pg_url`)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qt.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def position_values(index: int, symbol: str = "BTCUSDT") -> dict[str, Any]:
    """The columns of a new position row, as the execution actor writes them."""
    return {
        "id": f"pos-{index}",
        "symbol": symbol,
        "side": "LONG",
        "client_order_id": f"qt-e-{index}",
        "quantity": Decimal("0.010"),
        "filled_quantity": Decimal("0"),
        "entry_price": None,
        "exit_price": None,
        "stop_price": None,
        "take_profit_price": None,
        "realized_pnl": Decimal("0"),
        "fees": Decimal("0"),
        "exit_mode": "FAST_TP",
        "signal_id": None,
        "close_reason": None,
        "opened_at": None,
        "closed_at": None,
        "details": "{}",
    }


@pytest.fixture(autouse=True)
def _stop_all_actors() -> Iterator[None]:
    """No actor outlives its test, whatever the test did."""
    yield
    import pykka

    pykka.ActorRegistry.stop_all()
