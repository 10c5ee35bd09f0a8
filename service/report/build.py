"""Building one run's report: the replay database read through `collect`, the metrics, what the runner knows.

Two identical runs give byte-identical `report.json` bodies apart from `generated_at`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import subprocess
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from actors.signals.loading import effective_params, load_strategies
from config.settings import Settings
from persistence.db import open_read_only, sqlite_path
from service.inspection import iso
from service.report.collect import ClosedTrade, RunData, collect, dumps, jsonable
from service.report.costs import cost_section
from service.report.metrics import EquityCurve, Metrics, compute_metrics
from service.report.strategies import strategy_section

SCHEMA = "quantum-trader/replay-report/1"
GENERATED_AT = "generated_at"  # the only field that may differ between two identical runs
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class InputFile:
    """One candle file as the runner read it; `rows` counts data rows, good and bad."""

    path: str
    symbol: str
    rows: int
    bad_rows: Mapping[str, int] = field(default_factory=dict)
    sha256: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """What the replay runner knows that the database does not. No wall-clock figures:
    they would make two identical runs differ (the writer takes them separately)."""

    label: str = "replay"
    inputs: tuple[InputFile, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)  # e.g. `settings_summary(settings)`
    candles_processed: int = 0
    bad_rows: Mapping[str, int] | None = None  # totals by kind; None: the sum over `inputs`
    period_from: int | None = None  # UTC ms, as asked with --from / --to
    period_to: int | None = None


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class Report:
    """One run's report; `to_json()` is what `report.json` holds."""

    label: str
    body: Mapping[str, Any]  # JSON-ready and deterministic; everything but `generated_at`
    generated_at: str
    metrics: Metrics
    equity: EquityCurve  # for the chart; too long for the JSON

    def to_dict(self) -> dict[str, Any]:
        return {**self.body, GENERATED_AT: self.generated_at}

    def to_json(self) -> str:
        return dumps(self.to_dict())


