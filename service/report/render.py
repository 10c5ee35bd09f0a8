"""Writers: Markdown, JSON and the equity-curve PNG, for one run or a pair side by side.

The charts use matplotlib's Agg canvas directly (no pyplot): no display, no global
figure state, safe in a service process or a test run. matplotlib is imported when a
chart is drawn: the commands that only read the report's tables (`status`) do without
its 20 MB.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.report.build import Report
from service.report.collect import dumps, jsonable
from service.report.costs import COST_COLUMNS, costs_caps_line, costs_rows
from service.report.metrics import EquityCurve
from service.report.protections import LABELS
from service.report.strategies import COLUMNS as STRATEGY_COLUMNS
from service.report.strategies import ran_line, strategy_rows

COMPARISON_SCHEMA = "quantum-trader/replay-comparison/1"
MARKDOWN_TRADES = 100  # the full list is in the JSON; a Markdown page of 10,000 rows helps nobody
PLOT_POINTS = 4000  # beyond this the curve is reduced to per-bucket min/max: same picture, fast


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


def write_comparison(enabled: Report, baseline: Report, out_dir: Path | str) -> WrittenFiles:
    """`comparison.md/.json/.png` for the pair, and each run's own files in `enabled/` and `baseline/`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_report(enabled, out / "enabled")
    write_report(baseline, out / "baseline")
    files = WrittenFiles(markdown=out / "comparison.md", json=out / "comparison.json", png=out / "comparison.png")
    data = comparison_data(enabled, baseline)
    files.json.write_text(dumps(data), encoding="utf-8")
    files.markdown.write_text(render_comparison_markdown(data, chart=files.png.name), encoding="utf-8")
    plot_equity(
        [(f"{enabled.label} (enabled)", enabled.equity), (f"{baseline.label} (baseline)", baseline.equity)],
        files.png,
        title="Equity: orchestrator enabled vs baseline",
    )
    return files


# --- one run ---

