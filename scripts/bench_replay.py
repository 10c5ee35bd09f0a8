"""Replay benchmark: the whole `quantum-trader replay` run, start to report written, through the full actor system.

    python scripts/bench_replay.py                          # the FTX month on 10 symbols (450,310 candles)
    python scripts/bench_replay.py --peer-data              # the synthetic year: 2 symbols x 525,600 candles
    python scripts/bench_replay.py --peer-data --candles 52560   # a tenth of it
    python scripts/bench_replay.py --base 196f8c6 --runs 3  # that commit and the working tree, run by run in turn
    python scripts/bench_replay.py --scaling                # the synthetic year and a tenth of it, side by side

Inputs: the real 45,031-row FTX BTC-PERP 1m file replicated to `--symbols` symbols, or (`--peer-data`) the
synthetic set the other engines were measured on, made by ../shared/data/gen_synthetic.py (SOURCES.md there).
Each replay is a process of its own; its figures are its own (peak RSS is the child's). With `--base`, the
revision is extracted into a temporary folder and run with PYTHONPATH pointing there; the two versions take
turns, so a change of the machine's load touches both alike. The last line printed is one JSON object:
{"replay_candles_per_s", "candles", "trades", "peak_rss_mb", "elapsed_s", ...}, medians over the runs, and with
`--base` the base's medians and `speedup`, the ratio of the median rates (working tree / base). With `--scaling`,
the working tree replays the synthetic set at `--candles` per symbol and at a tenth of that, in turn, and the line
holds each one's medians under "tenth" and "full" and `peak_rss_ratio` (full / tenth): a replay's memory should
not grow with its length.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.source_trees import WORKING_TREE, Source, check_imports_from, checkout, child_env

DATA = REPO.parent / "shared" / "data"
FTX = DATA / "candles" / "ftx_BTCPERP_1m_20211231-20220201.csv"
FTX_ROWS = 45_031
GENERATOR = DATA / "gen_synthetic.py"
PEER_CANDLES = 525_600  # per symbol: a year of minutes
SYMBOLS = (
    "BTCUSDT",
    "ETHUSDT",
    "SOLUSDT",
    "BNBUSDT",
    "XRPUSDT",
    "ADAUSDT",
    "DOGEUSDT",
    "LTCUSDT",
    "DOTUSDT",
    "LINKUSDT",
)


@dataclass(frozen=True, slots=True)
class Result:
    candles: int
    trades: int
    elapsed_s: float
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.candles / self.elapsed_s


def replicate(directory: Path, symbols: int) -> list[Path]:
    text = FTX.read_text()
    paths = []
    for symbol in SYMBOLS[:symbols]:
        path = directory / f"bench_{symbol}_1m.csv"
        path.write_text(text)
        paths.append(path)
    return paths


def generate(directory: Path, candles: int) -> list[Path]:
    """The synthetic set (two symbols), `candles` per symbol."""
    directory.mkdir()
    subprocess.run(
        [sys.executable, str(GENERATOR), str(directory), "--candles", str(candles)], check=True, capture_output=True
    )
    return sorted(directory.glob("*.csv"))


def replay(source: Source, files: list[Path], work: Path, expected: int) -> Result:
    """One `quantum-trader replay` of `files` from `source`'s tree, in a process of its own."""
    out, cwd = work / "out", work / "cwd"  # relative paths in the defaults land in `cwd`, not in the repository
    cwd.mkdir(parents=True)
    command = [sys.executable, "-c", "from service.cli import main; main()", "replay", "--out", str(out)]
    for path in files:
        command += ["--data", str(path)]
    log = work / "replay.log"
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=cwd, env=child_env(source), stdout=output, stderr=subprocess.STDOUT)
        # wait4, not wait: the child's own resource usage (RUSAGE_CHILDREN is the maximum over every run so far).
        _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-25:])
        raise SystemExit(f"{source.label}: replay failed with exit code {process.returncode}\n{tail}")
    report = json.loads((out / "report.json").read_text())
    return Result(
        candles=report["inputs"].get("candles_processed", expected),
        trades=report["metrics"]["trades"],
        elapsed_s=elapsed,
        peak_rss_mb=usage.ru_maxrss / 1024,
    )


