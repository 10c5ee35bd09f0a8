"""Run the fake server as a process: `python -m scripts.fake_binance --port N`.

Prints `PORT <n>` on one line when it accepts connections, then serves until
SIGINT/SIGTERM. Scripts drive prices through the same process with
`--price SYMBOL=PRICE` (initial prices).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from decimal import Decimal

from scripts.fake_binance.server import FakeBinance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.fake_binance", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--api-key", default="fake-api-key")
    parser.add_argument("--api-secret", default="fake-api-secret")
    parser.add_argument("--balance", default="10000", help="starting USDT wallet balance")
    parser.add_argument("--price", action="append", default=[], metavar="SYMBOL=PRICE")
    args = parser.parse_args(argv)
    server = FakeBinance(api_key=args.api_key, api_secret=args.api_secret, balance=Decimal(args.balance))
    server.start(args.port)
    for item in args.price:
        symbol, _, price = item.partition("=")
        server.set_price(symbol, Decimal(price))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print(f"PORT {server.port}", flush=True)
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