_METRICS: tuple[tuple[str, str, str], ...] = (
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


def render_markdown(report: Report, *, chart: str = "equity.png") -> str:
    data = report.to_dict()
    inputs, metrics, version = data["inputs"], data["metrics"], data["code_version"]
    lines = [
        f"# Replay report: {report.label}",
        "",
        f"- Generated at: {data['generated_at']}",
        f"- Code version: quantum-trader {version['package']}, commit {version['commit']}",
        f"- In force: {_in_force(data['settings'])}",
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
        *_table(
            ("file", "symbol", "rows", "bad rows"),
            [(f["path"], f["symbol"], f["rows"], _counts(f["bad_rows"])) for f in inputs["files"]],
        ),
        "",
        f"Bad rows by kind: {_counts(inputs['bad_rows'])} (total {inputs['bad_rows_total']})",
        "",
        "## Results",
        "",
        *_table(("metric", "value"), [(label, _format(metrics[key], kind)) for key, label, kind in _METRICS]),
        "",
        "## Gate events by reason",
        "",
        *_table(
            ("trigger", "reason", "count"),
            [(g["trigger"], g["reason"], g["count"]) for g in data["gate_events"]["by_reason"]],
        ),
        "",
        "## Decisions by reason",
        "",
        *_table(("reason", "count"), sorted(data["decisions"]["by_reason"].items())),
        "",
        "## Strategies",
        "",
        f"Ran: {ran_line(data.get('strategies', {}))}",
        "",
        *_table(STRATEGY_COLUMNS, strategy_rows(data.get("strategies", {}))),
        "",
        *_costs_section(data.get("costs")),
        "## Protections beyond the day",
        "",
        *_protections_table(data["protections"]),
        "",
        "## Positions by state",
        "",
        *_table(("state", "count"), sorted(data["database"]["positions_by_state"].items())),
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
        *_table(("setting", "value"), sorted(_flatten(data["settings"]).items())),
    ]
    return "\n".join(lines) + "\n"


def _costs_section(costs: Mapping[str, Any] | None) -> list[str]:
    """Spread and slippage by symbol; nothing for a report without them."""
    if not costs:
        return []
    return ["## Costs by symbol", "", costs_caps_line(costs), "", *_table(COST_COLUMNS, costs_rows(costs)), ""]


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
        *_table(("exit mode closed under", "trades"), sorted(modes["trades_by_mode"].items())),
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
    return ["", "## Limits in force over time", "", *_table(("limit", "values (share of the run)", "changes"), rows)]


def _protections_table(protections: Mapping[str, Any]) -> list[str]:
    rows = []
    for name, count in protections.items():
        by_symbol = f" ({_counts(count['by_symbol'])})" if count.get("by_symbol") else ""
        rows.append((LABELS.get(name, name), f"{count['engaged']}{by_symbol}", count["signals_blocked"]))
    return _table(("protection", "engaged", "signals blocked"), rows)


def _in_force(settings: Mapping[str, Any]) -> str:
    keys = ("profile", "mode", "enable_orchestrator", "preset")
    shown = [f"{key} {settings[key]}" for key in keys if key in settings]
    return ", ".join(shown) or "not recorded"


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
        *_table(
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


# --- two runs ---


def comparison_data(enabled: Report, baseline: Report) -> dict[str, Any]:
    """The pair as deterministic JSON data; `generated_at` is the later of the two reports'."""
    runs = {"enabled": enabled.to_dict(), "baseline": baseline.to_dict()}
    metrics = {
        key: {
            "enabled": runs["enabled"]["metrics"][key],
            "baseline": runs["baseline"]["metrics"][key],
            "difference": _difference(runs["enabled"]["metrics"][key], runs["baseline"]["metrics"][key]),
        }
        for key in runs["enabled"]["metrics"]
    }
    gate_keys = sorted({(g["trigger"], g["reason"]) for run in runs.values() for g in run["gate_events"]["by_reason"]})
    gate_counts = {
        name: {(g["trigger"], g["reason"]): g["count"] for g in run["gate_events"]["by_reason"]}
        for name, run in runs.items()
    }
    reasons = sorted({r for run in runs.values() for r in run["decisions"]["by_reason"]})
    settings = {name: _flatten(run["settings"]) for name, run in runs.items()}
    return jsonable(
        {
            "schema": COMPARISON_SCHEMA,
            "generated_at": max(enabled.generated_at, baseline.generated_at),
            "runs": {
                name: {
                    "label": run["label"],
                    "report": f"{name}/report.json",
                    "code_version": run["code_version"],
                    "inputs": run["inputs"],
                    "settings": run["settings"],
                    "gate_events_total": run["gate_events"]["total"],
                    "decisions_total": run["decisions"]["total"],
                    "policy_snapshots": run["database"]["policy_snapshots"],
                    "exit_modes": run.get("exit_modes"),
                }
                for name, run in runs.items()
            },
            "metrics": metrics,
            "gate_events_by_reason": [
                {
                    "trigger": trigger,
                    "reason": reason,
                    **{name: gate_counts[name].get((trigger, reason), 0) for name in runs},
                }
                for trigger, reason in gate_keys
            ],
            "decisions_by_reason": {
                reason: {name: run["decisions"]["by_reason"].get(reason, 0) for name, run in runs.items()}
                for reason in reasons
            },
            "protections": {
                protection: {name: run["protections"][protection] for name, run in runs.items()}
                for protection in runs["enabled"]["protections"]
            },
            "settings_differences": {
                key: {name: settings[name].get(key) for name in runs}
                for key in sorted(set(settings["enabled"]) | set(settings["baseline"]))
                if settings["enabled"].get(key) != settings["baseline"].get(key)
            },
        }
    )


def render_comparison_markdown(data: Mapping[str, Any], *, chart: str = "comparison.png") -> str:
    runs = data["runs"]
    head = (f"enabled: {runs['enabled']['label']}", f"baseline: {runs['baseline']['label']}")
    lines = [
        "# Replay comparison: orchestrator enabled vs baseline",
        "",
        f"- Generated at: {data['generated_at']}",
        *(
            f"- {name}: {run['label']}, {_in_force(run['settings'])}; code {run['code_version']['package']} "
            f"@ {run['code_version']['commit']}; report in `{run['report']}`"
            for name, run in runs.items()
        ),
        "",
        "## Results",
        "",
        *_table(
            ("metric", *head, "difference"),
            [
                (
                    label,
                    _format(data["metrics"][key]["enabled"], kind),
                    _format(data["metrics"][key]["baseline"], kind),
                    _format(data["metrics"][key]["difference"], kind),
                )
                for key, label, kind in _METRICS
            ],
        ),
        "",
        *_exit_modes_comparison(runs, head),
        "",
        "## Gate events by reason",
        "",
        *_table(
            ("trigger", "reason", *head),
            [(g["trigger"], g["reason"], g["enabled"], g["baseline"]) for g in data["gate_events_by_reason"]],
        ),
        "",
        "## Decisions by reason",
        "",
        *_table(("reason", *head), [(r, c["enabled"], c["baseline"]) for r, c in data["decisions_by_reason"].items()]),
        "",
        "## Protections beyond the day (engaged / signals blocked)",
        "",
        *_table(
            ("protection", *head),
            [
                (
                    LABELS.get(p, p),
                    *(f"{c[run]['engaged']} / {c[run]['signals_blocked']}" for run in ("enabled", "baseline")),
                )
                for p, c in data["protections"].items()
            ],
        ),
        "",
        "## Equity",
        "",
        f"![Equity curves]({chart})",
        "",
        "## Settings that differ",
        "",
        *_table(
            ("setting", *head),
            [(k, _cell(v["enabled"]), _cell(v["baseline"])) for k, v in data["settings_differences"].items()],
        ),
    ]
    return "\n".join(lines) + "\n"


def _exit_modes_comparison(runs: Mapping[str, Any], head: Sequence[str]) -> list[str]:
    modes = {name: run.get("exit_modes") or {} for name, run in runs.items()}
    names = sorted({mode for run in modes.values() for mode in run.get("trades_by_mode", {})})
    rows = [
        (f"trades closed under {mode}", *(run.get("trades_by_mode", {}).get(mode, 0) for run in modes.values()))
        for mode in names
    ]
    rows.append(("mode changes applied to open positions", *(run.get("changes", 0) for run in modes.values())))
    rows.append(("open positions that changed mode", *(run.get("positions_changed", 0) for run in modes.values())))
    return ["## Exit modes", "", *_table(("", *head), rows)]


def _difference(a: Any, b: Any) -> Any:
    numeric = (int, float)
    if isinstance(a, numeric) and isinstance(b, numeric) and not isinstance(a, bool) and not isinstance(b, bool):
        return a - b
    return None


# --- the chart ---


def plot_equity(curves: Iterable[tuple[str, EquityCurve]], path: Path, *, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    plotted = 0
    for label, curve in curves:
        if not curve.at:
            continue
        at, values = decimate(np.asarray(curve.at, dtype=np.int64), np.asarray(curve.equity, dtype=np.float64))
        axes.plot(at.astype("datetime64[ms]"), values, label=label, linewidth=1.0)
        plotted += 1
    if plotted == 0:
        axes.text(0.5, 0.5, "no equity snapshots", ha="center", va="center", transform=axes.transAxes)
    else:
        axes.legend(loc="best")
    axes.set_title(title)
    axes.set_xlabel("time (UTC)")
    axes.set_ylabel("equity (USDT)")
    axes.grid(True, alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    # No "Software" entry: the file then depends on the data only, not on the matplotlib build.
    figure.savefig(path, format="png", metadata={"Software": None})


def decimate(at: np.ndarray, values: np.ndarray, limit: int = PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most `limit` points, keeping each bucket's low and high so drawdowns stay visible."""
    if at.size <= limit:
        return at, values
    edges = np.linspace(0, at.size, limit // 2 + 1).astype(np.int64)
    keep: list[int] = []
    for start, end in itertools.pairwise(edges):
        if end > start:
            low, high = start + int(np.argmin(values[start:end])), start + int(np.argmax(values[start:end]))
            keep.extend(sorted({low, high}))
    keep[-1:] = sorted({keep[-1], at.size - 1})  # the curve ends where the run ended
    index = np.asarray(keep, dtype=np.int64)
    return at[index], values[index]


# --- Markdown pieces ---

_FORMATS: dict[str, Callable[[Any], str]] = {
    "int": lambda v: f"{v:d}" if isinstance(v, int) else f"{v:.0f}",
    "money": lambda v: f"{v:,.2f}",
    "pct": lambda v: f"{v:.2f}%",
    "ratio_pct": lambda v: f"{v * 100:.2f}%",
    "num": lambda v: f"{v:.3f}",
}


def _format(value: Any, kind: str) -> str:
    return "n/a" if value is None else _FORMATS[kind](value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    body = [f"| {' | '.join(_cell(value) for value in row)} |" for row in rows]
    if not body:
        return ["(none)"]
    return [f"| {' | '.join(header)} |", f"|{'|'.join(' --- ' for _ in header)}|", *body]


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items())) or "none"


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = dumps(value).strip() if isinstance(value, list | Mapping) else value
    return flat