def build_report(db_url: str, *, run_info: RunInfo, generated_at: datetime | None = None) -> Report:
    """Read the finished replay database at `db_url` (read-only) into a report."""
    engine = open_read_only(db_url)
    try:
        data = collect(engine)
    finally:
        engine.dispose()
    metrics = compute_metrics(
        [trade.outcome() for trade in data.trades],
        data.equity,
        open_intervals=_still_open(data),
    )
    body = {
        "schema": SCHEMA,
        "label": run_info.label,
        "code_version": code_version(),
        "settings": jsonable(run_info.settings),
        "inputs": _inputs(run_info),
        "database": {
            "file": _database_name(db_url),
            "positions_by_state": dict(data.positions_by_state),
            "transitions": data.transitions,
            "policy_snapshots": data.policy_snapshots,
            "enforced_policy_snapshots": data.enforced_policy_snapshots,
            "equity_snapshots": len(data.equity.at),
        },
        "metrics": asdict(metrics),
        "gate_events": {
            "total": len(data.gate_events),
            "by_reason": [asdict(count) for count in data.gate_events_by_reason],
            "events": [
                {"at": iso(e.at), "from": e.source or None, "to": e.dest, "trigger": e.trigger, "reason": e.reason}
                for e in data.gate_events
            ],
        },
        "decisions": {
            "total": sum(data.decisions_by_reason.values()),
            "by_reason": dict(data.decisions_by_reason),
        },
        "strategies": strategy_section(data.strategies, run_info.settings),
        "costs": cost_section(data.slippage, data.costs_seen, data.filter_blocks, run_info.settings.get("symbols", ())),
        "exit_modes": {
            # A trade's mode is the one it closed under: the mode it opened with, or a more defensive one since.
            "trades_by_mode": dict(sorted(Counter(trade.exit_mode for trade in data.trades).items())),
            "changes": data.exit_mode_changes,
            "positions_changed": data.positions_changed_mode,
        },
        "protections": {name: asdict(count) for name, count in data.protections.items()},
        # Each limit the policy set, and the share of the run each of its values held (enforced policies only).
        "limits_in_force": dict(data.limits),
        "trades": [_trade_json(trade) for trade in data.trades],
    }
    stamp = (generated_at or datetime.now(UTC)).astimezone(UTC)
    return Report(
        label=run_info.label,
        body=jsonable(body),
        metrics=metrics,
        equity=data.equity,
        generated_at=stamp.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


def _still_open(data: RunData) -> list[tuple[int, int]]:
    end = max(data.equity.at) if data.equity.at else None
    return [] if end is None else [(opened, end) for opened in data.open_since]


def _inputs(run_info: RunInfo) -> dict[str, Any]:
    totals: Counter[str] = Counter()
    if run_info.bad_rows is None:
        for item in run_info.inputs:
            totals.update(item.bad_rows)
    else:
        totals.update(run_info.bad_rows)
    return {
        "files": [
            {
                "path": item.path,
                "symbol": item.symbol,
                "rows": item.rows,
                "sha256": item.sha256,
                "bad_rows": dict(sorted(item.bad_rows.items())),
                "bad_rows_total": sum(item.bad_rows.values()),
            }
            for item in run_info.inputs
        ],
        "rows": sum(item.rows for item in run_info.inputs),
        "bad_rows": dict(sorted(totals.items())),
        "bad_rows_total": sum(totals.values()),
        "candles_processed": run_info.candles_processed,
        "period": {"from": iso(run_info.period_from), "to": iso(run_info.period_to)},
    }


def _database_name(db_url: str) -> str:
    # The file name only: the replay's output folder differs between otherwise identical runs.
    path = sqlite_path(db_url)
    return path.name if path is not None else make_url(db_url).render_as_string(hide_password=True)


def _trade_json(trade: ClosedTrade) -> dict[str, Any]:
    return {
        "id": trade.id,
        "symbol": trade.symbol,
        "side": trade.side,
        "entry_price": trade.entry_price,
        "exit_price": trade.exit_price,
        "quantity": trade.quantity,
        "realized_pnl": trade.realized_pnl,
        "fees": trade.fees,
        "net_pnl": trade.net_pnl,
        "r_multiple": trade.r_multiple,
        "opened_at": iso(trade.opened_at),
        "closed_at": iso(trade.closed_at),
        "close_reason": trade.close_reason,
        "exit_mode": trade.exit_mode,
    }


@functools.cache
def code_version() -> dict[str, str]:
    """The installed package version and the git commit of the source tree, or "unknown"."""
    try:
        package = importlib.metadata.version("quantum-trader")
    except importlib.metadata.PackageNotFoundError:
        package = "unknown"
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=_REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        commit = result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {"package": package, "commit": commit}


def settings_summary(settings: Settings) -> dict[str, Any]:
    """The settings that decide a replay's outcome; the database URL and secrets left out
    (the first differs between identical runs, the second must never reach a report)."""
    flags = settings.orchestrator.flags
    return jsonable(
        {
            "profile": settings.risk.profile,
            "mode": flags.mode,
            "enable_orchestrator": flags.enable_orchestrator,
            "preset": settings.orchestrator.preset,
            "flags": flags.model_dump(mode="json"),
            "symbols": list(settings.symbols),
            "risk": settings.risk.model_dump(mode="json"),
            "profile_limits": settings.profile.model_dump(mode="json"),
            "exit_modes": {str(k): v.model_dump(mode="json") for k, v in settings.exit_modes.items()},
            "exchange": {
                "kind": settings.exchange.kind,
                "leverage": settings.exchange.leverage,
                "paper": settings.exchange.paper.model_dump(mode="json"),
            },
            "feed": {"kind": settings.feed.kind, "interval": settings.feed.interval},
            "strategies": [
                {"name": item.name, "spec": item.spec, "params": effective_params(item)}
                for item in load_strategies(settings)
            ],
            "strategy_budget_ms": settings.signals.strategy_budget_ms,
        }
    )
