"""One run's report files: report.md, report.json and equity.png (a pair side by side: `comparison.py`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.report.build import Report
from service.report.chart import plot_equity
from service.report.collect import dumps, jsonable
from service.report.costs import COST_COLUMNS, costs_caps_line, costs_rows
from service.report.markdown import METRIC_ROWS, counts, flatten, format_value, in_force, table
from service.report.protections import LABELS
from service.report.strategies import COLUMNS as STRATEGY_COLUMNS
from service.report.strategies import ran_line, strategy_rows

MARKDOWN_TRADES = 100  # the full list is in the JSON; a Markdown page of 10,000 rows helps nobody


@dataclass(frozen=True, slots=True, kw_only=True)
class WrittenFiles:
    markdown: Path
    json: Path
    png: Path
    timing: Path | None = None


def write_report(report: Report, out_dir: Path | str, *, timing: Mapping[str, float] | None = None) -> WrittenFiles:
    """`report.md`, `report.json`, `equity.png` in `out_dir`; wall-clock figures, if given,
    go to `timing.json` so that `report.json` stays identical between identical runs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = WrittenFiles(
        markdown=out / "report.md",
        json=out / "report.json",
        png=out / "equity.png",
        timing=out / "timing.json" if timing is not None else None,
    )
    files.json.write_text(report.to_json(), encoding="utf-8")
    files.markdown.write_text(render_markdown(report, chart=files.png.name), encoding="utf-8")
    plot_equity([(report.label, report.equity)], files.png, title=f"Equity: {report.label}")
    if files.timing is not None and timing is not None:
        files.timing.write_text(dumps(jsonable(dict(timing))), encoding="utf-8")
    return files


# --- one run ---


def render_markdown(report: Report, *, chart: str = "equity.png") -> str:
    data = report.to_dict()
    inputs, metrics, version = data["inputs"], data["metrics"], data["code_version"]
    lines = [
        f"# Replay report: {report.label}",
        "",
        f"- Generated at: {data['generated_at']}",
        f"- Code version: quantum-trader {version['package']}, commit {version['commit']}",
        f"- In force: {in_force(data['settings'])}",
        (
            f"- Candles processed: {inputs['candles_processed']}; period: "
            f"{inputs['period']['from'] or 'start of data'} to {inputs['period']['to'] or 'end of data'}"
        ),
        (
            f"- Database: {data['database']['file']} ({data['database']['transitions']} transitions, "
            f"{data['database']['policy_snapshots']} policy snapshots)"
        ),
        "",
        "## Inputs",
        "",
        *table(
            ("file", "symbol", "rows", "bad rows"),
            [(f["path"], f["symbol"], f["rows"], counts(f["bad_rows"])) for f in inputs["files"]],
        ),
        "",
        f"Bad rows by kind: {counts(inputs['bad_rows'])} (total {inputs['bad_rows_total']})",
        "",
        "## Results",
        "",
        *table(("metric", "value"), [(label, format_value(metrics[key], kind)) for key, label, kind in METRIC_ROWS]),
        "",
        "## Gate events by reason",
        "",
        *table(
            ("trigger", "reason", "count"),
            [(g["trigger"], g["reason"], g["count"]) for g in data["gate_events"]["by_reason"]],
        ),
        "",
        "## Decisions by reason",
        "",
        *table(("reason", "count"), sorted(data["decisions"]["by_reason"].items())),
        "",
        "## Strategies",
        "",
        f"Ran: {ran_line(data.get('strategies', {}))}",
        "",
        *table(STRATEGY_COLUMNS, strategy_rows(data.get("strategies", {}))),
        "",
        *_costs_section(data.get("costs")),
        "## Protections beyond the day",
        "",
        *_protections_table(data["protections"]),
        "",
        "## Positions by state",
        "",
        *table(("state", "count"), sorted(data["database"]["positions_by_state"].items())),
        "",
        *_exit_modes_section(data.get("exit_modes")),
        *_limits_section(data.get("limits_in_force")),
        "",
        *_trades_section(data["trades"]),
        "",
        "## Equity",
        "",
        f"![Equity curve]({chart})",
        "",
        "## Settings",
        "",
        *table(("setting", "value"), sorted(flatten(data["settings"]).items())),
    ]
    return "\n".join(lines) + "\n"


def _costs_section(costs: Mapping[str, Any] | None) -> list[str]:
    """Spread and slippage by symbol; nothing for a report without them."""
    if not costs:
        return []
    return ["## Costs by symbol", "", costs_caps_line(costs), "", *table(COST_COLUMNS, costs_rows(costs)), ""]


def _exit_modes_section(modes: Mapping[str, Any] | None) -> list[str]:
    if modes is None:  # a report written before the modes were counted
        return ["## Exit modes", "", "not recorded"]
    return [
        "## Exit modes",
        "",
        (
            f"More defensive modes applied to open positions: {modes['changes']} change(s) on "
            f"{modes['positions_changed']} position(s)."
        ),
        "",
        *table(("exit mode closed under", "trades"), sorted(modes["trades_by_mode"].items())),
    ]


def _limits_section(limits: Mapping[str, Any] | None) -> list[str]:
    """Each limit the policy set and the share of the run each value held; the static settings without one."""
    if limits is None:  # a report written before the limits were counted
        return []
    if not limits:
        return ["", "## Limits in force over time", "", "No policy was enforced: the static settings held throughout."]
    rows = [
        (
            name,
            ", ".join(f"{value} {share:.0%}" for value, share in limit["values"].items()),
            limit["changes"],
        )
        for name, limit in limits.items()
    ]
    return ["", "## Limits in force over time", "", *table(("limit", "values (share of the run)", "changes"), rows)]


def _protections_table(protections: Mapping[str, Any]) -> list[str]:
    rows = []
    for name, count in protections.items():
        by_symbol = f" ({counts(count['by_symbol'])})" if count.get("by_symbol") else ""
        rows.append((LABELS.get(name, name), f"{count['engaged']}{by_symbol}", count["signals_blocked"]))
    return table(("protection", "engaged", "signals blocked"), rows)


def _trades_section(trades: Sequence[Mapping[str, Any]]) -> list[str]:
    shown = trades[:MARKDOWN_TRADES]
    title = (
        f"## Trades ({len(trades)})"
        if len(trades) == len(shown)
        else f"## Trades (first {len(shown)} of {len(trades)}; all in the JSON)"
    )
    return [
        title,
        "",
        *table(
            (
                "id",
                "symbol",
                "side",
                "entry",
                "exit",
                "quantity",
                "net PnL",
                "fees",
                "opened",
                "closed",
                "exit mode",
                "close reason",
            ),
            [
                (
                    t["id"],
                    t["symbol"],
                    t["side"],
                    t["entry_price"],
                    t["exit_price"],
                    t["quantity"],
                    t["net_pnl"],
                    t["fees"],
                    t["opened_at"],
                    t["closed_at"],
                    t["exit_mode"],
                    t["close_reason"],
                )
                for t in shown
            ],
        ),
    ]
