"""Two runs side by side (the orchestrator enabled, and a baseline): comparison.md, .json and .png, with each run's
own report beside them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from service.report.build import Report
from service.report.chart import plot_equity
from service.report.collect import dumps, jsonable
from service.report.markdown import METRIC_ROWS, cell, flatten, format_value, in_force, table
from service.report.protections import LABELS
from service.report.render import WrittenFiles, write_report

COMPARISON_SCHEMA = "quantum-trader/replay-comparison/1"


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
    settings = {name: flatten(run["settings"]) for name, run in runs.items()}
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
            f"- {name}: {run['label']}, {in_force(run['settings'])}; code {run['code_version']['package']} "
            f"@ {run['code_version']['commit']}; report in `{run['report']}`"
            for name, run in runs.items()
        ),
        "",
        "## Results",
        "",
        *table(
            ("metric", *head, "difference"),
            [
                (
                    label,
                    format_value(data["metrics"][key]["enabled"], kind),
                    format_value(data["metrics"][key]["baseline"], kind),
                    format_value(data["metrics"][key]["difference"], kind),
                )
                for key, label, kind in METRIC_ROWS
            ],
        ),
        "",
        *_exit_modes_comparison(runs, head),
        "",
        "## Gate events by reason",
        "",
        *table(
            ("trigger", "reason", *head),
            [(g["trigger"], g["reason"], g["enabled"], g["baseline"]) for g in data["gate_events_by_reason"]],
        ),
        "",
        "## Decisions by reason",
        "",
        *table(("reason", *head), [(r, c["enabled"], c["baseline"]) for r, c in data["decisions_by_reason"].items()]),
        "",
        "## Protections beyond the day (engaged / signals blocked)",
        "",
        *table(
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
        *table(
            ("setting", *head),
            [(k, cell(v["enabled"]), cell(v["baseline"])) for k, v in data["settings_differences"].items()],
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
    return ["## Exit modes", "", *table(("", *head), rows)]


def _difference(a: Any, b: Any) -> Any:
    numeric = (int, float)
    if isinstance(a, numeric) and isinstance(b, numeric) and not isinstance(a, bool) and not isinstance(b, bool):
        return a - b
    return None
