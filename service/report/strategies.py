"""The report's strategies: which ran with which parameters, and each one's signals, decisions, trades and faults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from persistence.strategy_records import StrategyFigures

COLUMNS = ("source", "signals", "accepted", "positions", "closed", "wins", "net PnL", "faults", "disabled")


def strategy_section(figures: Sequence[StrategyFigures], settings: Mapping[str, Any]) -> dict[str, Any]:
    """`ran`: the strategies in their order, each {name, spec, params} (from the run's settings summary);
    `by_source`: each strategy's figures (and the inbox's, and "(no signal)" for positions without one)."""
    return {"ran": list(settings.get("strategies", [])), "by_source": [f.as_dict() for f in figures]}


def strategy_rows(section: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            row["source"],
            row["signals"],
            row["accepted"],
            row["positions"],
            row["closed_trades"],
            row["wins"],
            row["net_pnl"],
            row["faults"],
            row["disabled"] or "",
        )
        for row in section.get("by_source", [])
    ]


def ran_line(section: Mapping[str, Any]) -> str:
    """ "builtin (fast=20, slow=50); ..." in the order they ran."""
    named = []
    for item in section.get("ran", []):
        shown = ", ".join(f"{key}={value}" for key, value in item["params"].items())
        named.append(f"{item['name']} [{item['spec']}] ({shown or 'no parameters'})")
    return "; ".join(named) or "none"
