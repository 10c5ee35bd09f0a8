"""Replay the same candles with two versions of the code and compare their report.json files.

    python scripts/compare_replay.py                  # 196f8c6 (before the issue 9 refactor) against the working tree
    python scripts/compare_replay.py --new HEAD       # ... against the last commit instead
    python scripts/compare_replay.py --with-baseline  # also the run with the orchestrator off, and comparison.json

A refactor must not change what the service does: both versions replay the FTX BTC-PERP month and
BTCUSDT 1h + ETHUSDT 1h from ../shared/data, and every field of their reports must be equal apart
from `generated_at` and `code_version`. Each version runs from its own source tree (a revision is
extracted with `git archive` into a temporary folder) with this interpreter and PYTHONPATH pointing
at that tree, so both use the same installed libraries. Outputs go to a temporary folder
(`--keep` keeps it). Exit code 0: identical; 1: a report differs; 2: a replay failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.source_trees import WORKING_TREE, Source, check_imports_from, checkout, child_env

DEFAULT_BASE = "196f8c6"  # the commit before the issue 9 refactor
DATASETS: dict[str, tuple[str, ...]] = {
    "ftx-btcperp-1m": ("candles/ftx_BTCPERP_1m_20211231-20220201.csv",),
    "btcusdt-ethusdt-1h": (
        "candles/binance_BTCUSDT_1h_20180407-20180428.csv",
        "candles/binance_ETHUSDT_1h_20180624-20180716.csv",
    ),
}
# Differ between two runs of the same code, or between two versions that behave the same; at any depth,
# so comparison.json's copies of the runs' code versions are left out too.
IGNORED_KEYS = frozenset({"generated_at", "code_version"})
MAX_SHOWN = 30  # differences printed per file

_print_lock = threading.Lock()


@dataclass(frozen=True)
class Run:
    source: Source
    dataset: str
    out: Path
    log: Path


class ReplayFailed(Exception):
    pass


def say(message: str) -> None:
    with _print_lock:
        print(message, flush=True)


def replay(run: Run, data_dir: Path, *, with_baseline: bool) -> float:
    """Run `quantum-trader replay` from the run's source tree; the seconds it took."""
    command = [sys.executable, "-c", "from service.cli import main; main()", "replay", "--out", str(run.out)]
    for name in DATASETS[run.dataset]:
        command += ["--data", str(data_dir / name)]
    if with_baseline:
        command.append("--compare-baseline")
    cwd = run.out.parent / f"{run.out.name}.cwd"  # relative paths in the defaults land here, not in the repository
    cwd.mkdir(parents=True)
    started = time.monotonic()
    with run.log.open("w") as log:
        result = subprocess.run(command, cwd=cwd, env=child_env(run.source), stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = "\n".join(run.log.read_text().splitlines()[-25:])
        raise ReplayFailed(f"{run.source.label} {run.dataset}: replay exited with {result.returncode}\n{tail}")
    return time.monotonic() - started


def candles_line(log: Path) -> str:
    """The replay's own "N candles in Xs" lines, for the progress output."""
    lines = [line.split(": ", 1)[-1].strip() for line in log.read_text().splitlines() if " candles in " in line]
    return "; ".join(lines)


def report_files(*, with_baseline: bool) -> tuple[str, ...]:
    if with_baseline:
        return ("enabled/report.json", "baseline/report.json", "comparison.json")
    return ("report.json",)


def normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: normalized(item) for key, item in value.items() if key not in IGNORED_KEYS}
    if isinstance(value, list):
        return [normalized(item) for item in value]
    return value


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar with its path (`trades[3].exit_price`), in document order."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def differences(base: Any, new: Any, base_label: str, new_label: str) -> list[str]:
    old_leaves, new_leaves = dict(leaves(normalized(base))), dict(leaves(normalized(new)))
    lines = []
    for path in dict.fromkeys([*old_leaves, *new_leaves]):
        if path not in new_leaves:
            lines.append(f"{path}: {old_leaves[path]!r} only in {base_label}")
        elif path not in old_leaves:
            lines.append(f"{path}: {new_leaves[path]!r} only in {new_label}")
        elif old_leaves[path] != new_leaves[path]:
            lines.append(f"{path}: {old_leaves[path]!r} ({base_label}) != {new_leaves[path]!r} ({new_label})")
    return lines


def compare(dataset: str, base: Run, new: Run, *, with_baseline: bool) -> bool:
    identical = True
    for name in report_files(with_baseline=with_baseline):
        found = [(run.out / name).is_file() for run in (base, new)]
        if not all(found):
            missing = [run.source.label for run, ok in zip((base, new), found, strict=True) if not ok]
            say(f"{dataset} {name}: DIFFERENT: no such file from {', '.join(missing)}")
            identical = False
            continue
        old_data, new_data = (json.loads((run.out / name).read_text()) for run in (base, new))
        lines = differences(old_data, new_data, base.source.label, new.source.label)
        if not lines:
            say(f"{dataset} {name}: identical")
            continue
        identical = False
        say(f"{dataset} {name}: DIFFERENT in {len(lines)} field(s):")
        for line in lines[:MAX_SHOWN]:
            say(f"    {line}")
        if len(lines) > MAX_SHOWN:
            say(f"    ... and {len(lines) - MAX_SHOWN} more")
    return identical


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--base", default=DEFAULT_BASE, help=f"git revision to compare against (default {DEFAULT_BASE})"
    )
    parser.add_argument(
        "--new", default=WORKING_TREE, help="git revision to compare, or '.' for the working tree (default)"
    )
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data", help="../shared/data")
    parser.add_argument(
        "--dataset", action="append", choices=sorted(DATASETS), help="only this data set (repeatable; default all)"
    )
    parser.add_argument(
        "--with-baseline", action="store_true", help="replay with --compare-baseline and compare all its reports"
    )
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="replays at once")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder with the outputs and logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    datasets = args.dataset or list(DATASETS)
    for dataset in datasets:
        for name in DATASETS[dataset]:
            if not (args.data_dir / name).is_file():
                raise SystemExit(f"{args.data_dir / name}: no such file (see ../shared/data/SOURCES.md)")
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="qt-compare-replay-"))
    try:
        base = checkout(args.base, work / "src-base")
        new = checkout(args.new, work / "src-new")
        for source in (base, new):
            check_imports_from(source, work)
        say(f"comparing {base.label} with {new.label} on {', '.join(datasets)}; outputs in {work}")
        runs = {
            (side, dataset): Run(
                source=source, dataset=dataset, out=work / side / dataset, log=work / side / f"{dataset}.log"
            )
            for dataset in datasets
            for side, source in (("base", base), ("new", new))
        }

        def one(run: Run) -> None:
            say(f"  {run.source.label} {run.dataset}: replaying")
            seconds = replay(run, args.data_dir, with_baseline=args.with_baseline)
            say(f"  {run.source.label} {run.dataset}: done in {seconds:.1f}s ({candles_line(run.log)})")

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(one, run) for run in runs.values()]
            failures = [str(error) for future in futures if (error := future.exception()) is not None]
        if failures:
            for failure in failures:
                say(f"FAILED {failure}")
            return 2
        results = [
            compare(dataset, runs["base", dataset], runs["new", dataset], with_baseline=args.with_baseline)
            for dataset in datasets
        ]
        verdict = "identical" if all(results) else "DIFFERENT"
        say(f"{verdict} ({time.monotonic() - started:.0f}s)")
        return 0 if all(results) else 1
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
