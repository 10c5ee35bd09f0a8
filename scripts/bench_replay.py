"""Replay benchmark: the whole `quantum-trader replay` run, start to report written, through the full actor system.

Input: the real 45,031-row FTX BTC-PERP 1m file replicated to 10 symbols (450,310 candles).
The last line printed is one JSON object: {"replay_candles_per_s", "candles", "trades", "peak_rss_mb", ...}.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FTX = REPO.parent / "shared" / "data" / "candles" / "ftx_BTCPERP_1m_20211231-20220201.csv"
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


def replicate(directory: Path, symbols: int) -> list[Path]:
    text = FTX.read_text()
    paths = []
    for symbol in SYMBOLS[:symbols]:
        path = directory / f"bench_{symbol}_1m.csv"
        path.write_text(text)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10, choices=range(1, 11))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        files = replicate(directory, args.symbols)
        command = [
            sys.executable,
            "-c",
            "from service.cli import main; main()",
            "replay",
            "--out",
            str(directory / "out"),
        ]
        for path in files:
            command += ["--data", str(path)]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            raise SystemExit(f"replay failed with exit code {result.returncode}")
        report = json.loads((directory / "out" / "report.json").read_text())
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    candles = (
        report["inputs"]["candles_processed"] if "candles_processed" in report["inputs"] else 45_031 * args.symbols
    )
    trades = report["metrics"]["trades"]
    rate = candles / elapsed
    print(
        f"{candles:,} candles of {args.symbols} symbols, {trades:,} trades, in {elapsed:.1f}s "
        "(whole process, report included)"
    )
    print(f"throughput: {rate:,.0f} candles/s; peak RSS {rss_mb:.0f} MB")
    print(
        json.dumps(
            {
                "replay_candles_per_s": round(rate),
                "candles": candles,
                "trades": trades,
                "peak_rss_mb": round(rss_mb, 1),
                "elapsed_s": round(elapsed, 2),
                "symbols": args.symbols,
            }
        )
    )


if __name__ == "__main__":
    main()
