"""Markdown pieces the report pages share: the metrics rows with their labels and formats, tables, cells, the
settings flattened to dotted names and the line that says what was in force."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from service.report.collect import dumps

METRIC_ROWS: tuple[tuple[str, str, str], ...] = (
    ("trades", "Closed trades", "int"),
    ("wins", "Wins", "int"),
    ("losses", "Losses", "int"),
    ("breakeven", "Break-even", "int"),
    ("win_rate", "Win rate", "ratio_pct"),
    ("gross_pnl", "Gross PnL", "money"),
    ("fees", "Fees", "money"),
    ("net_pnl", "Net PnL", "money"),
    ("average_win", "Average win (net)", "money"),
    ("average_loss", "Average loss (net)", "money"),
    ("average_r", "Average R", "num"),
    ("trades_with_r", "Trades with a known R", "int"),
    ("profit_factor", "Profit factor", "num"),
    ("start_equity", "Start equity", "money"),
    ("end_equity", "End equity", "money"),
    ("return_pct", "Return", "pct"),
    ("max_drawdown", "Max drawdown", "money"),
    ("max_drawdown_pct", "Max drawdown %", "pct"),
    ("sharpe", "Sharpe (daily, x sqrt 365)", "num"),
    ("sharpe_days", "Days in Sharpe", "int"),
    ("exposure_pct", "Time in market", "pct"),
)


FORMATS: dict[str, Callable[[Any], str]] = {
    "int": lambda v: f"{v:d}" if isinstance(v, int) else f"{v:.0f}",
    "money": lambda v: f"{v:,.2f}",
    "pct": lambda v: f"{v:.2f}%",
    "ratio_pct": lambda v: f"{v * 100:.2f}%",
    "num": lambda v: f"{v:.3f}",
}


def format_value(value: Any, kind: str) -> str:
    return "n/a" if value is None else FORMATS[kind](value)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    body = [f"| {' | '.join(cell(value) for value in row)} |" for row in rows]
    if not body:
        return ["(none)"]
    return [f"| {' | '.join(header)} |", f"|{'|'.join(' --- ' for _ in header)}|", *body]


def counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items())) or "none"


def cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def in_force(settings: Mapping[str, Any]) -> str:
    keys = ("profile", "mode", "enable_orchestrator", "preset")
    shown = [f"{key} {settings[key]}" for key in keys if key in settings]
    return ", ".join(shown) or "not recorded"


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = dumps(value).strip() if isinstance(value, list | Mapping) else value
    return flat
