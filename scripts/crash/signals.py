"""The signal inbox (JSON lines) the service reads: seeded random signals, none on a quarantined symbol."""

from __future__ import annotations

import json
import random
from pathlib import Path

from scripts.crash.scenario import SYMBOLS


class SignalInbox:
    def __init__(self, path: Path, seed: int, rng: random.Random, quarantined: set[str]) -> None:
        self.path, self.seed, self.rng, self.quarantined = path, seed, rng, quarantined
        self.count = 0
        path.touch()

    def add(self, count: int) -> None:
        lines = []
        for _ in range(count):
            self.count += 1
            symbols = [s for s in SYMBOLS if s not in self.quarantined] or list(SYMBOLS)
            lines.append(
                json.dumps(
                    {
                        "id": f"crash-{self.seed}-{self.count}",
                        "symbol": self.rng.choice(symbols),
                        "side": self.rng.choice(("LONG", "SHORT")),
                        "confidence": round(self.rng.uniform(0.62, 0.95), 2),
                    }
                )
                + "\n"
            )
        with self.path.open("a") as handle:
            handle.write("".join(lines))