def medians(results: list[Result]) -> dict[str, float | int]:
    return {
        "replay_candles_per_s": round(statistics.median(r.rate for r in results)),
        "candles": results[0].candles,
        "trades": results[0].trades,
        "peak_rss_mb": round(statistics.median(r.peak_rss_mb for r in results), 1),
        "elapsed_s": round(statistics.median(r.elapsed_s for r in results), 2),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=10, choices=range(1, 11), help="FTX month: symbols to replay")
    parser.add_argument("--peer-data", action="store_true", help="the synthetic 2-symbol year instead of the FTX month")
    parser.add_argument(
        "--candles", type=int, default=PEER_CANDLES, help=f"--peer-data: candles per symbol (default {PEER_CANDLES:,})"
    )
    parser.add_argument("--base", help="also run this git revision, in turn with the working tree (e.g. 196f8c6)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each version (medians are printed)")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="the synthetic set at --candles and at a tenth of it, side by side: peak RSS and its ratio",
    )
    args = parser.parse_args()
    if args.scaling and args.base:
        parser.error("--scaling runs the working tree only; leave out --base")
    return args


def scaling(args: argparse.Namespace, directory: Path) -> None:
    """The working tree on the synthetic set and on a tenth of it, in turn; peak RSS side by side."""
    sizes = {"tenth": args.candles // 10, "full": args.candles}
    files = {name: generate(directory / f"data-{name}", candles) for name, candles in sizes.items()}
    source = checkout(WORKING_TREE, directory / "src-new")
    check_imports_from(source, directory)
    results: dict[str, list[Result]] = {name: [] for name in sizes}
    for run in range(args.runs):
        for name, candles in sizes.items():
            result = replay(source, files[name], directory / f"{name}-{run}", 2 * candles)
            results[name].append(result)
            print(
                f"{name}: {result.candles:,} candles (synthetic, 2 symbols), {result.trades:,} trades, in "
                f"{result.elapsed_s:.1f}s: {result.rate:,.0f} candles/s; peak RSS {result.peak_rss_mb:.0f} MB",
                flush=True,
            )
    line: dict[str, object] = {name: medians(runs) for name, runs in results.items()}
    tenth, full = (statistics.median(r.peak_rss_mb for r in results[name]) for name in sizes)
    line["peak_rss_ratio"] = round(full / tenth, 3)
    line["runs"] = args.runs
    print(f"peak RSS: tenth {tenth:.1f} MB, full {full:.1f} MB, ratio {full / tenth:.3f}")
    print(json.dumps(line))


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="qt-bench-replay-") as tmp:
        directory = Path(tmp)
        if args.scaling:
            scaling(args, directory)
            return
        if args.peer_data:
            files, expected, what = generate(directory / "data", args.candles), 2 * args.candles, "synthetic, 2 symbols"
        else:
            files, expected, what = replicate(directory, args.symbols), FTX_ROWS * args.symbols, "FTX month"
        sources = {"new": checkout(WORKING_TREE, directory / "src-new")}
        if args.base:
            sources = {"base": checkout(args.base, directory / "src-base"), **sources}
        for source in sources.values():
            check_imports_from(source, directory)
        results: dict[str, list[Result]] = {side: [] for side in sources}
        for run in range(args.runs):
            for side, source in sources.items():
                result = replay(source, files, directory / f"{side}-{run}", expected)
                results[side].append(result)
                print(
                    f"{source.label}: {result.candles:,} candles ({what}), {result.trades:,} trades, in "
                    f"{result.elapsed_s:.1f}s: {result.rate:,.0f} candles/s; peak RSS {result.peak_rss_mb:.0f} MB",
                    flush=True,
                )
    new = medians(results["new"])
    line: dict[str, object] = {**new, "symbols": 2 if args.peer_data else args.symbols, "runs": args.runs}
    if args.base:
        base = medians(results["base"])
        line["base"] = {"revision": sources["base"].label, **base}
        line["speedup"] = round(new["replay_candles_per_s"] / base["replay_candles_per_s"], 2)
        print(f"median rate: {line['speedup']}x that of {sources['base'].label}")
    print(json.dumps(line))


if __name__ == "__main__":
    main()
