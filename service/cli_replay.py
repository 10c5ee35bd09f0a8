"""`quantum-trader replay`: the live actors over historical candles, and the report."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from actors.market_data.files import CandleFileError
from actors.signals.loading import StrategyError
from config import Settings
from persistence.db import DatabaseUnavailable, sqlite_path
from service import inspection
from service.cli_common import ConfigOption, clean_errors, console, errors, fail, settings_from
from service.logs import configure
from service.replay import ReplayRun, run_replay
from service.report import InputFile, Report, RunInfo, build_report, settings_summary, write_comparison, write_report


def replay(
    data: Annotated[
        list[Path],
        typer.Option(
            "--data",
            "-d",
            help="Candle file (CSV open_time_ms,open,high,low,close,volume or Binance kline JSON); "
            "repeat for more symbols.",
        ),
    ],
    start: Annotated[str | None, typer.Option("--from", help="Start time (ISO 8601 or epoch ms), inclusive.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End time (ISO 8601 or epoch ms), exclusive.")] = None,
    symbol: Annotated[
        list[str] | None,
        typer.Option("--symbol", help="Symbol of each --data file, in order (default: from the file name)."),
    ] = None,
    compare_baseline: Annotated[
        bool, typer.Option("--compare-baseline", help="Also run with the orchestrator disabled and compare.")
    ] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory: databases, reports, charts.")] = Path(
        "replay-out"
    ),
    db_url: Annotated[
        str | None,
        typer.Option(
            "--db-url",
            help="Write the run into this database instead of a SQLite file in --out (e.g. a new PostgreSQL "
            "schema: ...?options=-csearch_path%3D<schema>); it must hold no other run.",
        ),
    ] = None,
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            "--strategy",
            help="Run this strategy instead of the configured ones (builtin, module:Class, file.py:Class or an "
            "installed name); repeat for more.",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="A strategy parameter over the settings': NAME.KEY=VALUE; repeatable."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Replay historical candles through the live actors on virtual time, then write the report."""
    configure(json_lines=False, level=logging.ERROR)  # the report tells what happened; keep the progress bar clean
    with clean_errors():
        settings = settings_from(config)
        now = datetime.now(UTC)
        start_ms = inspection.parse_time(start, now) if start else None
        end_ms = inspection.parse_time(end, now) if end else None
        overrides = parse_params(param or ())
    if symbol and len(symbol) != len(data):
        fail(f"--symbol given {len(symbol)} time(s) for {len(data)} --data file(s): give one per file, or none")
    for path in data:
        if not path.is_file():
            fail(f"{path}: no such candle file")
    if db_url is not None and compare_baseline:
        fail("--db-url holds one run and --compare-baseline makes two: give one of them")
    labels = ("orchestrator", "baseline") if compare_baseline else ("replay",)
    reports: list[Report] = []
    for label in labels:
        try:
            run = _run(
                data,
                settings,
                out,
                label,
                symbol,
                start_ms,
                end_ms,
                orchestrator=label != "baseline",
                db_url=db_url,
                strategies=strategy or None,
                params=overrides,
            )
        except (CandleFileError, DatabaseUnavailable, StrategyError) as error:
            fail(str(error))
        reports.append(_report(run, start_ms, end_ms))
        if not compare_baseline:
            files = write_report(
                reports[0],
                out,
                timing={"elapsed_s": run.elapsed_s, "candles_per_s": run.candles / max(run.elapsed_s, 1e-9)},
            )
            _summary(reports)
            console.print(f"report: {files.markdown}, {files.json}, {files.png}; database: {_where(run)}")
            return
    files = write_comparison(reports[0], reports[1], out)
    _summary(reports)
    console.print(f"comparison: {files.markdown}, {files.json}, {files.png}; databases in {out}")


def _run(
    data: list[Path],
    settings: Settings,
    out: Path,
    label: str,
    symbols: Sequence[str | None] | None,
    start_ms: int | None,
    end_ms: int | None,
    *,
    orchestrator: bool,
    db_url: str | None,
    strategies: Sequence[str] | None,
    params: Mapping[str, Mapping[str, Any]],
) -> ReplayRun:
    with Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("candles"),
        TimeRemainingColumn(),
        console=errors,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            if done % 500 == 0 or done == total:
                progress.update(task, completed=done, total=total)

        run = run_replay(
            data,
            settings=settings,
            out_dir=out,
            label=label,
            symbols=symbols,
            start_ms=start_ms,
            end_ms=end_ms,
            orchestrator=orchestrator,
            progress=advance,
            db_url=db_url,
            strategies=strategies,
            params=params,
        )
        progress.update(task, completed=run.candles, total=run.candles)
    errors.print(
        f"{label}: {run.candles:,} candles in {run.elapsed_s:.1f}s ({run.candles / max(run.elapsed_s, 1e-9):,.0f}/s)"
    )
    return run


def _report(run: ReplayRun, start_ms: int | None, end_ms: int | None) -> Report:
    inputs = tuple(
        InputFile(
            path=Path(path).name,
            symbol=sym,
            rows=rows,
            bad_rows={
                **{k: v for k, v in run.bad_rows.get(sym, {}).items() if k != "accepted" and v},
                **({"unparseable": bad} if bad else {}),
            },
        )
        for path, sym, rows, bad in run.files
    )
    info = RunInfo(
        label=run.label,
        inputs=inputs,
        settings=settings_summary(run.settings),
        candles_processed=run.candles,
        period_from=start_ms,
        period_to=end_ms,
    )
    return build_report(run.db_url, run_info=info)


def parse_params(given: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`NAME.KEY=VALUE` options to {NAME: {KEY: VALUE}}; VALUE is read as JSON when it is (20, 0.5, true, "x"),
    else as the text given (the strategy's parameter model converts and checks it)."""
    params: dict[str, dict[str, Any]] = {}
    for item in given:
        target, equals, text = item.partition("=")
        name, dot, key = target.partition(".")
        if not (equals and dot and name and key):
            raise ValueError(f"--param {item!r}: write NAME.KEY=VALUE, e.g. sma_crossover.fast=20")
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text
        params.setdefault(name, {})[key] = value
    return params


def _where(run: ReplayRun) -> str:
    path = sqlite_path(run.db_url)
    return str(path) if path is not None else make_url(run.db_url).render_as_string(hide_password=True)


def _by_source(report: Report) -> str:
    """Each strategy's (and the inbox's) accepted signals, closed trades and net PnL."""
    return "; ".join(
        f"{row['source']}: {row['accepted']} accepted, {row['closed_trades']} trades, {float(row['net_pnl']):,.2f}"
        + (f", {row['faults']} fault(s)" if row["faults"] else "")
        for row in report.body["strategies"]["by_source"]
    )


def _summary(reports: list[Report]) -> None:
    table = Table(title="replay")
    table.add_column("")
    for report in reports:
        table.add_column(report.label, justify="right")
    rows = [
        ("trades", lambda r: str(r.metrics.trades)),
        ("win rate", lambda r: f"{r.metrics.win_rate:.1%}"),
        ("net PnL", lambda r: f"{r.metrics.net_pnl:,.2f}"),
        ("max drawdown", lambda r: f"{r.metrics.max_drawdown:,.2f} ({r.metrics.max_drawdown_pct:.2f}%)"),
        ("Sharpe", lambda r: f"{r.metrics.sharpe:.2f}"),
        ("gate events", lambda r: str(r.body["gate_events"]["total"])),
        ("decisions", lambda r: ", ".join(f"{k} {v}" for k, v in sorted(r.body["decisions"]["by_reason"].items()))),
        ("by source", _by_source),
    ]
    for name, cell in rows:
        table.add_row(name, *(cell(r) for r in reports))
    console.print(table)
